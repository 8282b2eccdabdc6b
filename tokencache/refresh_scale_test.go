package tokencache_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/telemetrytest"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

// slowEndpoint is a token endpoint that takes latency on the fake clock to answer, and
// records how many requests it had at once.
type slowEndpoint struct {
	clock    *tokencachetest.FakeClock
	latency  time.Duration
	inflight atomic.Int64
	max      atomic.Int64
	served   atomic.Int64
}

func (s *slowEndpoint) fetch(ctx context.Context, key string) (tokencache.Token, error) {
	n := s.inflight.Add(1)
	for m := s.max.Load(); n > m && !s.max.CompareAndSwap(m, n); m = s.max.Load() {
	}
	defer s.inflight.Add(-1)
	done := make(chan struct{})
	s.clock.AfterFunc(s.latency, func() { close(done) })
	select {
	case <-done:
	case <-ctx.Done():
		return tokencache.Token{}, ctx.Err()
	}
	s.served.Add(1)
	now := s.clock.Now()
	return tokencache.Token{Value: key + "-renewed", Issued: now, Expiry: now.Add(time.Hour)}, nil
}

// settle lets the goroutines woken by a step of the fake clock run until the endpoint's
// timers stop changing (bounded).
func settle(clock *tokencachetest.FakeClock) {
	prev := -1
	for range 40 {
		time.Sleep(100 * time.Microsecond)
		n := len(clock.Pending())
		if n == prev {
			return
		}
		prev = n
	}
}

// 100,000 keys fetched within one minute (a cold start) turn stale within the same minute
// and a half an hour later: with a concurrency that can keep up, every one is refreshed
// ahead, before its time in the cache ends, through at most MaxConcurrentFetches requests
// at once; with one that cannot, finauth says so once (a warning naming
// MaxConcurrentFetches) and counts the refreshes that lapsed, instead of letting tokens
// lapse silently. Fetches take 100 ms on an injected clock. Not parallel, nor its cases:
// it counts the process's goroutines.
func TestCache_RefreshAheadAtScale(t *testing.T) {
	n := 100_000
	if raceEnabled || testing.Short() {
		n = 20_000
	}
	for _, tc := range []struct {
		name        string
		concurrency int
		keepsUp     bool
	}{
		{"keeps up", 256, true},    // 2,560 refreshes/s for at most ~n/330 s needed
		{"falls behind", 4, false}, // 40/s
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := tokencachetest.NewFakeClock(t0)
			ep := &slowEndpoint{clock: clock, latency: 100 * time.Millisecond}
			var logs syncLog
			var mu sync.Mutex
			renewedAt := make(map[string]time.Time, n)
			rec := telemetrytest.New(t)
			c := tokencache.New(ep.fetch, tokencache.Options{Clock: clock, MaxKeys: n, MaxConcurrentFetches: tc.concurrency, MeterProvider: rec.Meter,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
				OnTokenChange: func(ch tokencache.TokenChange) {
					mu.Lock()
					renewedAt[ch.Key] = clock.Now()
					mu.Unlock()
				}})
			defer c.Close()
			// The cold start: tokens issued over a minute, each used once since (so that
			// prefetch refreshes it).
			expiries := make(map[string]time.Time, n)
			for i := range n {
				k := fmt.Sprintf("acct:%07d", i)
				exp := t0.Add(time.Hour + time.Duration(i)*time.Minute/time.Duration(n))
				expiries[k] = exp
				if err := c.Put(k, tokencache.Token{Value: k + "-cold", Issued: t0, Expiry: exp}); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Token(context.Background(), k); err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			clear(renewedAt) // the Puts
			mu.Unlock()
			clock.Advance(53 * time.Minute) // nothing is due before the refresh windows
			base := runtime.NumGoroutine()
			maxGoroutines := 0
			for end := t0.Add(time.Hour + 2*time.Minute); clock.Now().Before(end); {
				clock.Advance(100 * time.Millisecond)
				settle(clock)
				maxGoroutines = max(maxGoroutines, runtime.NumGoroutine()-base)
			}
			// The refreshes wait in a queue, not as a goroutine each (which would be n, at least
			// 20,000): a fetch runs on two (the flight and the call), one dispatcher starts
			// them, and the goroutines of fetches that just ended may not have exited yet when
			// the count is taken (on a loaded machine: 941 counted for 256 fetches at once, with
			// the bound at 3x then). The bound is what tells a queue from a goroutine each.
			if limit := 8*tc.concurrency + 100; maxGoroutines > limit {
				t.Fatalf("%d goroutines for %d refreshes at most %d at once (want at most %d)", maxGoroutines, n, tc.concurrency, limit)
			}
			st := c.Stats()
			t.Logf("%d keys, %d at once: %d refreshed ahead, %d lapsed, at most %d requests and %d goroutines at once", n, tc.concurrency, ep.served.Load(), st.LapsedRefreshes, ep.max.Load(), maxGoroutines)
			if m := ep.max.Load(); m > int64(tc.concurrency) {
				t.Fatalf("%d requests at once, over MaxConcurrentFetches %d", m, tc.concurrency)
			}
			warnings := strings.Count(logs.String(), "level=WARN")
			if tc.keepsUp {
				if ep.served.Load() != int64(n) || st.LapsedRefreshes != 0 || warnings != 0 {
					t.Fatalf("%d of %d refreshed, %d lapsed, %d warnings:\n%s", ep.served.Load(), n, st.LapsedRefreshes, warnings, logs.String())
				}
				mu.Lock()
				defer mu.Unlock()
				for k, exp := range expiries {
					at, ok := renewedAt[k]
					if !ok || !at.Before(exp.Add(-30*time.Second)) {
						t.Fatalf("%s renewed at %v (%v), its time in the cache ended at %v", k, at, ok, exp.Add(-30*time.Second))
					}
				}
				return
			}
			if st.LapsedRefreshes == 0 || warnings != 1 {
				t.Fatalf("%d lapsed, %d warnings: want lapses counted and one warning\n%s", st.LapsedRefreshes, warnings, logs.String())
			}
			// Refreshes still queued when the clock stopped keep counting lapses (a loaded
			// machine saw 3,618 collected against 3,617 read just before): the metric is the
			// counter at collection, between a read before and one after.
			before := c.Stats().LapsedRefreshes
			got := telemetrytest.Sum(rec.Metrics(t), "finauth.token.refresh.lapsed")
			after := c.Stats().LapsedRefreshes
			if got < float64(before) || got > float64(after) {
				t.Fatalf("finauth.token.refresh.lapsed = %v, the cache counted %d before collection and %d after", got, before, after)
			}
		})
	}
}

// syncLog is a log sink safe for concurrent writes.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
