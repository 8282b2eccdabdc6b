package tokencache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// fetcher hands out numbered tokens that live for ttl, and can be made to block or fail.
type fetcher struct {
	clock *tokencachetest.FakeClock
	name  string // prefix of the token values, to tell fetchers apart
	ttl   time.Duration
	calls atomic.Int64
	gate  chan struct{} // when set, each fetch waits for a receive... close to release all
	fail  atomic.Pointer[error]
	ctxs  chan context.Context
}

func newFetcher(clock *tokencachetest.FakeClock, ttl time.Duration) *fetcher {
	return &fetcher{clock: clock, ttl: ttl}
}

func (f *fetcher) fetch(ctx context.Context, key string) (tokencache.Token, error) {
	n := f.calls.Add(1)
	if f.ctxs != nil {
		f.ctxs <- ctx
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return tokencache.Token{}, ctx.Err()
		}
	}
	if e := f.fail.Load(); e != nil {
		return tokencache.Token{}, *e
	}
	return tokencache.Token{Value: fmt.Sprintf("%s%s-tok-%d", f.name, key, n), Type: "Bearer", Expiry: f.clock.Now().Add(f.ttl)}, nil
}

func (f *fetcher) failWith(err error) { f.fail.Store(&err) }
func (f *fetcher) succeed()           { f.fail.Store(nil) }

func newCache(t *testing.T, f *fetcher, opts tokencache.Options) *tokencache.Cache {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = f.clock
	}
	if opts.Rand == nil {
		opts.Rand = func() float64 { return 0 } // no jitter: exact schedules
	}
	c := tokencache.New(f.fetch, opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func mustToken(t *testing.T, c *tokencache.Cache, key string) tokencache.Token {
	t.Helper()
	tok, err := c.Token(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestCache_FreshTokenServedFromMemory(t *testing.T) {
	t.Parallel()
	f := newFetcher(tokencachetest.NewFakeClock(t0), time.Hour)
	c := newCache(t, f, tokencache.Options{})
	a := mustToken(t, c, "")
	b := mustToken(t, c, "")
	if a.Value != b.Value || f.calls.Load() != 1 {
		t.Fatalf("second call fetched again: %d fetches", f.calls.Load())
	}
	st := c.Stats()
	if st.Hits != 1 || st.Misses != 1 || st.Fetches != 1 || st.Keys != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCache_10000WaitersOneFetch(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{})
	for round, prepare := range []func(){
		func() {},                               // a missing key
		func() { clock.Advance(2 * time.Hour) }, // an expired one
	} {
		prepare()
		f.gate = make(chan struct{})
		before := f.calls.Load()
		st0 := c.Stats()
		misses := st0.Misses + st0.Waits
		const n = 10_000
		got := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok, err := c.Token(context.Background(), "acct")
				if err != nil {
					t.Error(err)
				}
				got[i] = tok.Value
			}()
		}
		testwait.Eventually(t, "all callers waiting", func() bool { st := c.Stats(); return st.Misses+st.Waits-misses == n })
		close(f.gate)
		wg.Wait()
		if fetches := f.calls.Load() - before; fetches != 1 {
			t.Fatalf("round %d: %d fetches for %d waiters", round, fetches, n)
		}
		for _, v := range got {
			if v != got[0] || v == "" {
				t.Fatalf("round %d: waiters got different tokens: %q vs %q", round, v, got[0])
			}
		}
	}
}

func TestCache_InvalidateStormCostsOneFetch(t *testing.T) {
	t.Parallel()
	f := newFetcher(tokencachetest.NewFakeClock(t0), time.Hour)
	c := newCache(t, f, tokencache.Options{})
	rejected := mustToken(t, c, "").Value
	const n = 1000
	var wg sync.WaitGroup
	var dropped atomic.Int64
	tokens := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// What every request that saw a 401 does: invalidate, then ask again.
			if c.Invalidate("", rejected) {
				dropped.Add(1)
			}
			tokens[i] = mustToken(t, c, "").Value
		}()
	}
	wg.Wait()
	if got := f.calls.Load(); got != 2 {
		t.Fatalf("%d fetches, want 2 (the first token and one replacement)", got)
	}
	if dropped.Load() != 1 {
		t.Fatalf("%d invalidations dropped the token, want 1", dropped.Load())
	}
	for _, v := range tokens {
		if v == rejected {
			t.Fatal("a caller got the rejected token back after invalidating it")
		}
	}
	st := c.Stats()
	if st.InvalidationsDropped != 1 || st.InvalidationsNoop != n-1 {
		t.Fatalf("stats %+v", st)
	}
	// Invalidating a token that is no longer cached does nothing.
	if c.Invalidate("", rejected) || c.Invalidate("unknown-key", "x") {
		t.Fatal("a stale invalidation dropped the new token")
	}
}

