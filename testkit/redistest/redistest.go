// Package redistest starts a real redis-server for tests: on a free loopback port, with a
// password, without persistence, stopped when the test ends; with TLS (certificates made
// in the test) and a Sentinel when asked.
//
// It is one of finauth's test kits (testkit/), for the project's own tests: importable,
// but not part of the API, and changed without notice.
package redistest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	Addr      string // 127.0.0.1:port
	Password  string
	CAFile    string // with StartTLS: the PEM of the CA that signed the server's certificate
	t         testing.TB
	cmd       *exec.Cmd
	exited    chan error // cmd's Wait
	started   bool       // answered once: a restart keeps its port
	dir       string
	tlsArgs   []string
	extraArgs []string
}

// URL is the server's redis:// URL (rediss:// with TLS), password included.
func (s *Server) URL() string {
	scheme := "redis"
	if s.CAFile != "" {
		scheme = "rediss"
	}
	return scheme + "://:" + s.Password + "@" + s.Addr + "/0"
}

// Start starts redis-server. Without it on PATH the test is skipped with a message saying
// how to install it, except under CI=true, where its absence fails the test.
func Start(t testing.TB) *Server {
	t.Helper()
	s := newServer(t)
	s.start()
	t.Cleanup(s.Kill)
	return s
}

func newServer(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed; CI must install it (apt-get install -y redis-server)")
		}
		t.Skip("redis-server is not installed (apt-get install -y redis-server); skipping the tests that need a real Redis")
	}
	return &Server{Password: fmt.Sprint("test-", time.Now().UnixNano()), t: t, dir: t.TempDir(), Addr: freeAddr(t)}
}

// freeAddr returns a loopback address with a port free a moment ago, and whose cluster bus
// port (the port + 10000, which a cluster node binds too) was free as well.
func freeAddr(t testing.TB) string {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		l.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return fmt.Sprintf("127.0.0.1:%d", port)
	}
	t.Fatal("no loopback port with a free cluster bus port in 50 tries")
	return ""
}

// start starts the server. A port free when it was picked can be taken before redis-server
// binds it (by another test's process, or the cluster bus port): the first start then
// moves to another free port, up to four times (a failover test's cluster once failed so:
// "bind: Address already in use"); a restart keeps its port.
func (s *Server) start() {
	s.t.Helper()
	for attempt := 1; ; attempt++ {
		exited := s.startOnce()
		if exited == nil {
			return
		}
		log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		if s.started || attempt == 5 || !strings.Contains(string(log), "Address already in use") {
			s.t.Fatalf("redis-server on %s did not answer within 10 s (%v):\n%s", s.Addr, exited, log)
		}
		os.Remove(filepath.Join(s.dir, "redis.log"))
		s.Addr = freeAddr(s.t)
	}
}

// startOnce starts redis-server on s.Addr and waits for it to answer; it returns nil once it
// does, or why it did not (it exited, or 10 s passed).
func (s *Server) startOnce() error {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	args := []string{"--port", port, "--bind", "127.0.0.1", "--requirepass", s.Password,
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log")}
	args = append(args, s.extraArgs...)
	var tc *tls.Config
	if s.tlsArgs != nil {
		args = append(append(args[:0:0], "--port", "0", "--tls-port", port), args[2:]...)
		args = append(args, s.tlsArgs...)
		tc = &tls.Config{InsecureSkipVerify: true} // only to see that it answers
	}
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(10 * time.Second)
	for !ping(s.Addr, s.Password, tc) {
		select {
		case err := <-exited:
			s.cmd = nil
			return fmt.Errorf("it exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("no answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.started = true
	return nil
}

// ping sends AUTH (when password is set) and PING over a raw connection.
func ping(addr, password string, tc *tls.Config) bool {
	d := &net.Dialer{Timeout: time.Second}
	var c net.Conn
	var err error
	if tc != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tc)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	r := bufio.NewReader(c)
	if password != "" {
		fmt.Fprintf(c, "AUTH %s\r\n", password)
		if a, _ := r.ReadString('\n'); !strings.HasPrefix(a, "+OK") {
			return false
		}
	}
	fmt.Fprint(c, "PING\r\n")
	p, _ := r.ReadString('\n')
	return strings.HasPrefix(p, "+PONG")
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.exited
		s.cmd = nil
	}
}

// Restart starts the server again on the same port (empty: no persistence).
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}
