package tokencache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/finauth/finauth/testkit/telemetrytest"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

// BenchmarkCacheHit: the hot path with a fresh token, beside golang.org/x/oauth2's
// ReuseTokenSource over a static source (a mutex and an expiry check per call).
func BenchmarkCacheHit(b *testing.B) {
	c := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: "v", Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{})
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Token(ctx, ""); err != nil {
		b.Fatal(err)
	}
	src := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "v", Expiry: time.Now().Add(time.Hour)}))
	// telemetry=off: no SDK (the global providers, no-ops); telemetry=on: the real SDK, a
	// MeterProvider with a reader and a TracerProvider sampling everything. Each gets a cache
	// of its own, made the same way. The hits are the same code either way: lookups are
	// read at collection time.
	rec := telemetrytest.New(b)
	for _, tc := range []struct {
		name string
		opts tokencache.Options
	}{{"telemetry=off", tokencache.Options{}}, {"telemetry=on", tokencache.Options{MeterProvider: rec.Meter, TracerProvider: rec.Tracer}}} {
		tc := tc
		cache := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
			return tokencache.Token{Value: "v", Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
		}, tc.opts)
		defer cache.Close()
		if _, err := cache.Token(ctx, ""); err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name+"/sequential", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cache.Token(ctx, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := cache.Token(ctx, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	b.Run("finauth/sequential", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Token(ctx, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("finauth/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Token(ctx, ""); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// The same with a Store configured (a FleetStore, as a Redis store is): the hit path never
	// touches it, so these match the two above.
	withStore := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: "v", Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{Store: tokencache.NewMemoryStore(nil, 0)})
	defer withStore.Close()
	if _, err := withStore.Token(ctx, ""); err != nil {
		b.Fatal(err)
	}
	b.Run("finauth+store/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := withStore.Token(ctx, ""); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	hs := withStore.Handle("")
	b.Run("handle+store/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := hs.Token(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	h := c.Handle("")
	b.Run("handle/sequential", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.Token(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("handle/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := h.Token(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("oauth2/sequential", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := src.Token(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("oauth2/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := src.Token(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkExpiryStorm: goroutines pile onto an expired key; each op is one storm. The
// figure that matters is fetches/storm, which must be 1.
func BenchmarkExpiryStorm(b *testing.B) {
	const goroutines = 1000
	clock := tokencachetest.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var fetches atomic.Int64
	c := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		fetches.Add(1)
		return tokencache.Token{Value: "v", Expiry: clock.Now().Add(time.Hour)}, nil
	}, tokencache.Options{Clock: clock, NoPrefetch: true})
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Token(ctx, "k"); err != nil {
		b.Fatal(err)
	}
	fetches.Store(0)
	b.ReportAllocs()
	storms := 0
	for b.Loop() {
		clock.Advance(2 * time.Hour) // expired
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := c.Token(ctx, "k"); err != nil {
					b.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		storms++
	}
	b.ReportMetric(float64(fetches.Load())/float64(storms), "fetches/storm")
}