// staleAt is when a 1h token turns stale with no jitter: 1h - 30s margin - 5m window.
const staleAfter = time.Hour - 30*time.Second - 5*time.Minute

func TestCache_StaleServedWhileOneBackgroundRefreshRuns(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{NoPrefetch: true})
	first := mustToken(t, c, "")
	f.gate = make(chan struct{})
	clock.Advance(staleAfter)
	for range 1000 { // nobody blocks, and only one refresh starts
		if tok := mustToken(t, c, ""); tok.Value != first.Value {
			t.Fatal("stale token not served")
		}
	}
	testwait.Eventually(t, "the background fetch to start", func() bool { return f.calls.Load() == 2 })
	close(f.gate)
	testwait.Eventually(t, "the new token", func() bool { return mustToken(t, c, "").Value != first.Value })
	st := c.Stats()
	if st.BackgroundRefreshes != 1 || st.Fetches != 2 || st.StaleHits < 1000 {
		t.Fatalf("stats %+v", st)
	}
	// The next window brings exactly one more.
	clock.Advance(staleAfter)
	for range 100 {
		mustToken(t, c, "")
	}
	testwait.Eventually(t, "the second refresh", func() bool { return c.Stats().Fetches == 3 })
	if st := c.Stats(); st.BackgroundRefreshes != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCache_WaiterCancellationLeavesTheFetchRunning(t *testing.T) {
	t.Parallel()
	f := newFetcher(tokencachetest.NewFakeClock(t0), time.Hour)
	f.gate = make(chan struct{})
	f.ctxs = make(chan context.Context, 1)
	c := newCache(t, f, tokencache.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	impatient := make(chan error, 1)
	go func() {
		_, err := c.Token(ctx, "k")
		impatient <- err
	}()
	fetchCtx := <-f.ctxs
	patient := make(chan tokencache.Token, 1)
	go func() { patient <- mustToken(t, c, "k") }()
	testwait.Eventually(t, "both waiting", func() bool { st := c.Stats(); return st.Misses == 1 && st.Waits == 1 })
	cancel()
	if err := <-impatient; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter got %v", err)
	}
	if fetchCtx.Err() != nil {
		t.Fatal("the fetch was cancelled with the impatient caller")
	}
	close(f.gate)
	if tok := <-patient; tok.Value != "k-tok-1" {
		t.Fatalf("patient waiter got %q", tok.Value)
	}
	if f.calls.Load() != 1 {
		t.Fatal("cancellation caused another fetch")
	}
}

