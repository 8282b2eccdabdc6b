package tokencache

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/finauth/finauth/internal/absent"
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
// its state, which the scheduler moves forward (fresh -> stale -> expired), and the record
// of its use. It is also its entry's view in the index: a hit reads the slot (the key to
// check, the state, the token) and writes nothing but, rarely, its use.
// 128 bytes, two cache lines.
type slot struct {
	state atomic.Uint32
	mark  atomic.Uint32 // markUsed | markConfirmed | markFetched | markAdopted | the key's last use (Cache.gen, 28 bits)
	key   string
	tok   Token
}

// The bits of slot.mark.
const (
	markUsed      = 1 << 31 // used since it was stored (for prefetch)
	markConfirmed = 1 << 30 // Confirm told the Store that this token worked
	// markFetched: this process fetched the token (not adopted from the Store), or adopted
	// it after a 401 of its key: it tells the others the token worked (one marker per
	// token for the fleet, not one per process, until revocations churn).
	markFetched = 1 << 29
	// markAdopted: the token came from the Store (another process fetched it).
	markAdopted = 1 << 28
	markGen     = 1<<28 - 1
)

// age is how many insertions ago (modulo 2^29) the key was last used, at generation g.
func (s *slot) age(g uint64) uint32 { return (uint32(g) - s.mark.Load()) & markGen }

// confirm sets markConfirmed and reports whether it was not set before.
func (s *slot) confirm() bool {
	for {
		m := s.mark.Load()
		if m&markConfirmed != 0 {
			return false
		}
		if s.mark.CompareAndSwap(m, m|markConfirmed) {
			return true
		}
	}
}

// entry is everything the cache holds for one key: 64 bytes, what a key needs in the common
// case; what only a key in trouble needs (a failed refresh, a rejected token) is in trouble,
// made when needed and dropped once the key is settled again.
type entry struct {
	key    string
	cur    atomic.Pointer[slot] // nil: no token
	mu     sync.Mutex
	flight *flight       // the fetch in progress, shared by all waiters
	t      *trouble      // under mu; nil while the key is settled
	hole   *slot         // the view while there is no token; made by the index, under its mu
	flags  atomic.Uint32 // flagRefreshing, flagEvicted
	// sched is the place of the current slot's transition in the scheduler's heap (-1:
	// none), under sched.mu: only the current slot is ever scheduled.
	sched int32
}

// Entry flags.
const (
	flagRefreshing        = 1 << iota // a background refresh runs or waits for its backoff
	flagEvicted                       // dropped (evicted, or Close): holds no token
	flagRejectionOnRecord             // a rejection's fetch is on record and no newer token accepted since (Accepted)
)

// placeholder is e's view while it has no token: expired, so that it never hits. The
// index's mu is held.
func (e *entry) placeholder() *slot {
	if e.hole == nil {
		e.hole = &slot{key: e.key}
		e.hole.state.Store(expired)
	}
	return e.hole
}

func (e *entry) has(f uint32) bool { return e.flags.Load()&f != 0 }
func (e *entry) set(f uint32)      { e.flags.Or(f) }
func (e *entry) clear(f uint32)    { e.flags.And(^f) }

// claim sets f unless it is set already, and reports whether it did.
func (e *entry) claim(f uint32) bool {
	for {
		old := e.flags.Load()
		if old&f != 0 {
			return false
		}
		if e.flags.CompareAndSwap(old, old|f) {
			return true
		}
	}
}

// trouble is what a key needs only after a failure or a rejection. e.mu guards it.
type trouble struct {
	retry      Timer // pending background retry after a failure
	failures   int   // consecutive background failures
	lastErr    error // remembered failure (negative cache) ...
	errUntil   time.Time
	rejected   string       // the value last dropped by Invalidate, for the Store
	replaced   Token        // the token Invalidate dropped, for the fetch that replaces it (Previous)
	newer      *newerFlight // a wait for another process's token, shared by its waiters
	lastReload int64        // Unix ns of the last reload read from the Store
	// The last fetch a rejection caused (Rejected): when, after a rejection of which token,
	// whether a newer token was accepted since, and the last fetch granted without the
	// fleet's word (blind). Kept across fetches: it is what limits them.
	lastRejection time.Time
	refreshedFor  string
	acceptedSince bool
	blindAt       time.Time
}

