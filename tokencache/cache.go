package tokencache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoFetch is returned when the cache was made without a fetch function.
var ErrNoFetch = errors.New("finauth: tokencache: no fetch function; pass one to tokencache.New")

type state = uint32

const (
	fresh state = iota
	stale
	expired
)

// slot is one cached token and its state. A slot is replaced, never changed, except for
// its state, which timers move forward (fresh -> stale -> expired).
type slot struct {
	tok   Token
	state atomic.Uint32
	// timers are the stale and expiry timers; guarded by entry.mu.
	timers [2]Timer
}

// entry is everything the cache holds for one key.
type entry struct {
	key        string
	cur        atomic.Pointer[slot] // nil: no token
	lastUsed   atomic.Uint64        // Cache.gen when last used (for LRU eviction)
	used       atomic.Bool          // used since the current token was stored (for prefetch)
	refreshing atomic.Bool          // a background refresh runs or waits for its backoff

	mu       sync.Mutex
	flight   *flight // the fetch in progress, shared by all waiters
	retry    Timer   // pending background retry after a failure
	failures int     // consecutive background failures
	lastErr  error   // remembered failure (negative cache) ...
	errUntil time.Time
	rejected string // the value last dropped by Invalidate, for the Store
	evicted  bool
}

// flight is one fetch; done is closed when tok/err are set.
type flight struct {
	done chan struct{}
	tok  Token
	err  error
}

// Cache holds tokens by key and fetches them with one FetchFunc. It is safe for concurrent
// use. Close it to stop its timers and background work.
type Cache struct {
	fetch   FetchFunc
	o       Options
	entries sync.Map // string -> *entry
	gen     atomic.Uint64

	mu   sync.Mutex // guards inserting and evicting keys, and Close
	keys int

	closed atomic.Bool
	base   context.Context // cancelled by Close; every fetch context ends with it
	cancel context.CancelFunc
	wg     sync.WaitGroup // running fetches

	c counters
}

// New returns a Cache that fetches tokens with fetch.
func New(fetch FetchFunc, opts Options) *Cache {
	base, cancel := context.WithCancel(context.Background())
	return &Cache{fetch: fetch, o: opts.withDefaults(), base: base, cancel: cancel}
}

// Token returns key's token. A fresh token is returned from memory with atomic loads only.
// A stale one is returned too, and one background refresh starts. With no usable token the
// caller waits, until ctx ends, for the single fetch of that key. The returned Token must
// not be modified (its Extra map is shared).
func (c *Cache) Token(ctx context.Context, key string) (Token, error) {
	if v, ok := c.entries.Load(key); ok {
		e := v.(*entry)
		if s := e.cur.Load(); s != nil {
			switch s.state.Load() {
			case fresh:
				c.touch(e)
				c.c.hits.add()
				return s.tok, nil
			case stale:
				c.touch(e)
				c.c.staleHits.add()
				if e.refreshing.CompareAndSwap(false, true) {
					c.startBackground(e)
				}
				return s.tok, nil
			}
		}
	}
	return c.wait(ctx, key)
}

// touch records a use: for LRU eviction and for prefetch. Both are read-mostly, so the
// common case is two loads and no store.
func (c *Cache) touch(e *entry) {
	if g := c.gen.Load(); e.lastUsed.Load() != g {
		e.lastUsed.Store(g)
	}
	if !e.used.Load() {
		e.used.Store(true)
	}
}

// wait is the slow path: no usable token in memory.
func (c *Cache) wait(ctx context.Context, key string) (Token, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Token{}, err
		}
		e, err := c.entry(key)
		if err != nil {
			return Token{}, err
		}
		e.mu.Lock()
		if e.evicted {
			e.mu.Unlock()
			continue // evicted between lookup and lock: take the new entry
		}
		if s := e.cur.Load(); s != nil && s.state.Load() != expired {
			e.mu.Unlock()
			c.touch(e)
			c.c.hits.add()
			return s.tok, nil
		}
		if e.flight == nil {
			if e.lastErr != nil && c.o.Clock.Now().Before(e.errUntil) {
				err := e.lastErr
				e.mu.Unlock()
				c.c.negativeHits.Add(1)
				return Token{}, err
			}
			c.startLocked(e, ctx)
		}
		f := e.flight
		e.mu.Unlock()
		c.touch(e)
		c.c.misses.Add(1)
		select {
		case <-f.done:
			return f.tok, f.err
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
}

