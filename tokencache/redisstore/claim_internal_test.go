package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/finauth/finauth/testkit/redistest"
	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
)

// counted counts the commands a client sends that are round trips of the store's work (not
// the connection's handshake, nor the subscription).
type counted struct {
	n     atomic.Int64
	mu    sync.Mutex
	names []string
}

func (c *counted) note(name string) {
	c.mu.Lock()
	c.names = append(c.names, name)
	c.mu.Unlock()
}

func (c *counted) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counted) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if !handshake(cmd) {
				c.n.Add(1) // one round trip, however many commands
				c.note("pipeline")
				break
			}
		}
		return next(ctx, cmds)
	}
}
func (c *counted) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			c.n.Add(1)
			c.note(fmt.Sprint(cmd.Args()[:min(2, len(cmd.Args()))]...))
		}
		return next(ctx, cmd)
	}
}

// handshake reports whether cmd is part of a connection's setup or the subscription's.
func handshake(cmd redis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "hello", "auth", "client", "select", "ping", "subscribe", "psubscribe", "unsubscribe":
		return true
	}
	return false
}

// fleetOf starts n stores on one Redis, each with its own client and counter, their
// subscriptions live and the scripts loaded (as in a fleet that has run for a while).
func fleetOf(t *testing.T, srv *redistest.Server, addr string, n int) ([]*Store, []*counted) {
	t.Helper()
	ctx := context.Background()
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: srv.Password})
	t.Cleanup(func() { raw.Close() })
	for _, sc := range []*redis.Script{claimScript, handoffScript, releaseIfOwner, deleteIfFingerprint, extendIfOwner} {
		if err := sc.Load(ctx, raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var stores []*Store
	var counts []*counted
	for range n {
		rdb := redis.NewClient(&redis.Options{Addr: addr, Password: srv.Password, ContextTimeoutEnabled: true, MaxRetries: -1})
		c := &counted{}
		rdb.AddHook(c)
		t.Cleanup(func() { rdb.Close() })
		s, err := New(Options{Client: rdb, Keys: [][]byte{faultKey}, Timeout: 5 * time.Second, SlowReply: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		s.subscribe()
		testwait.Eventually(t, "the subscription live", func() bool {
			s.notes.mu.Lock()
			defer s.notes.mu.Unlock()
			return s.notes.live
		})
		stores, counts = append(stores, s), append(counts, c)
	}
	return stores, counts
}

// Issue 32 (3): a token handed to the fleet costs each replica at most two round trips: a
// cold start (one fetches: claim and handoff; the others claim, and get the token with the
// release notice) and a revocation seen by every replica (the same, the claim also deleting
// the rejected token). The same fleet over the store's older calls (Load, Lock, Await, Load:
// the store seen as a FleetStore, not a Claimer) is run beside it and logged, for the figure.
func TestClaim_AHandoffCostsEachReplicaAtMostTwoRoundTrips(t *testing.T) {
	t.Parallel()
	for _, claim := range []bool{true, false} {
		rounds := handoffRounds(t, claim)
		for _, r := range rounds {
			t.Logf("claim %v: %-26s most round trips of a replica %d, all %d; %v; Redis ran %s", claim, r.what, r.most, r.all, r.took.Round(time.Millisecond), r.stats)
			if claim && r.most > 2 {
				t.Errorf("%s: a replica made %d round trips, want at most 2: %s", r.what, r.most, r.names)
			}
		}
	}
}

type handoffRound struct {
	what      string
	most, all int64
	stats     string // INFO commandstats: the calls of each command the round made Redis run
	names     string
	took      time.Duration
}

// handoffRounds runs five caches on one Redis through a latency proxy: a cold start, a
// revocation, and a revocation with every reply 40 ms late; each round's round trips.
func handoffRounds(t *testing.T, claim bool) []handoffRound {
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	stores, counts := fleetOf(t, srv, proxy.Addr, 5)
	var fetches atomic.Int64
	fetch := func(context.Context, string) (tokencache.Token, error) {
		time.Sleep(50 * time.Millisecond) // the token endpoint: long enough for the others to find the lock held
		return tokencache.Token{Value: fmt.Sprintf("v%d", fetches.Add(1)), Expiry: time.Now().Add(time.Hour)}, nil
	}
	var caches []*tokencache.Cache
	for _, s := range stores {
		var store tokencache.Store = s
		if !claim {
			store = struct{ tokencache.FleetStore }{s}
		}
		c := tokencache.New(fetch, tokencache.Options{Store: store})
		t.Cleanup(func() { c.Close() })
		caches = append(caches, c)
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: srv.Password})
	t.Cleanup(func() { raw.Close() })
	var rounds []handoffRound
	all := func(what string, f func(c *tokencache.Cache) (tokencache.Token, error)) {
		t.Helper()
		before := commandStats(t, raw)
		for _, c := range counts {
			c.n.Store(0)
			c.mu.Lock()
			c.names = nil
			c.mu.Unlock()
		}
		start := time.Now()
		var wg sync.WaitGroup
		for _, c := range caches {
			wg.Go(func() {
				if tok, err := f(c); err != nil || tok.Value != fmt.Sprintf("v%d", fetches.Load()) {
					t.Errorf("%s: %q %v", what, tok.Value, err)
				}
			})
		}
		wg.Wait()
		r := handoffRound{what: what, took: time.Since(start), stats: statsDelta(before, commandStats(t, raw))}
		for _, c := range counts {
			n := c.n.Load()
			r.all += n
			if n > r.most {
				r.most = n
				c.mu.Lock()
				r.names = fmt.Sprintf("%q", c.names)
				c.mu.Unlock()
			}
		}
		rounds = append(rounds, r)
	}
	// Each request the token served is accepted: the fetcher marks the token as one that
	// worked (in the background), and a rejection of it is then a revocation.
	marker := func() string {
		m, _, _ := stores[0].Load(context.Background(), "\x00worked\x00k")
		return m.Value
	}
	accepted := func(value string) {
		t.Helper()
		before := marker()
		for _, c := range caches {
			c.Accepted("k", value)
		}
		testwait.Eventually(t, "the worked marker saved", func() bool { return marker() != before })
	}
	ctx := context.Background()
	all("cold start", func(c *tokencache.Cache) (tokencache.Token, error) { return c.Token(ctx, "k") })
	if fetches.Load() != 1 {
		t.Fatalf("%d fetches for the cold start of 5 replicas", fetches.Load())
	}
	accepted("v1")
	all("revocation", func(c *tokencache.Cache) (tokencache.Token, error) {
		tok, _, err := c.Rejected(ctx, "k", "v1", tokencache.FirstTry)
		return tok, err
	})
	if fetches.Load() != 2 {
		t.Fatalf("%d fetches after a revocation seen by 5 replicas, want 2", fetches.Load())
	}
	// The same with every reply 40 ms late (a latency proxy): the round trips are the time.
	accepted("v2")
	proxy.SetDelay(40 * time.Millisecond)
	all("revocation, Redis +40 ms", func(c *tokencache.Cache) (tokencache.Token, error) {
		tok, _, err := c.Rejected(ctx, "k", "v2", tokencache.FirstTry)
		return tok, err
	})
	return rounds
}

// commandStats reads Redis's calls per command (INFO commandstats), without the connection
// and subscription setup commands.
func commandStats(t *testing.T, rdb *redis.Client) map[string]int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		var calls int64
		fmt.Sscan(n, &calls)
		switch name {
		case "info", "hello", "auth", "client|setinfo", "client|setname", "ping", "subscribe", "script|load", "select":
			continue
		}
		m[name] = calls
	}
	return m
}

