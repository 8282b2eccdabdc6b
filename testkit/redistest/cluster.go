package redistest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StartCluster starts a Redis Cluster of three masters (no replicas), all with one password,
// and returns their addresses.
func StartCluster(t testing.TB) (addrs []string, password string) {
	t.Helper()
	var nodes []*Server
	for range 3 {
		s := newServer(t)
		s.extraArgs = []string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf"), "--masterauth", s.Password}
		nodes = append(nodes, s)
	}
	password = nodes[0].Password
	for _, s := range nodes {
		s.Password = password
		s.extraArgs[len(s.extraArgs)-1] = password
		s.start()
		t.Cleanup(s.Kill)
		addrs = append(addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes", "-a", password, "--no-auth-warning")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// The cluster is usable once every node reports cluster_state:ok.
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		for {
			out, _ := exec.Command("redis-cli", "-h", host, "-p", port, "-a", password, "--no-auth-warning", "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(nodes[0].dir, "redis.log"))
				t.Fatalf("the cluster did not become ready within 20 s:\n%s\n%s", out, log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs, password
}
