package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/testkit/redistest"
)

// fleetAccounts is how many accounts the fleet test asks for: 1,000, or FINAUTH_FLEET_ACCOUNTS.
func fleetAccounts() int {
	if n, err := strconv.Atoi(os.Getenv("FINAUTH_FLEET_ACCOUNTS")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// redisCommands is the number of commands Redis ran (INFO commandstats), the test's own
// CONFIG and INFO excepted.
func redisCommands(t *testing.T, rdb *redis.Client) (total int, byCommand map[string]int) {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	byCommand = map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "cmdstat_")
		calls, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
		if name == "config|resetstat" || name == "info" || name == "config" {
			continue
		}
		byCommand[name] = calls
		total += calls
	}
	return total, byCommand
}

// fleet runs n finauth load processes at once against the Pismo mock, sharing Redis, each
// sending requests across accounts (--accounts) or for the default token, and returns
// their summaries.
func fleet(t *testing.T, n int, m *pismomock.Server, srv *redistest.Server, args ...string) []loadSummary {
	t.Helper()
	env := pismoEnv(m)
	env["FINAUTH_REDIS_URL"] = srv.URL()
	env["FINAUTH_CACHE_KEY"] = cacheKey
	// 32 processes and Redis share 2 cores: a call may wait its turn longer than the
	// default 100 ms, which would count Redis as down.
	env["FINAUTH_REDIS_TIMEOUT"] = "2s"
	// For the same reason, replies slower than the 20 ms latency budget for a second would
	// make each replica cache alone (the brownout breaker): this test counts sharing.
	env["FINAUTH_REDIS_SLOW_REPLY"] = "off"
	out := make([]loadSummary, n)
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	errs := make([]*bytes.Buffer, n)
	for i := range n {
		cmds[i] = exec.Command(bin, append(append([]string{"load", "--json"}, args...), m.URL+"/cards/v1/cards")...)
		for k, v := range env {
			cmds[i].Env = append(cmds[i].Env, k+"="+v)
		}
		outs[i], errs[i] = &bytes.Buffer{}, &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], errs[i]
	}
	var wg sync.WaitGroup
	for i, c := range cmds { // started together
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := c.Wait(); err != nil || json.Unmarshal(outs[i].Bytes(), &out[i]) != nil {
				t.Errorf("replica %d: %v\n%s\n%s", i, err, outs[i], errs[i])
			}
		})
	}
	wg.Wait()
	return out
}

// 32 replicas (separate processes, a real redis-server with a password) start cold
// together: on one key, 1 token exchange in all; on 1,000 accounts each (every replica
// asking for every account), 1,000 exchanges, not 32,000, and at most 3 Redis commands per
// replica per account (INFO commandstats).
func TestCLI_AFleetOf32ReplicasShareTokensThroughRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: srv.Password})
	t.Cleanup(func() { rdb.Close() })
	const replicas = 32

	m := newPismoMock(t)
	for i, s := range fleet(t, replicas, m, srv, "-n", "50", "-c", "2") {
		if s.OK != s.Requests || s.Requests != 50 {
			t.Errorf("one key, replica %d: %d of %d ok", i, s.OK, s.Requests)
		}
	}
	if ex := m.Stats().Exchanges; ex != 1 {
		t.Fatalf("one key: %d exchanges for %d replicas, want 1", ex, replicas)
	}

	accounts := fleetAccounts()
	file := filepath.Join(t.TempDir(), "accounts.txt")
	var b strings.Builder
	for i := range accounts {
		fmt.Fprintf(&b, "%d\n", 100000+i)
	}
	os.WriteFile(file, []byte(b.String()), 0o600)
	// Each replica takes the accounts in its own order, as replicas behind a load balancer
	// do; then all in the same order, every replica wanting the same account at the same
	// moment (a herd: one fetches, 31 wait for it), for the figure.
	for _, order := range []struct {
		name string
		args []string
		max  float64
	}{{"own order", []string{"--shuffle-accounts"}, 3}, {"the same order", nil, 3.5}} {
		m = newPismoMock(t)
		if err := rdb.FlushAll(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		rdb.ConfigResetStat(context.Background())
		start := time.Now()
		sums := fleet(t, replicas, m, srv, append([]string{"--accounts", file, "-n", strconv.Itoa(accounts), "-c", "4"}, order.args...)...)
		elapsed := time.Since(start)
		ok := 0
		for _, s := range sums {
			ok += s.OK
		}
		total, byCommand := redisCommands(t, rdb)
		perReplicaAccount := float64(total) / float64(replicas*accounts)
		ex := m.Stats().Exchanges
		t.Logf("%s: %d replicas x %d accounts in %v: %d exchanges, %d of %d requests ok; %d Redis commands, %.2f per replica-account %v",
			order.name, replicas, accounts, elapsed.Round(time.Millisecond), ex, ok, replicas*accounts, total, perReplicaAccount, byCommand)
		if ok != replicas*accounts {
			t.Errorf("%s: %d of %d requests ok", order.name, ok, replicas*accounts)
		}
		if ex != accounts {
			t.Errorf("%s: %d exchanges for %d accounts, want %d", order.name, ex, accounts, accounts)
		}
		if perReplicaAccount > order.max {
			t.Errorf("%s: %.2f Redis commands per replica per account, want at most %v", order.name, perReplicaAccount, order.max)
		}
	}
}
