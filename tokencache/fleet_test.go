package tokencache_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

// Six caches (the replicas of a service, here in one process) share a MemoryStore: a cold
// start of 6 x 50 callers costs one fetch in all, and every caller gets that token.
func TestFleet_ColdStartOfSixCachesCostsOneFetch(t *testing.T) {
	t.Parallel()
	store := tokencache.NewMemoryStore(nil, 0)
	var fetches atomic.Int64
	fetch := func(context.Context, string) (tokencache.Token, error) {
		n := fetches.Add(1)
		time.Sleep(20 * time.Millisecond) // a token endpoint takes a moment: the others arrive meanwhile
		return tokencache.Token{Value: fmt.Sprint("tok-", n), Expiry: time.Now().Add(time.Hour)}, nil
	}
	var caches []*tokencache.Cache
	for range 6 {
		c := tokencache.New(fetch, tokencache.Options{Store: store})
		t.Cleanup(func() { c.Close() })
		caches = append(caches, c)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, c := range caches {
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				tok, err := c.Token(context.Background(), "acct")
				if err != nil || tok.Value != "tok-1" {
					t.Errorf("%q, %v", tok.Value, err)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	if got := fetches.Load(); got != 1 {
		t.Fatalf("%d fetches for the fleet, want 1", got)
	}
	var waits, storeHits uint64
	for _, c := range caches {
		st := c.Stats()
		waits += st.FleetWaits
		storeHits += st.StoreHits
	}
	if storeHits != 5 {
		t.Fatalf("%d caches took the token from the store, want 5 (fleet waits: %d)", storeHits, waits)
	}
}

// A lock whose holder died (never released) expires after its ttl, the cache's FetchTimeout:
// then a waiting cache takes it over and fetches.
func TestFleet_ALockWhoseHolderDiedExpiresAndAnotherTakesOver(t *testing.T) {
	t.Parallel()
	store := tokencache.NewMemoryStore(nil, 0)
	if _, ok, err := store.Lock(context.Background(), "k", 300*time.Millisecond); !ok || err != nil {
		t.Fatal("could not take the lock", ok, err)
	}
	var fetches atomic.Int64
	c := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		fetches.Add(1)
		return tokencache.Token{Value: "v", Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{Store: store, FetchTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	tok, err := c.Token(context.Background(), "k")
	if err != nil || tok.Value != "v" {
		t.Fatalf("%q %v", tok.Value, err)
	}
	if st := c.Stats(); fetches.Load() != 1 || st.FleetWaits == 0 {
		t.Fatalf("%d fetches, stats %+v: the cache did not wait for the dead holder's lock", fetches.Load(), st)
	}
}

// failingLocks is a FleetStore whose Lock always fails (a store in trouble).
type failingLocks struct{ *tokencache.MemoryStore }

func (failingLocks) Lock(context.Context, string, time.Duration) (func(), bool, error) {
	return nil, false, errors.New("store down")
}

// Store trouble never fails a fetch: the cache fetches on its own.
func TestFleet_StoreTroubleFetchesAlone(t *testing.T) {
	t.Parallel()
	c := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: "v", Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{Store: failingLocks{tokencache.NewMemoryStore(nil, 0)}})
	t.Cleanup(func() { c.Close() })
	if tok, err := c.Token(context.Background(), "k"); err != nil || tok.Value != "v" {
		t.Fatalf("%q %v", tok.Value, err)
	}
}

// A revocation seen by every replica costs one fetch: each drops the rejected token, the
// first deletes it from the store (compare and delete), one fetches, the others load.
func TestFleet_ARevocationSeenByEveryCacheCostsOneFetch(t *testing.T) {
	t.Parallel()
	store := tokencache.NewMemoryStore(nil, 0)
	var fetches atomic.Int64
	fetch := func(context.Context, string) (tokencache.Token, error) {
		n := fetches.Add(1)
		time.Sleep(10 * time.Millisecond)
		return tokencache.Token{Value: fmt.Sprint("tok-", n), Expiry: time.Now().Add(time.Hour)}, nil
	}
	var caches []*tokencache.Cache
	for range 4 {
		c := tokencache.New(fetch, tokencache.Options{Store: store})
		t.Cleanup(func() { c.Close() })
		caches = append(caches, c)
	}
	for _, c := range caches {
		if tok, err := c.Token(context.Background(), ""); err != nil || tok.Value != "tok-1" {
			t.Fatalf("%q %v", tok.Value, err)
		}
	}
	var wg sync.WaitGroup
	for _, c := range caches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Invalidate("", "tok-1")
			if tok, err := c.Token(context.Background(), ""); err != nil || tok.Value != "tok-2" {
				t.Errorf("after the revocation: %q %v", tok.Value, err)
			}
		}()
	}
	wg.Wait()
	if got := fetches.Load(); got != 2 {
		t.Fatalf("%d fetches, want 2 (the cold start and one after the revocation)", got)
	}
}

// keyLog is a FleetStore that only records the keys of every call.
type keyLog struct{ keys []string }

func (k *keyLog) Load(_ context.Context, key string) (tokencache.Token, bool, error) {
	k.keys = append(k.keys, "load "+key)
	return tokencache.Token{}, false, nil
}
func (k *keyLog) Save(_ context.Context, key string, _ tokencache.Token) error {
	k.keys = append(k.keys, "save "+key)
	return nil
}
func (k *keyLog) Delete(_ context.Context, key, _ string) error {
	k.keys = append(k.keys, "delete "+key)
	return nil
}
func (k *keyLog) Lock(_ context.Context, key string, _ time.Duration) (func(), bool, error) {
	k.keys = append(k.keys, "lock "+key)
	return func() {}, true, nil
}
func (k *keyLog) Await(_ context.Context, key string) error {
	k.keys = append(k.keys, "await "+key)
	return nil
}

// Scope puts the identity into every key of every call of a store that cannot scope itself,
// and keeps it a FleetStore when it was one.
func TestScope_EveryCallOfAnUnscopedStoreCarriesTheIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := &keyLog{}
	a, b := tokencache.Scope(log, "issuer-a"), tokencache.Scope(log, "issuer-b")
	for _, s := range []tokencache.Store{a, b} {
		fs, ok := s.(tokencache.FleetStore)
		if !ok {
			t.Fatal("a FleetStore scoped is no longer a FleetStore")
		}
		s.Load(ctx, "k")
		s.Save(ctx, "k", tokencache.Token{})
		s.Delete(ctx, "k", "v")
		fs.Lock(ctx, "k", time.Second)
		fs.Await(ctx, "k")
	}
	if len(log.keys) != 10 {
		t.Fatalf("%q", log.keys)
	}
	for i := range 5 {
		ka, kb := log.keys[i], log.keys[i+5]
		if ka == kb || strings.HasSuffix(ka, " k") || !strings.HasSuffix(ka, ":k") {
			t.Errorf("call %d: %q and %q", i, ka, kb)
		}
	}
	if _, ok := tokencache.Scope(struct{ tokencache.Store }{log}, "x").(tokencache.FleetStore); ok {
		t.Error("a plain Store scoped became a FleetStore")
	}
	if tokencache.Scope(nil, "x") != nil {
		t.Error("no store scoped is a store")
	}
}

// Tokens shorter-lived than twice the safety margin are shared too: six caches on one store,
// one after the other, make one fetch for tokens that live 20 s; a token near the end of its
// life (under twice the margin scaled to its lifetime) is not adopted.
func TestCache_ShortLivedTokensAreSharedToo(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	store := tokencache.NewMemoryStore(clock, 0)
	f := newFetcher(clock, 20*time.Second)
	for range 6 {
		mustToken(t, newCache(t, f, tokencache.Options{Store: store}), "k")
		clock.Advance(time.Second)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d fetches for 6 caches, want 1", n)
	}
	clock.Advance(9 * time.Second) // 5 s left of 20: under 2 x min(30 s, 20 s / 4)
	mustToken(t, newCache(t, f, tokencache.Options{Store: store}), "k")
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d fetches: a token with a quarter of its life left was adopted", n)
	}
}

