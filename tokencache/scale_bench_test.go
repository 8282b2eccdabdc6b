package tokencache_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/tokencache"
)

// scaleKeys and scaleTokens are n account keys and their 900-byte tokens, made before any
// measurement so that neither counts as the cache's memory.
func scaleKeys(n int) (keys []string, tokens map[string]string) {
	keys = make([]string, n)
	tokens = make(map[string]string, n)
	pad := strings.Repeat("t", 900-16)
	for i := range keys {
		keys[i] = fmt.Sprintf("acct:%010d", i)
		tokens[keys[i]] = fmt.Sprintf("%016d", i) + pad
	}
	return keys, tokens
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// scaleCache fills a cache with every key's token through its fetch, and returns it with
// the heap it took (the keys and token values excepted: they were made before).
func scaleCache(b *testing.B, keys []string, tokens map[string]string) (*tokencache.Cache, uint64, time.Duration) {
	b.Helper()
	expiry := time.Now().Add(time.Hour)
	before := heapInUse()
	start := time.Now()
	c := tokencache.New(func(_ context.Context, key string) (tokencache.Token, error) {
		return tokencache.Token{Value: tokens[key], Type: "Bearer", Expiry: expiry}, nil
	}, tokencache.Options{MaxKeys: len(keys), MaxConcurrentFetches: 64})
	ctx := context.Background()
	for _, k := range keys {
		if _, err := c.Token(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	fill := time.Since(start)
	after := heapInUse()
	return c, after - before, fill
}

// BenchmarkCacheMemoryPerKey: the heap one key costs beyond its token value and key string
// (the bookkeeping: entry, slot, index, scheduler), and the fill time, at 10,000 and
// 100,000 keys of 900-byte tokens (FINAUTH_SCALE_SIZES=10000,100000,1000000 for a
// million: 20 s and 1.5 GB). Run with -benchtime=1x: each op is a whole fill.
func BenchmarkCacheMemoryPerKey(b *testing.B) {
	for _, n := range scaleSizes() {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			keys, tokens := scaleKeys(n)
			var perKey, fillPerKey float64
			for b.Loop() {
				c, heap, fill := scaleCache(b, keys, tokens)
				perKey = float64(heap) / float64(n)
				fillPerKey = float64(fill.Nanoseconds()) / float64(n)
				c.Close()
			}
			b.ReportMetric(perKey, "B/key")
			b.ReportMetric(fillPerKey, "fill-ns/key")
		})
	}
}

// BenchmarkLookupAtScale: Cache.Token by key for keys spread over a cache of n keys, beside
// a plain map[string]*T lookup of the same keys in the same order at the same size (the
// floor of a hashed lookup once the table no longer fits in the CPU caches).
func BenchmarkLookupAtScale(b *testing.B) {
	for _, n := range scaleSizes() {
		keys, tokens := scaleKeys(n)
		c, _, _ := scaleCache(b, keys, tokens)
		type value struct{ tok tokencache.Token }
		m := make(map[string]*value, n)
		for _, k := range keys {
			m[k] = &value{tok: tokencache.Token{Value: tokens[k]}}
		}
		// A stride that visits every key in an order unrelated to insertion.
		const stride = 7919
		ctx := context.Background()
		// Every key used once, as a cache in service has been: a token's first hit records
		// that it was used (one compare-and-swap on its slot, for prefetch and eviction);
		// the hits after it only read, and those are what is measured.
		for _, k := range keys {
			if _, err := c.Token(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("%d/cache", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i = (i + stride) % n
				if _, err := c.Token(ctx, keys[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("%d/map", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			var sink *value
			for b.Loop() {
				i = (i + stride) % n
				sink = m[keys[i]]
			}
			_ = sink
		})
		// The same map, reading the token it points at: what a lookup that returns the token
		// (as Cache.Token does) cannot avoid.
		b.Run(fmt.Sprintf("%d/map+token", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			var sink tokencache.Token
			for b.Loop() {
				i = (i + stride) % n
				sink = m[keys[i]].tok
			}
			_ = sink
		})
		// The three above, interleaved: each op is a block of blockLookups lookups by each
		// of the three in turn, so that the machine's drift over a run (other tenants, the
		// clock) falls on all three alike; x-map is the cache's time over the plain map's,
		// x-map+token over the map's that reads the token too.
		b.Run(fmt.Sprintf("%d/interleaved", n), func(b *testing.B) {
			const blockLookups = 20_000
			var tc, tm, tt time.Duration
			i := 0
			var sinkV *value
			var sinkT tokencache.Token
			for b.Loop() {
				start := time.Now()
				for range blockLookups {
					i = (i + stride) % n
					if _, err := c.Token(ctx, keys[i]); err != nil {
						b.Fatal(err)
					}
				}
				tc += time.Since(start)
				start = time.Now()
				for range blockLookups {
					i = (i + stride) % n
					sinkV = m[keys[i]]
				}
				tm += time.Since(start)
				start = time.Now()
				for range blockLookups {
					i = (i + stride) % n
					sinkT = m[keys[i]].tok
				}
				tt += time.Since(start)
			}
			_, _ = sinkV, sinkT
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*blockLookups) }
			b.ReportMetric(per(tc), "cache-ns/lookup")
			b.ReportMetric(per(tm), "map-ns/lookup")
			b.ReportMetric(per(tt), "map+token-ns/lookup")
			b.ReportMetric(float64(tc)/float64(tm), "x-map")
			b.ReportMetric(float64(tc)/float64(tt), "x-map+token")
		})
		b.Run(fmt.Sprintf("%d/cache-parallel", n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(time.Now().UnixNano() % int64(n))
				for pb.Next() {
					i = (i + stride) % n
					if _, err := c.Token(ctx, keys[i]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run(fmt.Sprintf("%d/map-parallel", n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(time.Now().UnixNano() % int64(n))
				var sink *value
				for pb.Next() {
					i = (i + stride) % n
					sink = m[keys[i]]
				}
				_ = sink
			})
		})
		c.Close()
	}
}

// scaleSizes are the sizes of the scale benchmarks: FINAUTH_SCALE_SIZES (comma-separated)
// or 10,000 and 100,000 (CI runs every benchmark once; a million keys is an opt-in run).
func scaleSizes() []int {
	v := os.Getenv("FINAUTH_SCALE_SIZES")
	if v == "" {
		return []int{10_000, 100_000}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}
