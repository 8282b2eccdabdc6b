package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SentinelGroup is a master, its replica and three sentinels watching them, for failover
// tests: kill the master and the sentinels promote the replica.
type SentinelGroup struct {
	Master, Replica *Server
	Sentinels       []string // the sentinels' addresses
	MasterName      string   // "mymaster"
	Password        string   // the data nodes' (the sentinels ask for none)
	t               testing.TB
}

// URL is the group's redis+sentinel:// URL, as redisstore reads it.
func (g *SentinelGroup) URL() string {
	return "redis+sentinel://:" + g.Password + "@" + strings.Join(g.Sentinels, ",") + "/" + g.MasterName
}

// StartSentinelGroup starts a master, a replica of it and three sentinels (quorum 2) that
// declare the master down after downAfter without an answer and then fail over.
func StartSentinelGroup(t testing.TB, downAfter time.Duration) *SentinelGroup {
	t.Helper()
	master := Start(t)
	replica := newServer(t)
	replica.Password = master.Password
	mhost, mport, _ := net.SplitHostPort(master.Addr)
	replica.extraArgs = []string{"--replicaof", mhost, mport, "--masterauth", master.Password}
	replica.start()
	t.Cleanup(replica.Kill)
	g := &SentinelGroup{Master: master, Replica: replica, MasterName: "mymaster", Password: master.Password, t: t}
	// The replica is in sync before the sentinels look, so that they know it.
	waitFor(t, 10*time.Second, "the replica's first sync", func() bool {
		return strings.Contains(info(replica.Addr, master.Password, "replication"), "master_link_status:up")
	})
	for i := range 3 {
		addr := freeAddr(t)
		_, port, _ := net.SplitHostPort(addr)
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf("port %s\nbind 127.0.0.1\nsentinel monitor mymaster %s %s 2\nsentinel auth-pass mymaster %s\n"+
			"sentinel down-after-milliseconds mymaster %d\nsentinel failover-timeout mymaster 10000\nsentinel parallel-syncs mymaster 1\nlogfile %s\n",
			port, mhost, mport, master.Password, downAfter.Milliseconds(), filepath.Join(dir, "sentinel.log"))
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("redis-server", conf, "--sentinel")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitFor(t, 10*time.Second, fmt.Sprint("sentinel ", i+1), func() bool { return ping(addr, "", nil) })
		g.Sentinels = append(g.Sentinels, addr)
	}
	// Every sentinel knows the replica and the other sentinels before a test kills anything.
	for _, s := range g.Sentinels {
		waitFor(t, 15*time.Second, "the sentinels to see each other and the replica", func() bool {
			out := redisCLI(s, "", "sentinel", "master", "mymaster")
			return fieldAfter(out, "num-slaves") == "1" && fieldAfter(out, "num-other-sentinels") == "2"
		})
	}
	return g
}

// MasterAddr is the master's address as the first sentinel answering tells it.
func (g *SentinelGroup) MasterAddr() string {
	for _, s := range g.Sentinels {
		out := strings.Fields(redisCLI(s, "", "sentinel", "get-master-addr-by-name", g.MasterName))
		if len(out) == 2 {
			return net.JoinHostPort(out[0], out[1])
		}
	}
	return ""
}

// ClusterNode is one node of a StartClusterWithReplicas cluster.
type ClusterNode struct {
	*Server
}

// Role is "master" or "slave" as the node says now ("" when it does not answer).
func (n ClusterNode) Role() string {
	return fieldAfterColon(info(n.Addr, n.Password, "replication"), "role")
}

// StartClusterWithReplicas starts a Redis Cluster of three masters with one replica each,
// all with one password, whose nodes declare a silent peer failed after nodeTimeout.
func StartClusterWithReplicas(t testing.TB, nodeTimeout time.Duration) (nodes []ClusterNode, password string) {
	t.Helper()
	var servers []*Server
	for range 6 {
		s := newServer(t)
		servers = append(servers, s)
	}
	password = servers[0].Password
	var addrs []string
	for _, s := range servers {
		s.Password = password
		s.extraArgs = []string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
			"--masterauth", password, "--cluster-node-timeout", fmt.Sprint(nodeTimeout.Milliseconds())}
		s.start()
		t.Cleanup(s.Kill)
		addrs = append(addrs, s.Addr)
		nodes = append(nodes, ClusterNode{s})
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes", "-a", password, "--no-auth-warning")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range nodes {
		waitFor(t, 30*time.Second, "cluster_state:ok on "+n.Addr, func() bool {
			return strings.Contains(redisCLI(n.Addr, password, "cluster", "info"), "cluster_state:ok")
		})
	}
	// Every replica is in sync with its master before a test kills one.
	for _, n := range nodes {
		waitFor(t, 30*time.Second, "the replicas' sync", func() bool {
			r := info(n.Addr, password, "replication")
			return fieldAfterColon(r, "role") == "master" || strings.Contains(r, "master_link_status:up")
		})
	}
	return nodes, password
}

// Keys is how many keys the node holds (-1 when it does not answer).
func (s *Server) Keys() int {
	out := strings.TrimSpace(redisCLI(s.Addr, s.Password, "dbsize"))
	var n int
	if _, err := fmt.Sscan(out, &n); err != nil {
		return -1
	}
	return n
}

func redisCLI(addr, password string, args ...string) string {
	host, port, _ := net.SplitHostPort(addr)
	base := []string{"-h", host, "-p", port}
	if password != "" {
		base = append(base, "-a", password, "--no-auth-warning")
	}
	out, _ := exec.Command("redis-cli", append(base, args...)...).Output()
	return string(out)
}

func info(addr, password, section string) string { return redisCLI(addr, password, "info", section) }

// fieldAfter reads redis-cli's answer to SENTINEL MASTER: field names and values on
// alternate lines.
func fieldAfter(out, name string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == name {
			return strings.TrimSpace(lines[i+1])
		}
	}
	return ""
}

// fieldAfterColon reads an INFO answer's "name:value" line.
func fieldAfterColon(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+":"); ok {
			return v
		}
	}
	return ""
}

func waitFor(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
