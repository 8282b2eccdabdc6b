// Package redistest starts a real redis-server for tests: on a free loopback port, with a
// password, without persistence, stopped when the test ends.
package redistest

import (
	"bufio"
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
	Addr     string // 127.0.0.1:port
	Password string
	t        testing.TB
	cmd      *exec.Cmd
	dir      string
}

// URL is the server's redis:// URL, password included.
func (s *Server) URL() string { return "redis://:" + s.Password + "@" + s.Addr + "/0" }

// Start starts redis-server. Without it on PATH the test is skipped with a message saying
// how to install it, except under CI=true, where its absence fails the test.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed; CI must install it (apt-get install -y redis-server)")
		}
		t.Skip("redis-server is not installed (apt-get install -y redis-server); skipping the tests that need a real Redis")
	}
	s := &Server{Password: "test-" + fmt.Sprint(time.Now().UnixNano()), t: t, dir: t.TempDir()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	l.Close()
	s.start()
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--requirepass", s.Password,
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s.ping() {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.t.Fatalf("redis-server on %s did not answer within 10 s:\n%s", s.Addr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends AUTH and PING over a raw connection.
func (s *Server) ping() bool {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "AUTH %s\r\nPING\r\n", s.Password)
	r := bufio.NewReader(c)
	a, _ := r.ReadString('\n')
	p, _ := r.ReadString('\n')
	return strings.HasPrefix(a, "+OK") && strings.HasPrefix(p, "+PONG")
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