// entry returns key's entry, making it (and evicting the least recently used key beyond
// MaxKeys) when there is none.
func (c *Cache) entry(key string) (*entry, error) {
	if v, ok := c.entries.Load(key); ok {
		return v.(*entry), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if v, ok := c.entries.Load(key); ok {
		return v.(*entry), nil
	}
	if c.keys >= c.o.MaxKeys {
		c.evictLocked()
	}
	e := &entry{key: key}
	e.lastUsed.Store(c.gen.Add(1))
	c.entries.Store(key, e)
	c.keys++
	return e, nil
}

// evictLocked drops the least recently used entry. Uses are recorded as the insertion
// generation current at the time, so "least recently used" is exact relative to
// insertions, which is what matters when one has to make room.
func (c *Cache) evictLocked() {
	var victim *entry
	c.entries.Range(func(_, v any) bool {
		e := v.(*entry)
		if victim == nil || e.lastUsed.Load() < victim.lastUsed.Load() {
			victim = e
		}
		return true
	})
	if victim == nil {
		return
	}
	c.drop(victim)
	c.keys--
	c.c.evictions.Add(1)
}

// drop removes an entry and stops its timers; its running fetch, if any, completes for its
// waiters but is not stored anywhere visible.
func (c *Cache) drop(e *entry) {
	e.mu.Lock()
	e.evicted = true
	if s := e.cur.Load(); s != nil {
		stopTimers(s)
	}
	if e.retry != nil {
		e.retry.Stop()
		e.retry = nil
	}
	e.mu.Unlock()
	c.entries.CompareAndDelete(e.key, e)
}

func stopTimers(s *slot) {
	for i, t := range s.timers {
		if t != nil {
			t.Stop()
			s.timers[i] = nil
		}
	}
}

// startBackground starts a refresh ahead of expiry, unless a fetch already runs.
func (c *Cache) startBackground(e *entry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flight != nil || e.retry != nil {
		return // the running fetch or the pending retry is the refresh
	}
	if e.evicted || c.closed.Load() {
		e.refreshing.Store(false)
		return
	}
	c.c.background.Add(1)
	c.startLocked(e, nil)
}

// startLocked starts the fetch of e. callerCtx (nil for background work) lends its values,
// not its cancellation. e.mu is held.
func (c *Cache) startLocked(e *entry, callerCtx context.Context) {
	f := &flight{done: make(chan struct{})}
	e.flight = f
	if e.retry != nil { // a caller needs the token now: do not wait for the backoff
		e.retry.Stop()
		e.retry = nil
	}
	if c.closed.Load() {
		e.flight = nil
		f.err = ErrClosed
		close(f.done)
		return
	}
	parent := context.Background()
	if callerCtx != nil {
		parent = context.WithoutCancel(callerCtx)
	}
	c.wg.Add(1)
	go c.run(e, f, parent)
}

func (c *Cache) run(e *entry, f *flight, parent context.Context) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(parent, c.o.FetchTimeout)
	stop := context.AfterFunc(c.base, cancel)
	defer func() {
		stop()
		cancel()
	}()
	tok, fromStore, err := c.obtain(ctx, e)
	c.finish(e, f, tok, fromStore, err)
}

// obtain gets a token from the Store or the fetch function.
func (c *Cache) obtain(ctx context.Context, e *entry) (Token, bool, error) {
	e.mu.Lock()
	rejected := e.rejected
	e.mu.Unlock()
	st := c.o.Store
	if st != nil {
		if rejected != "" {
			if err := st.Delete(ctx, e.key, rejected); err != nil {
				c.log(e, slog.LevelWarn, "store delete failed", "error", err)
			}
		}
		tok, ok, err := st.Load(ctx, e.key)
		switch {
		case err != nil:
			c.log(e, slog.LevelWarn, "store load failed", "error", err)
		case ok && tok.Value != "" && tok.Value != rejected &&
			(tok.Expiry.IsZero() || tok.Expiry.Sub(c.o.Clock.Now()) > 2*c.o.SafetyMargin):
			return tok, true, nil
		}
	}
	start := c.o.Clock.Now()
	tok, err := c.callFetch(ctx, e.key)
	now := c.o.Clock.Now()
	switch {
	case err != nil:
	case tok.Value == "":
		err = ErrEmptyToken
	case !tok.Expiry.IsZero() && !tok.Expiry.After(now):
		err = ErrExpiredToken
	}
	c.c.fetches.Add(1)
	if err != nil {
		c.c.fetchErrors.Add(1)
	}
	c.onFetch(e.key, now.Sub(start), err)
	if err == nil && st != nil {
		if serr := st.Save(ctx, e.key, tok); serr != nil {
			c.log(e, slog.LevelWarn, "store save failed", "error", serr)
		}
	}
	return tok, false, err
}

func (c *Cache) callFetch(ctx context.Context, key string) (tok Token, err error) {
	defer func() {
		if r := recover(); r != nil {
			tok, err = Token{}, &PanicError{ValueType: fmt.Sprintf("%T", r), Stack: debug.Stack()}
		}
	}()
	if c.fetch == nil {
		return Token{}, ErrNoFetch
	}
	return c.fetch(ctx, key)
}

