package tokencache

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/finauth/finauth/internal/telemetry"
	"golang.org/x/sync/semaphore"
)

type state = uint32

const (
	fresh state = iota
	stale
	expired
)

// slot is one cached token and its state. A slot is replaced, never changed, except for
// its state, which the scheduler moves forward (fresh -> stale -> expired).
type slot struct {
	tok       Token
	state     atomic.Uint32
	confirmed atomic.Bool // Confirm told the Store that this token worked
	// The scheduler's: the entry, the transition times (Unix ns), the next one, and the
	// place in its heap (-1 when not in it); next and index are guarded by sched.mu.
	e                  *entry
	staleAt, expiredAt int64
	next               int64
	index              int
}

// entry is everything the cache holds for one key.
type entry struct {
	key        string
	cur        atomic.Pointer[slot] // nil: no token
	lastUsed   atomic.Uint64        // Cache.gen when last used (for LRU eviction)
	index      int                  // place in Cache.all; guarded by Cache.mu
	used       atomic.Bool          // used since the current token was stored (for prefetch)
	refreshing atomic.Bool          // a background refresh runs or waits for its backoff
	lastReload atomic.Int64         // Unix ns of the last Reload read from the Store

	mu       sync.Mutex
	flight   *flight // the fetch in progress, shared by all waiters
	retry    Timer   // pending background retry after a failure
	failures int     // consecutive background failures
	lastErr  error   // remembered failure (negative cache) ...
	errUntil time.Time
	rejected string // the value last dropped by Invalidate, for the Store
	evicted  bool
	newer    *newerFlight // a wait for another process's token, shared by its waiters
}

// flight is one fetch; done is closed when tok/err are set.
type flight struct {
	done chan struct{}
	tok  Token
	err  error
	why  trigger
}

// Cache holds tokens by key and fetches them with one FetchFunc. It is safe for concurrent
// use. Close it to stop its timers and background work.
type Cache struct {
	fetch   FetchFunc
	o       Options
	entries sync.Map // string -> *entry
	gen     atomic.Uint64

	mu  sync.Mutex // guards inserting and evicting keys, and Close
	all []*entry   // every entry, for eviction's sample; entry.index is its place

	closed atomic.Bool
	base   context.Context // cancelled by Close; every fetch context ends with it
	cancel context.CancelFunc
	wg     sync.WaitGroup // running fetches

	fetchSlots *semaphore.Weighted // MaxConcurrentFetches
	sched      scheduler

	c counters

	tel         *telemetry.Recorder
	stopObserve func()
}

// New returns a Cache that fetches tokens with fetch.
func New(fetch FetchFunc, opts Options) *Cache {
	base, cancel := context.WithCancel(context.Background())
	o := opts.withDefaults()
	c := &Cache{fetch: fetch, o: o, base: base, cancel: cancel, fetchSlots: semaphore.NewWeighted(int64(o.MaxConcurrentFetches)),
		tel: telemetry.New(o.Name, telemetry.Providers{Meter: o.MeterProvider, Tracer: o.TracerProvider})}
	c.o.Store = observeStore(o.Store, c.tel)
	c.stopObserve = c.tel.Observe(telemetry.Source{Lookups: c.lookups, Expiry: c.soonestExpiry})
	return c
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	keys := len(c.all)
	c.mu.Unlock()
	return Stats{
		Hits:                 c.c.hits.sum(),
		StaleHits:            c.c.staleHits.sum(),
		Misses:               c.c.misses.Load(),
		Waits:                c.c.waits.Load(),
		NegativeHits:         c.c.negativeHits.Load(),
		Fetches:              c.c.fetches.Load(),
		FetchErrors:          c.c.fetchErrors.Load(),
		StoreHits:            c.c.storeHits.Load(),
		FleetWaits:           c.c.fleetWaits.Load(),
		BackgroundRefreshes:  c.c.background.Load(),
		InvalidationsDropped: c.c.dropped.Load(),
		InvalidationsNoop:    c.c.noop.Load(),
		Evictions:            c.c.evictions.Load(),
		Keys:                 keys,
	}
}

// Close stops every timer and background refresh, cancels running fetches and returns once
// each has returned or been abandoned: Close waits for no fetch function, only for the
// cache's own goroutines, so it returns promptly even if a fetch ignores its context (that
// fetch finishes on its own and its result is dropped). Waiting and later callers get
// ErrClosed. Close is idempotent.
func (c *Cache) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.mu.Lock()
	c.entries.Range(func(_, v any) bool {
		c.drop(v.(*entry))
		return true
	})
	c.all = nil
	c.mu.Unlock()
	c.closeScheduler()
	c.cancel()
	c.wg.Wait()
	c.stopObserve()
	return nil
}

func (c *Cache) log(e *entry, level slog.Level, msg string, args ...any) {
	if !c.o.Logger.Enabled(context.Background(), level) {
		return
	}
	if c.o.LogKeys {
		args = append(args, "key", e.key)
	}
	c.o.Logger.Log(context.Background(), level, "finauth: tokencache: "+msg, args...)
}