func TestCache_StaleIfErrorWithBackoffThenNegativeCache(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{NoPrefetch: true})
	good := mustToken(t, c, "")
	boom := errors.New("token endpoint down")
	f.failWith(boom)
	clock.Advance(staleAfter)
	mustToken(t, c, "") // starts the background refresh
	// Rand() = 0: each delay is its exponential step: 1s, 2s, 4s, ... capped at 60s.
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 60 * time.Second, 60 * time.Second}
	for i, d := range want {
		n := int64(i + 2)
		testwait.Eventually(t, "a failed attempt", func() bool { return f.calls.Load() == n && len(clock.Pending()) == 2 })
		retryAt := clock.Pending()[0] // the retry comes before the expiry timer
		if got := retryAt.Sub(clock.Now()); got != d {
			t.Fatalf("attempt %d: retry in %v, want %v", i+1, got, d)
		}
		if tok := mustToken(t, c, ""); tok.Value != good.Value {
			t.Fatal("the usable token was not served during the outage")
		}
		if f.calls.Load() != n {
			t.Fatal("a request started a fetch during the backoff")
		}
		clock.Set(retryAt)
	}
	// Let it expire: now callers get the error, and it is remembered for NegativeTTL.
	testwait.Eventually(t, "the last retry", func() bool { return f.calls.Load() == int64(len(want))+2 })
	clock.Set(t0.Add(time.Hour))
	testwait.Eventually(t, "retries to settle", func() bool { _, err := c.Token(context.Background(), ""); return errors.Is(err, boom) })
	calls := f.calls.Load()
	for range 50 {
		if _, err := c.Token(context.Background(), ""); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	}
	if f.calls.Load() != calls {
		t.Fatal("a dead endpoint was called again inside the negative-cache second")
	}
	if c.Stats().NegativeHits < 50 {
		t.Fatalf("stats %+v", c.Stats())
	}
	clock.Advance(time.Second)
	f.succeed()
	if tok := mustToken(t, c, ""); tok.Value == good.Value {
		t.Fatal("no new token after recovery")
	}
}

func TestCache_BadFetchResultsAreErrorsNotTokens(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	cases := map[string]struct {
		fetch tokencache.FetchFunc
		want  error
	}{
		"empty value": {func(context.Context, string) (tokencache.Token, error) {
			return tokencache.Token{Expiry: t0.Add(time.Hour)}, nil
		}, tokencache.ErrEmptyToken},
		"zero lifetime": {func(context.Context, string) (tokencache.Token, error) {
			return tokencache.Token{Value: "v", Expiry: t0}, nil
		}, tokencache.ErrExpiredToken},
		"negative": {func(context.Context, string) (tokencache.Token, error) {
			return tokencache.Token{Value: "v", Expiry: t0.Add(-time.Hour)}, nil
		}, tokencache.ErrExpiredToken},
		"panic":          {func(context.Context, string) (tokencache.Token, error) { panic("secret-token-in-panic") }, tokencache.ErrFetchPanic},
		"nil fetch func": {nil, tokencache.ErrNoFetch},
	}
	for name, tc := range cases {
		c := tokencache.New(tc.fetch, tokencache.Options{Clock: clock, NegativeTTL: -1})
		for range 2 {
			tok, err := c.Token(context.Background(), "")
			if !errors.Is(err, tc.want) || tok.Value != "" {
				t.Errorf("%s: tok %q err %v", name, tok.Value, err)
			}
			if err != nil && strings.Contains(err.Error(), "secret-token") {
				t.Errorf("%s: error leaks the panic value", name)
			}
		}
		if tc.fetch != nil && c.Stats().Fetches != 2 {
			t.Errorf("%s: a bad result was cached: %+v", name, c.Stats())
		}
		c.Close()
	}
}

func TestCache_LifetimeEdges(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	// Shorter than the 30s margin: the margin shrinks to half the lifetime.
	f := newFetcher(clock, 10*time.Second)
	c := newCache(t, f, tokencache.Options{NoPrefetch: true})
	first := mustToken(t, c, "")
	clock.Advance(4 * time.Second)
	if mustToken(t, c, "").Value != first.Value {
		t.Fatal("a 10s token was not served at 4s")
	}
	clock.Advance(time.Second) // 5s: inside the margin
	if mustToken(t, c, "").Value == first.Value {
		t.Fatal("a 10s token was served inside its (halved) margin")
	}
	// Far in the future: no overflow, served fresh.
	far := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: "forever", Expiry: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, nil
	}, tokencache.Options{Clock: clock})
	defer far.Close()
	for range 3 {
		if tok, err := far.Token(context.Background(), ""); err != nil || tok.Value != "forever" {
			t.Fatal(tok, err)
		}
	}
	if far.Stats().Fetches != 1 {
		t.Fatal("a far-future token was refetched")
	}
	// No expiry: cached until invalidated.
	none := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: "static"}, nil
	}, tokencache.Options{Clock: clock})
	defer none.Close()
	mustToken(t, none, "")
	clock.Advance(24 * 365 * time.Hour)
	mustToken(t, none, "")
	if none.Stats().Fetches != 1 {
		t.Fatal("a token without expiry was refetched")
	}
}