func (c *Cache) onFetch(key string, d time.Duration, err error) {
	if c.o.OnFetch == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			c.o.Logger.Error("finauth: tokencache: OnFetch hook panicked", "panic_type", fmt.Sprintf("%T", r))
		}
	}()
	c.o.OnFetch(key, d, err)
}

// finish stores the outcome of a fetch and releases its waiters.
func (c *Cache) finish(e *entry, f *flight, tok Token, fromStore bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flight = nil
	if err == nil {
		if fromStore {
			c.c.storeHits.Add(1)
		}
		f.tok = tok
		e.failures, e.lastErr, e.rejected = 0, nil, ""
		if !e.evicted && !c.closed.Load() {
			c.storeLocked(e, tok)
		}
		e.refreshing.Store(false)
		close(f.done)
		return
	}
	if cur := e.cur.Load(); cur != nil && cur.state.Load() != expired && !e.evicted && !c.closed.Load() {
		// Stale-if-error: keep serving the usable token, retry in the background.
		e.failures++
		delay := c.o.backoff(e.failures)
		e.retry = c.o.Clock.AfterFunc(delay, func() { c.retryFire(e) })
		c.log(e, slog.LevelWarn, "refresh failed; serving the cached token until it expires", "error", err, "attempt", e.failures, "retry_in", delay)
		f.tok = cur.tok
		close(f.done)
		return
	}
	c.log(e, slog.LevelWarn, "fetch failed", "error", err)
	e.refreshing.Store(false)
	f.err = err
	if c.o.NegativeTTL > 0 {
		e.lastErr, e.errUntil = err, c.o.Clock.Now().Add(c.o.NegativeTTL)
	}
	close(f.done)
}

func (c *Cache) retryFire(e *entry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.retry = nil
	if e.flight != nil || e.evicted || c.closed.Load() {
		return
	}
	c.c.background.Add(1)
	c.startLocked(e, nil)
}

// storeLocked makes tok the current token and sets the timers that move it to stale and
// expired. e.mu is held.
func (c *Cache) storeLocked(e *entry, tok Token) {
	if old := e.cur.Load(); old != nil {
		stopTimers(old)
	}
	s := &slot{tok: tok}
	e.used.Store(false)
	e.cur.Store(s) // published before its timers exist, so a timer never sees an unpublished slot
	if tok.Expiry.IsZero() {
		return
	}
	now := c.o.Clock.Now()
	staleAt, expiredAt := c.o.schedule(now, tok.Expiry)
	s.timers[0] = c.o.Clock.AfterFunc(staleAt.Sub(now), func() { c.onStale(e, s) })
	s.timers[1] = c.o.Clock.AfterFunc(expiredAt.Sub(now), func() { c.onExpired(e, s) })
}

func (c *Cache) onStale(e *entry, s *slot) {
	if e.cur.Load() != s || !s.state.CompareAndSwap(fresh, stale) {
		return
	}
	// Prefetch: a key used since its token was stored is refreshed now, so that a quiet
	// service does not wake up to an expired token.
	if !c.o.NoPrefetch && e.used.Load() && e.refreshing.CompareAndSwap(false, true) {
		c.startBackground(e)
	}
}

func (c *Cache) onExpired(e *entry, s *slot) {
	if e.cur.Load() == s {
		s.state.Store(expired)
	}
}

// Invalidate drops key's token if it is still rejected (the value a server refused), and
// reports whether it did. If another caller already replaced it, nothing happens: a storm
// of rejections of one token costs one fetch.
func (c *Cache) Invalidate(key, rejected string) bool {
	v, ok := c.entries.Load(key)
	if !ok {
		c.c.noop.Add(1)
		return false
	}
	e := v.(*entry)
	s := e.cur.Load()
	if s == nil || s.tok.Value != rejected || !e.cur.CompareAndSwap(s, nil) {
		c.c.noop.Add(1)
		return false
	}
	c.c.dropped.Add(1)
	e.mu.Lock()
	stopTimers(s)
	e.rejected = rejected
	e.mu.Unlock()
	return true
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	keys := c.keys
	c.mu.Unlock()
	return Stats{
		Hits:                 c.c.hits.sum(),
		StaleHits:            c.c.staleHits.sum(),
		Misses:               c.c.misses.Load(),
		NegativeHits:         c.c.negativeHits.Load(),
		Fetches:              c.c.fetches.Load(),
		FetchErrors:          c.c.fetchErrors.Load(),
		StoreHits:            c.c.storeHits.Load(),
		BackgroundRefreshes:  c.c.background.Load(),
		InvalidationsDropped: c.c.dropped.Load(),
		InvalidationsNoop:    c.c.noop.Load(),
		Evictions:            c.c.evictions.Load(),
		Keys:                 keys,
	}
}

// Close stops every timer and background refresh, cancels running fetches and waits for
// them to return. Waiting callers get the fetch's error or ErrClosed; later calls get
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
	c.keys = 0
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
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
