package tokencache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

// The rules of a rejected token (Cache.Rejected, Accepted), on a fake clock, without HTTP:
// what transport.Bearer used to decide and now only asks.

// sequence is a fetch that hands out the values given, in order, then v1, v2, ... after them;
// each token lives an hour on clock.
func sequence(clock *tokencachetest.FakeClock, values ...string) (tokencache.FetchFunc, *atomic.Int64) {
	var n atomic.Int64
	return func(context.Context, string) (tokencache.Token, error) {
		i := int(n.Add(1))
		v := fmt.Sprintf("v%d", i)
		if i <= len(values) {
			v = values[i-1]
		}
		return tokencache.Token{Value: v, Expiry: clock.Now().Add(time.Hour)}, nil
	}, &n
}

func rejected(t *testing.T, c *tokencache.Cache, value string, a tokencache.Attempt) (string, bool) {
	t.Helper()
	tok, ok, err := c.Rejected(context.Background(), "k", value, a)
	if err != nil {
		t.Fatalf("Rejected(%s): %v", value, err)
	}
	return tok.Value, ok
}

func TestRejected_Rules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, c *tokencache.Cache, clock *tokencachetest.FakeClock, fetches *atomic.Int64)
	}{
		{"a rejected token is replaced once and the request replayed with its successor", func(t *testing.T, c *tokencache.Cache, _ *tokencachetest.FakeClock, fetches *atomic.Int64) {
			if v, ok := rejected(t, c, "v1", tokencache.FirstTry); !ok || v != "v2" || fetches.Load() != 2 {
				t.Fatalf("%q %v after %d fetches", v, ok, fetches.Load())
			}
		}},
		{"a storm of rejections of one token costs one fetch", func(t *testing.T, c *tokencache.Cache, _ *tokencachetest.FakeClock, fetches *atomic.Int64) {
			var wg sync.WaitGroup
			var bad atomic.Int64
			for range 20 {
				wg.Go(func() {
					if tok, ok, err := c.Rejected(ctx, "k", "v1", tokencache.FirstTry); err != nil || !ok || tok.Value != "v2" {
						bad.Add(1)
					}
				})
			}
			wg.Wait()
			if bad.Load() != 0 || fetches.Load() != 2 || c.Stats().SuppressedRefreshes != 0 {
				t.Fatalf("%d rejections not replayed with v2, %d fetches", bad.Load(), fetches.Load())
			}
		}},
		{"a token rejected at once after a rejection's fetch is held back until the interval", func(t *testing.T, c *tokencache.Cache, clock *tokencachetest.FakeClock, fetches *atomic.Int64) {
			rejected(t, c, "v1", tokencache.FirstTry)
			for range 10 {
				if _, ok := rejected(t, c, "v2", tokencache.FirstTry); ok {
					t.Fatal("replayed a token rejected at once, within the interval")
				}
			}
			if fetches.Load() != 2 || c.Stats().SuppressedRefreshes != 10 {
				t.Fatalf("%d fetches, %d suppressed", fetches.Load(), c.Stats().SuppressedRefreshes)
			}
			clock.Advance(tokencache.DefaultRejectionInterval)
			if v, ok := rejected(t, c, "v2", tokencache.FirstTry); !ok || v != "v3" {
				t.Fatalf("after the interval: %q %v", v, ok)
			}
		}},
		{"a token that worked and is then rejected is replaced at once", func(t *testing.T, c *tokencache.Cache, _ *tokencachetest.FakeClock, fetches *atomic.Int64) {
			rejected(t, c, "v1", tokencache.FirstTry)
			c.Accepted("k", "v2")
			if v, ok := rejected(t, c, "v2", tokencache.FirstTry); !ok || v != "v3" || c.Stats().SuppressedRefreshes != 0 {
				t.Fatalf("a revocation of a token that worked: %q %v", v, ok)
			}
		}},
		{"a request that cannot be sent again drops its token if allowed, and is never replayed", func(t *testing.T, c *tokencache.Cache, _ *tokencachetest.FakeClock, fetches *atomic.Int64) {
			if _, ok := rejected(t, c, "v1", tokencache.Final); ok {
				t.Fatal("a final attempt was replayed")
			}
			if tok, _ := c.Token(ctx, "k"); tok.Value != "v2" {
				t.Fatalf("the next request's token: %q, want v2", tok.Value)
			}
			if _, ok := rejected(t, c, "v2", tokencache.Final); ok || c.Stats().SuppressedRefreshes != 1 {
				t.Fatal("a token fetched after a rejection and rejected at once was dropped again")
			}
			if tok, _ := c.Token(ctx, "k"); tok.Value != "v2" || fetches.Load() != 2 {
				t.Fatalf("%q after %d fetches", tok.Value, fetches.Load())
			}
		}},
		{"a replay's rejection of the token a rejection fetched goes back, uncounted", func(t *testing.T, c *tokencache.Cache, _ *tokencachetest.FakeClock, fetches *atomic.Int64) {
			rejected(t, c, "v1", tokencache.FirstTry)
			if _, ok := rejected(t, c, "v2", tokencache.Replay); ok || c.Stats().SuppressedRefreshes != 0 || fetches.Load() != 2 {
				t.Fatalf("replayed again (%v), %d suppressed, %d fetches", ok, c.Stats().SuppressedRefreshes, fetches.Load())
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := tokencachetest.NewFakeClock(t0)
			fetch, fetches := sequence(clock)
			c := tokencache.New(fetch, tokencache.Options{Clock: clock})
			t.Cleanup(func() { c.Close() })
			if tok, err := c.Token(ctx, "k"); err != nil || tok.Value != "v1" {
				t.Fatal(tok, err)
			}
			tc.run(t, c, clock, fetches)
		})
	}
}