// A fetch queued for a MaxConcurrentFetches slot does not hold its key's fleet lock: a lock
// taken before the wait expired during a long queue (a cold start over many keys), another
// replica fetched the key, and the queued fetch then fetched it again.
func TestCache_AQueuedFetchHoldsNoFleetLock(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	store := tokencache.NewMemoryStore(clock, 0)
	slow := newFetcher(clock, time.Hour)
	slow.name = "slow-"
	slow.gate = make(chan struct{})
	opts := tokencache.Options{Store: store, MaxConcurrentFetches: 1, FetchTimeout: 30 * time.Second}
	c1 := newCache(t, slow, opts)
	other := newFetcher(clock, time.Hour)
	other.name = "other-"
	c2 := newCache(t, other, opts)
	done := make(chan struct{}, 2)
	go func() { c1.Token(context.Background(), "k1"); done <- struct{}{} }()
	testwait.Eventually(t, "k1's fetch running", func() bool { return slow.calls.Load() == 1 })
	go func() { c1.Token(context.Background(), "k2"); done <- struct{}{} }()
	testwait.Eventually(t, "k2's fetch queued for the slot", func() bool {
		buf := make([]byte, 1<<20)
		return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "semaphore.(*Weighted).Acquire")
	})
	clock.Advance(31 * time.Second) // past the lock's ttl while k2 waits for the slot
	if tok := mustToken(t, c2, "k2"); !strings.HasPrefix(tok.Value, "other-") {
		t.Fatalf("the other replica got %q", tok.Value)
	}
	close(slow.gate)
	<-done
	<-done
	if n := slow.calls.Load(); n != 1 {
		t.Fatalf("%d fetches by the first replica: k2 was fetched twice for the fleet", n)
	}
}