// rare returns e's trouble, making it. e.mu is held.
func (e *entry) rare() *trouble {
	if e.t == nil {
		e.t = &trouble{}
	}
	return e.t
}

// rejected is the value Invalidate last dropped, or "". e.mu is held.
func (e *entry) rejected() string {
	if e.t == nil {
		return ""
	}
	return e.t.rejected
}

// settled forgets the failures and the rejection after a fetch succeeded, dropping the
// trouble unless a wait for a newer token still uses it. e.mu is held.
func (e *entry) settled() {
	if e.t == nil {
		return
	}
	if e.t.newer == nil && e.t.retry == nil && e.t.lastRejection.IsZero() {
		e.t = nil
		return
	}
	e.t.failures, e.t.lastErr, e.t.rejected, e.t.replaced = 0, nil, "", Token{}
}

// flight is one fetch; done is closed when tok/err are set.
type flight struct {
	done chan struct{}
	tok  Token
	err  error
	why  trigger
	// started: a queued refresh's fetch has begun (the dispatcher's, or a caller's who
	// needed the token and would not wait for the queue).
	started atomic.Bool
}

// Cache holds tokens by key and fetches them with one FetchFunc. It is safe for concurrent
// use. Close it to stop its timers and background work.
type Cache struct {
	fetch    FetchFunc
	o        Options
	idx      *index // key -> *entry, read without locks
	gen      atomic.Uint64
	lruSlack uint32 // how stale a key's recorded use may be: MaxKeys/64 insertions

	mu sync.Mutex // guards inserting and evicting keys, and Close

	closed atomic.Bool
	base   context.Context // cancelled by Close; every fetch context ends with it
	cancel context.CancelFunc
	wg     sync.WaitGroup // running fetches

	fetchSlots *semaphore.Weighted // MaxConcurrentFetches
	sched      scheduler
	qmu        sync.Mutex // guards q; a leaf lock
	q          refreshQueue

	c          counters
	rejections atomic.Int64 // entries that ever had a rejection's fetch on record (Accepted's fast path)

	tel         *telemetry.Recorder
	stopObserve func()
}

// New returns a Cache that fetches tokens with fetch.
func New(fetch FetchFunc, opts Options) *Cache {
	base, cancel := context.WithCancel(context.Background())
	absent.Clear(&opts) // a nil of any type (a nil *redisstore.Store as Store) means "none"
	o := opts.withDefaults()
	c := &Cache{fetch: fetch, o: o, base: base, cancel: cancel, idx: newIndex(), fetchSlots: semaphore.NewWeighted(int64(o.MaxConcurrentFetches)),
		tel: telemetry.New(o.Name, telemetry.Providers{Meter: o.MeterProvider, Tracer: o.TracerProvider})}
	c.o.Store = observeStore(o.Store, c.tel)
	c.lruSlack = uint32(min(o.MaxKeys/64, markGen/4))
	c.stopObserve = c.tel.Observe(telemetry.Source{Lookups: c.lookups, Expiry: c.soonestExpiry, Lapsed: c.c.lapsed.Load})
	return c
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	keys := c.idx.len()
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
		LapsedRefreshes:      c.c.lapsed.Load(),
		InvalidationsDropped: c.c.dropped.Load(),
		InvalidationsNoop:    c.c.noop.Load(),
		Evictions:            c.c.evictions.Load(),
		SuppressedRefreshes:  c.c.suppressed.Load(),
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
	c.idx.each(func(_ *slot, e *entry) bool {
		c.drop(e)
		return true
	})
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