// Without a limit (RejectionInterval negative), every rejection fetches.
func TestRejected_NoLimit(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	fetch, fetches := sequence(clock)
	c := tokencache.New(fetch, tokencache.Options{Clock: clock, RejectionInterval: -1})
	defer c.Close()
	c.Token(context.Background(), "k")
	for i := 1; i <= 5; i++ {
		if v, ok := rejected(t, c, fmt.Sprintf("v%d", i), tokencache.FirstTry); !ok || v != fmt.Sprintf("v%d", i+1) {
			t.Fatalf("rejection %d: %q %v", i, v, ok)
		}
	}
	if fetches.Load() != 6 {
		t.Fatalf("%d fetches", fetches.Load())
	}
}

// A fetch in flight as the rejection came may bring back the very token rejected (read from a
// Store that still held it): it is dropped and fetched once more before the replay, instead
// of replaying it and returning its second 401 (found by TestCLI_RedisFailsOverUnderTraffic).
func TestRejected_AFetchThatBringsBackTheRejectedTokenIsAskedAgain(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	fetch, fetches := sequence(clock, "v1", "v1", "v2")
	c := tokencache.New(fetch, tokencache.Options{Clock: clock})
	defer c.Close()
	c.Token(context.Background(), "k")
	if v, ok := rejected(t, c, "v1", tokencache.FirstTry); !ok || v != "v2" || fetches.Load() != 3 {
		t.Fatalf("%q %v after %d fetches: want v1 refetched, dropped, then v2", v, ok, fetches.Load())
	}
}

