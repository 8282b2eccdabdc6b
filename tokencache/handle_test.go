package tokencache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

func mustHandleToken(t *testing.T, h *tokencache.Handle) tokencache.Token {
	t.Helper()
	tok, err := h.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestHandle_FollowsRefreshesInvalidationAndStale(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{NoPrefetch: true})
	h := c.Handle("k") // before the key exists: the first call fetches
	if h.Key() != "k" {
		t.Fatalf("Key() = %q", h.Key())
	}
	first := mustHandleToken(t, h)
	if first.Value != "k-tok-1" || mustToken(t, c, "k").Value != first.Value {
		t.Fatalf("handle %q, cache %q", first.Value, mustToken(t, c, "k").Value)
	}
	for range 10 {
		mustHandleToken(t, h)
	}
	if st := c.Stats(); st.Hits != 11 || st.Misses != 1 || st.Fetches != 1 {
		t.Fatalf("stats %+v", st) // 10 handle hits + the cache's own
	}

	// A rejected token: the handle's next call fetches once, then serves the new one.
	if !c.Invalidate("k", first.Value) {
		t.Fatal("Invalidate did not drop the token")
	}
	if got := mustHandleToken(t, h).Value; got != "k-tok-2" {
		t.Fatalf("after Invalidate: %q", got)
	}

	// Stale: served at once through the handle, one background refresh, then the new token.
	f.gate = make(chan struct{})
	clock.Advance(staleAfter)
	for range 100 {
		if got := mustHandleToken(t, h).Value; got != "k-tok-2" {
			t.Fatalf("stale token not served: %q", got)
		}
	}
	testwait.Eventually(t, "the background fetch", func() bool { return f.calls.Load() == 3 })
	close(f.gate)
	testwait.Eventually(t, "the refreshed token", func() bool { return mustHandleToken(t, h).Value == "k-tok-3" })
	if st := c.Stats(); st.BackgroundRefreshes != 1 || st.StaleHits < 100 {
		t.Fatalf("stats %+v", st)
	}

	// Expired: the handle waits for a fetch like Token does; it never serves the old token.
	clock.Advance(2 * time.Hour)
	if got := mustHandleToken(t, h).Value; got != "k-tok-4" {
		t.Fatalf("after expiry: %q", got)
	}
}

// An evicted key's entry has no running timers: a handle still holding it must not serve its
// token (it would never turn stale or expire), but fetch the key anew into the cache.
func TestHandle_AfterEvictionFetchesAnewAndRejoinsTheCache(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{MaxKeys: 1})
	h := c.Handle("a")
	if got := mustHandleToken(t, h).Value; got != "a-tok-1" {
		t.Fatal(got)
	}
	mustToken(t, c, "b") // evicts a
	if st := c.Stats(); st.Evictions != 1 {
		t.Fatalf("stats %+v", st)
	}
	if got := mustHandleToken(t, h).Value; got != "a-tok-3" {
		t.Fatalf("evicted token served: %q", got)
	}
	// The handle holds the new entry, the one the cache has.
	if got := mustToken(t, c, "a").Value; got != "a-tok-3" {
		t.Fatalf("cache serves %q", got)
	}
	calls := f.calls.Load()
	mustHandleToken(t, h)
	if f.calls.Load() != calls {
		t.Fatal("the handle did not take the new entry: it fetched again")
	}
	// A handle made while the key is cached holds it at once.
	h2 := c.Handle("a")
	if got := mustHandleToken(t, h2).Value; got != "a-tok-3" || f.calls.Load() != calls {
		t.Fatalf("new handle: %q after %d fetches", got, f.calls.Load())
	}
}

func TestHandle_AfterCloseIsErrClosed(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{})
	h := c.Handle("")
	mustHandleToken(t, h)
	c.Close()
	if _, err := h.Token(context.Background()); !errors.Is(err, tokencache.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// Handles under churn: readers on one handle per key while keys are evicted (MaxKeys below
// the keys in use) and tokens invalidated. Every answer is a token of the handle's own key,
// never an error; run under -race.
func TestHandle_ConcurrentWithEvictionAndInvalidation(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	c := tokencache.New(func(_ context.Context, key string) (tokencache.Token, error) {
		return tokencache.Token{Value: fmt.Sprintf("%s/%d", key, calls.Add(1)), Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{MaxKeys: 2})
	t.Cleanup(func() { c.Close() })
	keys := []string{"a", "b", "c", "d"}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var served atomic.Int64
	for _, k := range keys {
		h := c.Handle(k)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil && i < 200_000; i++ {
					tok, err := h.Token(context.Background())
					if err != nil {
						t.Errorf("%s: %v", k, err)
						return
					}
					if !strings.HasPrefix(tok.Value, k+"/") {
						t.Errorf("handle %q served %q", k, tok.Value)
						return
					}
					if i%97 == 0 {
						c.Invalidate(k, tok.Value)
					}
					served.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	st := c.Stats()
	if served.Load() == 0 || st.Evictions == 0 || st.InvalidationsDropped == 0 || st.Keys > 2 {
		t.Fatalf("served %d, stats %+v: the churn did not happen", served.Load(), st)
	}
}

func TestCache_PutServesATokenObtainedElsewhere(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	store := tokencache.NewMemoryStore(clock, 0)
	c := newCache(t, f, tokencache.Options{Store: store})
	if err := c.Put("consent-1", tokencache.Token{Value: "from-code", RefreshToken: "r", Expiry: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := mustToken(t, c, "consent-1"); got.Value != "from-code" || got.RefreshToken != "r" || f.calls.Load() != 0 {
		t.Fatalf("%q after %d fetches", got.Value, f.calls.Load())
	}
	if tok, ok, _ := store.Load(context.Background(), "consent-1"); !ok || tok.Value != "from-code" {
		t.Fatal("Put did not save to the store")
	}
	// It is refreshed like a fetched one: stale, then a background fetch.
	clock.Advance(staleAfter)
	mustToken(t, c, "consent-1")
	testwait.Eventually(t, "the refresh", func() bool { return f.calls.Load() == 1 })
	if err := c.Put("k", tokencache.Token{}); !errors.Is(err, tokencache.ErrEmptyToken) {
		t.Fatalf("empty: %v", err)
	}
	if err := c.Put("k", tokencache.Token{Value: "v", Expiry: t0}); !errors.Is(err, tokencache.ErrExpiredToken) {
		t.Fatalf("expired: %v", err)
	}
}

func TestCache_PeekShowsTheCurrentTokenWithoutFetching(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{})
	if _, ok := c.Peek("k"); ok {
		t.Fatal("Peek of an unknown key")
	}
	first := mustToken(t, c, "k")
	clock.Advance(2 * time.Hour) // expired: Token would fetch, Peek does not
	if tok, ok := c.Peek("k"); !ok || tok.Value != first.Value || f.calls.Load() != 1 {
		t.Fatalf("%q %v after %d fetches", tok.Value, ok, f.calls.Load())
	}
}