// statsDelta prints the calls made between two commandStats, by command.
func statsDelta(before, after map[string]int64) string {
	var parts []string
	for name, n := range after {
		if d := n - before[name]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name, d))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// slowBudgetStore is a store through a latency proxy, with a budget of 20 ms a reply, 3 slow
// replies in a row to open, and probe as its probe interval.
func slowBudgetStore(t *testing.T, probe time.Duration) (*Store, *redistest.Proxy) {
	t.Helper()
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr, Password: srv.Password, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	s, err := New(Options{Client: rdb, Keys: [][]byte{faultKey}, Timeout: time.Second, SlowReply: 20 * time.Millisecond, SlowReplies: 3,
		ProbeInterval: probe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, proxy
}

// Issue 32 (3): the breaker opens on latency as on failures: replies that all come, but
// slower than the budget (a brownout), make each process cache alone, and sharing resumes
// once Redis answers within the budget again.
func TestBreaker_OpensOnASlowRedisAndClosesWhenItIsFastAgain(t *testing.T) {
	t.Parallel()
	s, proxy := slowBudgetStore(t, 50*time.Millisecond)
	ctx := context.Background()
	proxy.SetDelay(60 * time.Millisecond)
	for i := range 3 {
		if _, _, err := s.Load(ctx, "k"); err != nil {
			t.Fatalf("load %d: %v (a slow reply is still a reply)", i, err)
		}
	}
	if st := s.Stats(); !st.Open || st.SlowOpens != 1 {
		t.Fatalf("after 3 replies of 60 ms with a budget of 20 ms: %+v", st)
	}
	if _, _, err := s.Load(ctx, "k"); err != ErrUnavailable {
		t.Fatalf("a call with the breaker open: %v", err)
	}
	proxy.SetDelay(0)
	testwait.Eventually(t, "the breaker closed once Redis is fast", func() bool { return !s.Stats().Open })
	if _, _, err := s.Load(ctx, "k"); err != nil {
		t.Fatal(err)
	}
}

// Slow replies that have not gone on for a probe interval (a process starved of CPU for a
// moment sees a burst of them) do not open the breaker.
func TestBreaker_ABurstOfSlowRepliesDoesNotOpenIt(t *testing.T) {
	t.Parallel()
	s, proxy := slowBudgetStore(t, time.Hour)
	ctx := context.Background()
	proxy.SetDelay(60 * time.Millisecond)
	for i := range 6 {
		if _, _, err := s.Load(ctx, "k"); err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
	}
	if st := s.Stats(); st.Open || st.SlowOpens != 0 {
		t.Fatalf("6 slow replies within a probe interval of an hour opened the breaker: %+v", st)
	}
}

// A token and its fetch lock are in one Redis Cluster slot whatever the namespace (Claim and
// the handoff touch both in one script): every namespace of up to four characters from
// "{", "}" and "a" is either refused by New (a "}" outside a hash tag) or gives a token and
// lock that CLUSTER KEYSLOT puts in the same slot.
func TestNames_ATokenAndItsLockShareASlotInEveryNamespace(t *testing.T) {
	t.Parallel()
	addrs, password := redistest.StartCluster(t)
	node := redis.NewClient(&redis.Options{Addr: addrs[0], Password: password})
	defer node.Close()
	ctx := context.Background()
	nss := []string{""}
	for range 4 {
		for _, ns := range nss {
			for _, c := range []string{"{", "}", "a"} {
				nss = append(nss, ns+c)
			}
		}
	}
	slices.Sort(nss)
	nss = slices.Compact(nss)
	refused := 0
	for _, ns := range nss[1:] { // "" is the default namespace
		s, err := New(Options{Client: node, Keys: [][]byte{faultKey}, Namespace: ns})
		if err != nil {
			if !strings.Contains(ns, "}") || !strings.Contains(err.Error(), "hash tag") {
				t.Errorf("namespace %q refused: %v", ns, err)
			}
			refused++
			continue
		}
		token, lock := s.names("k")
		s.Close()
		ts, err1 := node.ClusterKeySlot(ctx, token).Result()
		ls, err2 := node.ClusterKeySlot(ctx, lock).Result()
		if err1 != nil || err2 != nil || ts != ls {
			t.Errorf("namespace %q: token %q in slot %d, lock %q in slot %d (%v %v)", ns, token, ts, lock, ls, err1, err2)
		}
		if !s.isLockName(lock) || s.isLockName(token) {
			t.Errorf("namespace %q: isLockName does not tell lock %q from token %q", ns, lock, token)
		}
	}
	t.Logf("%d namespaces, %d refused", len(nss)-1, refused)
}