func TestCache_PrefetchRefreshesUsedKeysOnly(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{})
	mustToken(t, c, "busy")
	mustToken(t, c, "quiet")
	mustToken(t, c, "busy") // used after its token was stored
	clock.Advance(staleAfter)
	testwait.Eventually(t, "the prefetch", func() bool { return c.Stats().Fetches == 3 })
	if got := c.Stats(); got.BackgroundRefreshes != 1 {
		t.Fatalf("only the used key may be prefetched: %+v", got)
	}
	if tok := mustToken(t, c, "busy"); tok.Value != "busy-tok-3" {
		t.Fatalf("busy serves %q, want the prefetched token", tok.Value)
	}
	if tok := mustToken(t, c, "quiet"); tok.Value != "quiet-tok-2" {
		t.Fatalf("quiet serves %q, want its first token (stale, not prefetched)", tok.Value)
	}
	off := newCache(t, newFetcher(clock, time.Hour), tokencache.Options{NoPrefetch: true})
	mustToken(t, off, "k")
	mustToken(t, off, "k")
	clock.Advance(staleAfter)
	if off.Stats().Fetches != 1 {
		t.Fatal("NoPrefetch still prefetched")
	}
}

func TestCache_LRUEvictionStopsTimers(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{MaxKeys: 3})
	for _, k := range []string{"a", "b", "c"} {
		mustToken(t, c, k)
	}
	mustToken(t, c, "a") // a is now more recent than b
	timers := len(clock.Pending())
	mustToken(t, c, "d")
	st := c.Stats()
	if st.Keys != 3 || st.Evictions != 1 {
		t.Fatalf("stats %+v", st)
	}
	if got := len(clock.Pending()); got != timers { // b's two timers stopped, d's two set
		t.Fatalf("%d timers pending, want %d", got, timers)
	}
	calls := f.calls.Load()
	mustToken(t, c, "a")
	mustToken(t, c, "c")
	if f.calls.Load() != calls {
		t.Fatal("a recently used key was evicted")
	}
	mustToken(t, c, "b")
	if f.calls.Load() != calls+1 {
		t.Fatal("b should have been the one evicted")
	}
}

func TestCache_CloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	started := make(chan struct{}, 100)
	c := tokencache.New(func(ctx context.Context, key string) (tokencache.Token, error) {
		if key == "slow" {
			started <- struct{}{}
			<-ctx.Done() // a fetch stuck on the network, released by Close
			return tokencache.Token{}, ctx.Err()
		}
		return tokencache.Token{Value: "v", Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{})
	for i := range 50 {
		mustToken(t, c, fmt.Sprint("k", i))
	}
	waiter := make(chan error, 1)
	go func() {
		_, err := c.Token(context.Background(), "slow")
		waiter <- err
	}()
	<-started
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waiter; err == nil {
		t.Fatal("a waiter got a token from a closed cache")
	}
	if _, err := c.Token(context.Background(), "k1"); !errors.Is(err, tokencache.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	testwait.Eventually(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestCache_StoreSharesTokensAndForgetsRejectedOnes(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	store := tokencache.NewMemoryStore(clock, 0)
	f1, f2 := newFetcher(clock, time.Hour), newFetcher(clock, time.Hour)
	f2.name = "c2:"
	c1 := newCache(t, f1, tokencache.Options{Store: store})
	c2 := newCache(t, f2, tokencache.Options{Store: store})
	tok := mustToken(t, c1, "k")
	if got := mustToken(t, c2, "k"); got.Value != tok.Value || f2.calls.Load() != 0 {
		t.Fatalf("the second cache fetched instead of reading the store")
	}
	if c2.Stats().StoreHits != 1 {
		t.Fatalf("stats %+v", c2.Stats())
	}
	c2.Invalidate("k", tok.Value)
	if got := mustToken(t, c2, "k"); got.Value == tok.Value || f2.calls.Load() != 1 {
		t.Fatalf("a rejected token came back from the store: %s (%d fetches)", got.Value, f2.calls.Load())
	}
}

func TestToken_FormattingHidesSecrets(t *testing.T) {
	t.Parallel()
	tok := tokencache.Token{Value: "secret-access", RefreshToken: "secret-refresh", Type: "Bearer", Expiry: t0}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "tok", tok)
	for _, out := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v %#v %s %q", tok, tok, tok, tok), logs.String()} {
		if strings.Contains(out, "secret") {
			t.Fatalf("token printed: %s", out)
		}
	}
}

func TestCache_LogsOmitKeysUnlessAsked(t *testing.T) {
	t.Parallel()
	for _, logKeys := range []bool{false, true} {
		var logs bytes.Buffer
		c := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
			return tokencache.Token{}, errors.New("down")
		}, tokencache.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), LogKeys: logKeys})
		c.Token(context.Background(), "account-4242")
		c.Close()
		if strings.Contains(logs.String(), "account-4242") != logKeys || !strings.Contains(logs.String(), "fetch failed") {
			t.Fatalf("LogKeys=%v: %s", logKeys, logs.String())
		}
	}
}

