package main

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/signer"
)

// foreign is a TCP listener that counts the connections made to it: no byte may reach it.
func foreign(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var conns atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	return "http://" + l.Addr().String(), &conns
}

// call and load never send credentials to an origin that was not configured: naming a URL
// on the command line does not add its origin. Exit 2, naming the flag and the variable,
// and not one connection to the other origin.
func TestCLI_NoCredentialsToAnOriginNotConfigured(t *testing.T) {
	t.Parallel()
	pm := newPismoMock(t)
	key, _ := signer.LoadKeyFile(keys + "test-ec-p256-pkcs8.pem")
	sm, err := soldomock.NewServer(soldomock.Config{Members: map[string][]*signer.PublicKey{"m:1": {key.Public().WithKeyID("ec-1")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	other, conns := foreign(t)
	soldoEnv := map[string]string{"SOLDO_API_URL": sm.URL, "SOLDO_PRIVATE_KEY_FILE": keys + "test-ec-p256-pkcs8.pem", "SOLDO_KEY_ID": "ec-1", "SOLDO_MEMBER_ID": "m:1"}
	for _, c := range []struct {
		name     string
		env      map[string]string
		args     []string
		variable string
	}{
		{"pismo call, default origin", pismoEnv(pm), []string{"call", other + "/steal"}, "PISMO_API_URL"},
		{"pismo load, default origin", pismoEnv(pm), []string{"load", "-n", "5", other + "/steal"}, "PISMO_API_URL"},
		{"pismo call, --api-url set", pismoEnv(pm), []string{"call", "--api-url", pm.URL, other + "/steal"}, "PISMO_API_URL"},
		{"soldo call", soldoEnv, []string{"call", "--profile", "soldo", "-X", "POST", "--data", "x", other + "/steal"}, "SOLDO_API_URL"},
		{"soldo load", soldoEnv, []string{"load", "--profile", "soldo", "-n", "5", other + "/steal"}, "SOLDO_API_URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := finauth(t, c.env, "", c.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "--api-url") || !strings.Contains(r.stderr, c.variable) || !strings.Contains(r.stderr, "nothing was sent") {
				t.Fatalf("%+v", r)
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("the other origin got %d connections", n)
	}
}
