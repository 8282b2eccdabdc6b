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

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (s *Server) start() {
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
	s.cmd = exec.Command("redis-server", args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !ping(s.Addr, s.Password, tc) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.t.Fatalf("redis-server on %s did not answer within 10 s:\n%s", s.Addr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again on the same port (empty: no persistence).
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}