func TestCache_OnFetchHook(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	var keys []string
	var mu sync.Mutex
	c := newCache(t, newFetcher(clock, time.Hour), tokencache.Options{OnFetch: func(key string, d time.Duration, err error) {
		mu.Lock()
		keys = append(keys, key)
		mu.Unlock()
	}})
	mustToken(t, c, "acct-1")
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 1 || keys[0] != "acct-1" {
		t.Fatalf("hook saw %v", keys)
	}
}

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
	// The fetcher counts a call when it starts; the refreshed token is in the store (and the
	// cache) once the refresh has finished.
	testwait.Eventually(t, "the refresh finished", func() bool { return mustToken(t, c, "k").Value == "k-tok-2" })
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

// Static stability: in the safety margin before its real expiry a token whose refresh
// fails (or brings an already-expired token) is still served, since it still works for up
// to the margin; once it has really expired the error comes back.
func TestCache_ATokenStillValidIsServedWhenItsRefreshFailsInTheMargin(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, 10*time.Minute)
	c := newCache(t, f, tokencache.Options{NoPrefetch: true})
	first := mustToken(t, c, "k")
	f.failWith(errors.New("token endpoint down"))
	clock.Advance(10*time.Minute - 10*time.Second) // 10 s left: inside the 30 s margin
	for range 3 {
		tok, err := c.Token(context.Background(), "k")
		if err != nil || tok.Value != first.Value {
			t.Fatalf("in the margin: %q %v", tok.Value, err)
		}
		clock.Advance(2 * time.Second) // past the negative cache: each round fetches again
	}
	clock.Advance(5 * time.Second) // really expired
	if tok, err := c.Token(context.Background(), "k"); err == nil {
		t.Fatalf("an expired token was served: %q", tok.Value)
	}
	f.succeed()
	clock.Advance(2 * time.Second)
	if tok := mustToken(t, c, "k"); tok.Value == first.Value {
		t.Fatal("the endpoint is back but the old token is served")
	}
}

// A fetch finds the token it replaces (tokencache.Previous): the one held, or the one a
// server rejected, even when it came from the Store: a renewal with what the old token carries
// (a refresh token) must not lose it to the 401 that made it necessary.
func TestPrevious_TheFetchSeesTheTokenItReplaces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var seen []string
	var mu sync.Mutex
	n := 0
	c := tokencache.New(func(ctx context.Context, key string) (tokencache.Token, error) {
		prev, ok := tokencache.Previous(ctx)
		mu.Lock()
		defer mu.Unlock()
		n++
		if ok {
			seen = append(seen, prev.RefreshToken)
		} else {
			seen = append(seen, "none")
		}
		return tokencache.Token{Value: fmt.Sprintf("at-%d", n), RefreshToken: fmt.Sprintf("rt-%d", n), Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{})
	defer c.Close()
	tok, err := c.Token(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Invalidate("k", tok.Value) {
		t.Fatal("not invalidated")
	}
	if _, err := c.Token(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "none" || seen[1] != "rt-1" {
		t.Fatalf("the fetches saw %v, want [none rt-1]: the second replaces the rejected first", seen)
	}
}
