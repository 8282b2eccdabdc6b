package tokencache_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/finauth/finauth/internal/testwait"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

// A fetch that ignores its context is abandoned at FetchTimeout: the waiter gets a typed
// timeout, Close returns without waiting for it, and its late token is never cached.
func TestCache_AFetchIgnoringItsContextIsAbandonedAtFetchTimeout(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	stuck := make(chan struct{})
	var calls int
	c := tokencache.New(func(ctx context.Context, key string) (tokencache.Token, error) {
		calls++
		if calls == 1 {
			<-stuck // ignores ctx
		}
		return tokencache.Token{Value: "late-or-new", Expiry: clock.Now().Add(time.Hour)}, nil
	}, tokencache.Options{Clock: clock, FetchTimeout: 50 * time.Millisecond, NegativeTTL: -1})
	_, err := c.Token(context.Background(), "k")
	var te *tokencache.FetchTimeoutError
	if !errors.As(err, &te) || !errors.Is(err, tokencache.ErrFetchTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	<-closed // returns while the fetch is still stuck
	close(stuck)
	if _, err := c.Token(context.Background(), "k"); !errors.Is(err, tokencache.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if st := c.Stats(); st.Keys != 0 || st.FetchErrors != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Callers waiting on a fetch that Close cancels get ErrClosed, not the fetch's own
// "context canceled" error.
func TestCache_CloseDuringAFetchGivesErrClosed(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	c := tokencache.New(func(ctx context.Context, key string) (tokencache.Token, error) {
		close(started)
		<-ctx.Done()
		return tokencache.Token{}, errors.New("token endpoint unreachable: " + ctx.Err().Error())
	}, tokencache.Options{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Token(context.Background(), "k")
		errc <- err
	}()
	<-started
	c.Close()
	if err := <-errc; !errors.Is(err, tokencache.ErrClosed) {
		t.Fatalf("err = %v", err)
	}
}

type callerKey struct{}

// The fetch does not carry the values of the caller that started it (httptrace hooks would
// fire for the token endpoint after that caller returned).
func TestCache_TheFetchCarriesNoCallerValues(t *testing.T) {
	t.Parallel()
	f := newFetcher(tokencachetest.NewFakeClock(t0), time.Hour)
	f.ctxs = make(chan context.Context, 1)
	c := newCache(t, f, tokencache.Options{})
	if _, err := c.Token(context.WithValue(context.Background(), callerKey{}, "trace hooks"), "k"); err != nil {
		t.Fatal(err)
	}
	if v := (<-f.ctxs).Value(callerKey{}); v != nil {
		t.Fatalf("the fetch sees the caller's value %v", v)
	}
}

// A refresh ahead of expiry through a Store takes only a token newer than the one it
// replaces: reading back the same token would postpone the real exchange to the last
// minute and shrink the window to ride out a token-endpoint outage.
func TestCache_RefreshAheadTakesOnlyANewerTokenFromTheStore(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	store := tokencache.NewMemoryStore(clock, 0)
	c := newCache(t, f, tokencache.Options{Store: store})
	if tok := mustToken(t, c, "k"); tok.Value != "k-tok-1" {
		t.Fatal(tok.Value)
	}
	clock.Advance(time.Hour - 30*time.Second - 5*time.Minute) // stale: refresh ahead starts
	mustToken(t, c, "k")
	testwait.Eventually(t, "the refresh ahead", func() bool { return c.Stats().BackgroundRefreshes == 1 && f.calls.Load() == 2 })
	if st := c.Stats(); st.StoreHits != 0 {
		t.Fatalf("the refresh read the token it replaces back from the store: %+v", st)
	}
	if tok, _, _ := store.Load(context.Background(), "k"); tok.Value != "k-tok-2" {
		t.Fatalf("store holds %q", tok.Value)
	}
	// Another cache sharing the store takes the newer token without fetching.
	f2 := newFetcher(clock, time.Hour)
	f2.name = "other-"
	c2 := newCache(t, f2, tokencache.Options{Store: store})
	if tok := mustToken(t, c2, "k"); tok.Value != "k-tok-2" || f2.calls.Load() != 0 {
		t.Fatalf("second cache got %q after %d fetches", tok.Value, f2.calls.Load())
	}
}

// Past MaxKeys every insertion evicts one key, in O(1): 20,000 keys through a cache of 100
// leave 100, and a key in use all along is never the one evicted.
func TestCache_EvictionKeepsMaxKeysAndSparesAKeyInUse(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{MaxKeys: 100})
	mustToken(t, c, "hot")
	for i := range 20_000 {
		mustToken(t, c, "k"+strconv.Itoa(i))
		mustToken(t, c, "hot")
	}
	st := c.Stats()
	if st.Keys != 100 || st.Evictions != 20_000+1-100 || st.Fetches != 20_001 {
		t.Fatalf("stats %+v (the hot key must be fetched once)", st)
	}
}

// Token racing Close never panics (a waiter that found no flight just as Close began once
// read a nil flight) and ends in a token or ErrClosed.
func TestCache_TokenRacingCloseNeverPanics(t *testing.T) {
	t.Parallel()
	for range 300 {
		c := tokencache.New(func(ctx context.Context, key string) (tokencache.Token, error) {
			return tokencache.Token{Value: "v", Expiry: time.Now().Add(time.Hour)}, nil
		}, tokencache.Options{})
		var wg sync.WaitGroup
		for k := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Token(context.Background(), strconv.Itoa(k)); err != nil && !errors.Is(err, tokencache.ErrClosed) {
					t.Error(err)
				}
			}()
		}
		c.Close()
		wg.Wait()
	}
}