// With a shared Store: a rejection held back adopts the token another process stored (at
// most one Store read per 100 ms when nothing waits), and a token that worked for another
// process is a revocation, fetched at once.
func TestRejected_WithAStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// clock nil: the real one (a wait for another process polls the Store on it).
	setup := func(t *testing.T, fleetWait time.Duration, fake bool) (a, b *tokencache.Cache, aFetches *atomic.Int64, clock tokencache.Clock) {
		clock = tokencache.RealClock{}
		if fake {
			clock = tokencachetest.NewFakeClock(t0)
		}
		store := tokencache.NewMemoryStore(clock, 0)
		var n atomic.Int64
		aFetches = new(atomic.Int64)
		fetch := func(counter *atomic.Int64) tokencache.FetchFunc {
			return func(context.Context, string) (tokencache.Token, error) {
				counter.Add(1)
				i := n.Add(1)
				// Each later token expires later (a token is adopted only if it is newer).
				return tokencache.Token{Value: fmt.Sprint("v", i), Expiry: clock.Now().Add(time.Hour + time.Duration(i)*time.Second)}, nil
			}
		}
		a = tokencache.New(fetch(aFetches), tokencache.Options{Store: store, Clock: clock, FleetWait: fleetWait})
		b = tokencache.New(fetch(new(atomic.Int64)), tokencache.Options{Store: store, Clock: clock, FleetWait: fleetWait})
		t.Cleanup(func() { a.Close(); b.Close() })
		a.Token(ctx, "k") // v1, shared
		return a, b, aFetches, clock
	}
	t.Run("held back, it adopts another process's token", func(t *testing.T) {
		t.Parallel()
		a, b, aFetches, _ := setup(t, -1, true)
		rejected(t, a, "v1", tokencache.FirstTry) // v2, on record
		b.Token(ctx, "k")                         // adopts v2
		b.Invalidate("k", "v2")                   // B sees v2 rejected too
		if tok, _ := b.Token(ctx, "k"); tok.Value != "v3" {
			t.Fatalf("B: %q", tok.Value)
		}
		if v, ok := rejected(t, a, "v2", tokencache.FirstTry); !ok || v != "v3" || aFetches.Load() != 2 {
			t.Fatalf("A held back: %q %v after %d fetches of its own", v, ok, aFetches.Load())
		}
	})
	t.Run("a token that worked for another process is a revocation", func(t *testing.T) {
		t.Parallel()
		a, b, aFetches, _ := setup(t, 5*time.Second, false)
		b.Token(ctx, "k")                         // adopts v1 ...
		rejected(t, a, "v1", tokencache.FirstTry) // A: v1 rejected, v2 fetched, on record
		b.Invalidate("k", "v1")                   // B sees v1 rejected too, and adopts v2 after that: it vouches for v2
		if tok, _ := b.Token(ctx, "k"); tok.Value != "v2" {
			t.Fatalf("B: %q", tok.Value)
		}
		b.Accepted("k", "v2")
		// A holds v2 back (fetched after its rejection of v1), waits, and hears from the store
		// that v2 worked for B: a revocation, fetched.
		if v, ok := rejected(t, a, "v2", tokencache.Replay); !ok || v != "v3" || aFetches.Load() != 3 {
			t.Fatalf("A: %q %v after %d fetches", v, ok, aFetches.Load())
		}
		if aFetches.Load() != 3 {
			t.Fatalf("A fetched %d times, want its revocation fetched", aFetches.Load())
		}
	})
	t.Run("a rejection that cannot be replayed reads the store at most every 100 ms", func(t *testing.T) {
		t.Parallel()
		a, b, aFetches, clock := setup(t, -1, true)
		rejected(t, a, "v1", tokencache.FirstTry) // v2, on record
		b.Token(ctx, "k")
		b.Invalidate("k", "v2")
		b.Token(ctx, "k")                      // v3 in the store
		rejected(t, a, "v2", tokencache.Final) // held back: reads the store, adopts v3
		if tok, _ := a.Token(ctx, "k"); tok.Value != "v3" || aFetches.Load() != 2 {
			t.Fatalf("A serves %q after %d fetches", tok.Value, aFetches.Load())
		}
		b.Invalidate("k", "v3")
		b.Token(ctx, "k") // v4
		rejected(t, a, "v3", tokencache.Final)
		if tok, _ := a.Token(ctx, "k"); tok.Value != "v3" {
			t.Fatalf("A read the store again within 100 ms: %q", tok.Value)
		}
		clock.(*tokencachetest.FakeClock).Advance(100 * time.Millisecond)
		rejected(t, a, "v3", tokencache.Final)
		if tok, _ := a.Token(ctx, "k"); tok.Value != "v4" {
			t.Fatalf("100 ms later: %q", tok.Value)
		}
	})
}

// Accepted is free while nothing was rejected and nothing is shared, and a Rejected of an
// evicted or unknown key still answers.
func TestRejected_UnknownKeyAndFetchErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("token endpoint down")
	c := tokencache.New(func(context.Context, string) (tokencache.Token, error) { return tokencache.Token{}, boom }, tokencache.Options{})
	defer c.Close()
	c.Accepted("nothing", "x")
	if _, ok, err := c.Rejected(context.Background(), "nothing", "x", tokencache.FirstTry); ok || !errors.Is(err, boom) {
		t.Fatalf("%v %v", ok, err)
	}
}
