package redistest

import (
	"net"
	"testing"
)

// A port taken between its pick and redis-server's bind (another test's process took it): the
// first start moves to another port instead of failing the test (a cluster failover test
// failed so in a loaded run: "bind: Address already in use").
func TestStart_APortTakenMeanwhileMovesToAnother(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s := newServer(t)
	s.Addr = taken.Addr().String()
	s.start()
	t.Cleanup(s.Kill)
	if s.Addr == taken.Addr().String() || !ping(s.Addr, s.Password, nil) {
		t.Fatalf("the server is on %s (the taken port is %s)", s.Addr, taken.Addr())
	}
}
