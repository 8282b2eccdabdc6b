package tokencache

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/finauth/finauth/internal/telemetry"
	"go.opentelemetry.io/otel/trace"
)

// Fetching: one flight per key, shared by waiting callers and background refreshes; its
// result is stored before anyone is released.

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
		if e.has(flagEvicted) {
			e.mu.Unlock()
			continue // evicted between lookup and lock: take the new entry
		}
		if s := e.cur.Load(); s != nil && s.state.Load() != expired {
			e.mu.Unlock()
			c.touch(s)
			c.c.hits.add()
			return s.tok, nil
		}
		f := e.flight
		joined := f != nil
		if f == nil {
			if e.t != nil && e.t.lastErr != nil && c.o.Clock.Now().Before(e.t.errUntil) {
				err := e.t.lastErr
				tok, valid := c.stillValid(e)
				e.mu.Unlock()
				c.c.negativeHits.Add(1)
				if valid {
					return tok, nil // its refresh failed moments ago, but it still works
				}
				return Token{}, err
			}
			f = c.startLocked(e, trigger{span: trace.SpanContextFromContext(ctx)}) // not e.flight: after Close there is none, and f says ErrClosed
		}
		e.mu.Unlock()
		if joined {
			c.c.waits.Add(1)
			c.startNow(e, f) // a queued refresh ahead: this caller cannot wait for the queue
		} else {
			c.c.misses.Add(1)
		}
		select {
		case <-f.done:
			return f.tok, f.err
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
}

// startBackground starts a refresh ahead of expiry, unless a fetch already runs; link is the
// span of the request that found the token stale (none for a prefetch).
func (c *Cache) startBackground(e *entry, link trace.SpanContext) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flight != nil || (e.t != nil && e.t.retry != nil) {
		return // the running fetch or the pending retry is the refresh
	}
	if e.has(flagEvicted) || c.closed.Load() {
		e.clear(flagRefreshing)
		return
	}
	c.c.background.Add(1)
	c.startLocked(e, trigger{span: link, background: true})
}

// startLocked starts the fetch of e and returns its flight (already done with ErrClosed
// after Close). e.mu is held. The fetch runs on a context of its own:
// it carries neither the cancellation nor the values of the caller who happened to start it
// (such as httptrace hooks, which would fire after that caller has returned), since it
// serves every waiter and background refresh of the key.
func (c *Cache) startLocked(e *entry, why trigger) *flight {
	f := &flight{done: make(chan struct{}), why: why}
	e.flight = f
	if e.t != nil && e.t.retry != nil { // a caller needs the token now: do not wait for the backoff
		e.t.retry.Stop()
		e.t.retry = nil
	}
	if c.closed.Load() {
		e.flight = nil
		f.err = ErrClosed
		close(f.done)
		return f
	}
	if why.background {
		c.enqueue(e, f)
		return f
	}
	f.started.Store(true)
	c.wg.Add(1)
	go c.runWith(e, f, &fetchSlot{c: c})
	return f
}

// runWith runs the flight f of e, with slot (held already by a queued refresh's
// dispatcher, or taken when the fetch needs it).
func (c *Cache) runWith(e *entry, f *flight, slot *fetchSlot) {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(c.base, cancel)
	defer func() {
		stop()
		cancel()
	}()
	ctx, span := c.startSpan(ctx, e, f.why)
	tok, fromStore, err := c.obtain(ctx, e, slot)
	// The span ends before the waiters are released: whoever got the token finds the
	// fetch's span complete (a test reading spans right after Token saw none, now and then).
	c.endSpan(span, fromStore, err)
	stored, serving := c.finish(e, f, tok, fromStore, err)
	switch {
	case stored:
		c.onTokenChange(e.key, tok, fromStore)
	case err != nil:
		c.onRefreshError(e.key, err, f.why.background, serving)
	}
}

// obtain gets a token from the Store or the fetch function. The Store's calls and the fetch
// (with the Store's save) are each bounded by FetchTimeout; the fetch first waits for one of
// the MaxConcurrentFetches slots, for as long as it takes (the callers waiting for it leave
// on their own contexts), so that a cold start over many keys queues its token-endpoint
// calls instead of opening all of them at once. The fleet lock is taken only once the slot
// is held (and the slot given back while another process's fetch is awaited), so that a
// long queue never outlives the lock and lets another process fetch the key too.
func (c *Cache) obtain(ctx context.Context, e *entry, slot *fetchSlot) (Token, bool, error) {
	defer slot.release()
	if cl, ok := c.o.Store.(Claimer); ok {
		return c.claim(ctx, e, slot, cl)
	}
	if tok, ok := c.load(ctx, e); ok {
		return tok, true, nil
	}
	if err := slot.acquire(ctx); err != nil {
		return Token{}, false, ErrClosed // only Close cancels ctx
	}
	keep := c.saver(e)
	if fs, ok := c.o.Store.(FleetStore); ok {
		release, tok, ok := c.fleet(ctx, e, fs, slot)
		if ok {
			return tok, true, nil
		}
		if release != nil {
			defer release() // after the Save below, before the slot: the fleet finds the token before the lock goes
		}
		if err := slot.acquire(ctx); err != nil {
			return Token{}, false, ErrClosed
		}
	}
	tok, err := c.fetchNow(ctx, e, keep)
	return tok, false, err
}

// claim is obtain over a Claimer: a miss asks the Store once (drop the rejected token, adopt
// a usable one, or take the fleet lock), and the holder hands its token to the others in one
// more call; a waiter gets it with the release notice. The lock is asked only with a slot
// held (a queued fetch holds no lock); store trouble fetches alone.
func (c *Cache) claim(ctx context.Context, e *entry, slot *fetchSlot, cl Claimer) (Token, bool, error) {
	e.mu.Lock()
	rejected := e.rejected()
	e.mu.Unlock()
	for range fleetRounds + 1 { // one more: a first look without a slot
		q := Claim{Rejected: rejected, Now: c.o.Clock.Now(), SafetyMargin: c.o.SafetyMargin}
		if cur := e.cur.Load(); cur != nil {
			q.NewerThan = cur.tok.Expiry
		}
		if slot.try() {
			q.Lock = c.o.FetchTimeout
		}
		cctx, cancel := context.WithTimeout(ctx, c.o.FetchTimeout)
		got, err := cl.Claim(cctx, e.key, q)
		cancel()
		switch {
		case err != nil:
			c.log(e, slog.LevelWarn, "store claim failed; fetching without the fleet", "error", err)
			return c.fetchAlone(ctx, e, slot)
		case got.Found && got.Token.Value != rejected && c.adoptable(got.Token, c.o.Clock.Now()) && newer(got.Token, e.cur.Load()):
			return got.Token, true, nil
		case got.Found: // a stored token the Store could not judge, and the caller cannot use
			return c.fetchAlone(ctx, e, slot)
		case got.Held:
			tok, err := c.fetchNow(ctx, e, func(ctx context.Context, tok Token) error { return got.Handoff(ctx, tok) })
			if err != nil {
				got.Release()
			}
			return tok, false, err
		case q.Lock == 0: // nothing usable, and no slot yet: queue for one, then claim the lock
			if err := slot.acquire(ctx); err != nil {
				return Token{}, false, ErrClosed
			}
			continue
		}
		// Another process fetches: its token comes with the release notice.
		c.c.fleetWaits.Add(1)
		slot.release() // waiting for another process's fetch takes no slot of ours
		wctx, cancel := context.WithTimeout(ctx, c.o.FetchTimeout)
		tok, ok, err := cl.AwaitToken(wctx, e.key)
		werr := wctx.Err()
		cancel()
		if ok && tok.Value != rejected && c.adoptable(tok, c.o.Clock.Now()) && newer(tok, e.cur.Load()) {
			return tok, true, nil
		}
		if ctx.Err() != nil {
			return Token{}, false, ErrClosed
		}
		if err != nil && werr == nil {
			c.log(e, slog.LevelWarn, "store wait failed; fetching without the fleet", "error", err)
			return c.fetchAlone(ctx, e, slot)
		}
	}
	return c.fetchAlone(ctx, e, slot) // a holder that did not deliver: this process must not stall
}

// fetchAlone fetches without the fleet (its token still saved for the others).
func (c *Cache) fetchAlone(ctx context.Context, e *entry, slot *fetchSlot) (Token, bool, error) {
	if err := slot.acquire(ctx); err != nil {
		return Token{}, false, ErrClosed
	}
	tok, err := c.fetchNow(ctx, e, c.saver(e))
	return tok, false, err
}

// saver keeps e's fetched token in the Store (a failure is logged: the token is served from
// memory all the same).
func (c *Cache) saver(e *entry) func(context.Context, Token) error {
	return func(ctx context.Context, tok Token) error { return c.o.Store.Save(ctx, e.key, tok) }
}

// fetchNow calls the fetch function (the slot is held), counts and records the fetch, and
// hands a token it got to keep (the Store's save, or a Claimer's handoff), all within
// FetchTimeout.
func (c *Cache) fetchNow(ctx context.Context, e *entry, keep func(context.Context, Token) error) (Token, error) {
	if ctx.Err() != nil || c.closed.Load() {
		// Closed while waiting: the slot may still be granted (a release racing the
		// cancellation, which reaches ctx asynchronously), but no fetch starts after Close.
		return Token{}, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.FetchTimeout)
	defer cancel()
	if prev, ok := c.previous(e); ok {
		ctx = context.WithValue(ctx, previousKey{}, prev)
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
	if tok.Issued.IsZero() {
		tok.Issued = start
	}
	c.c.fetches.Add(1)
	if err != nil {
		c.c.fetchErrors.Add(1)
	}
	c.tel.Fetched(ctx, now.Sub(start), telemetry.ReasonOf(err))
	c.fetched(now.Sub(start))
	c.onFetch(e.key, now.Sub(start), err)
	if err == nil && c.o.Store != nil {
		if serr := keep(ctx, tok); serr != nil {
			c.log(e, slog.LevelWarn, "store save failed", "error", serr)
		}
	}
	return tok, err
}

// fetchSlot is one of the MaxConcurrentFetches slots, held or not.
type fetchSlot struct {
	c    *Cache
	held bool
}

// acquire waits for the slot unless it is held.
func (s *fetchSlot) acquire(ctx context.Context) error {
	if s.held {
		return nil
	}
	if err := s.c.fetchSlots.Acquire(ctx, 1); err != nil {
		return err
	}
	s.held = true
	return nil
}

// try takes the slot if one is free at once (or it is held already), without waiting.
func (s *fetchSlot) try() bool {
	if !s.held && s.c.fetchSlots.TryAcquire(1) {
		s.held = true
	}
	return s.held
}

// release gives the slot back if it is held.
func (s *fetchSlot) release() {
	if s.held {
		s.c.fetchSlots.Release(1)
		s.held = false
	}
}

// load reads a usable token from the Store, after deleting the one a server rejected.
func (c *Cache) load(ctx context.Context, e *entry) (Token, bool) {
	st := c.o.Store
	if st == nil {
		return Token{}, false
	}
	e.mu.Lock()
	rejected := e.rejected()
	e.mu.Unlock()
	if rejected != "" {
		dctx, cancel := context.WithTimeout(ctx, c.o.FetchTimeout)
		err := st.Delete(dctx, e.key, rejected)
		cancel()
		if err != nil {
			c.log(e, slog.LevelWarn, "store delete failed", "error", err)
		}
	}
	return c.loadUsable(ctx, st, e, rejected)
}

// newer reports whether tok may replace cur: any token when there is none, and otherwise
// only one that expires later, so that a refresh ahead of expiry does not read back the very
// token it is replacing (and lose the refresh window to ride out an outage).
func newer(tok Token, cur *slot) bool {
	if cur == nil {
		return true
	}
	if cur.tok.Expiry.IsZero() {
		return tok.Value != cur.tok.Value
	}
	return tok.Expiry.IsZero() || tok.Expiry.After(cur.tok.Expiry)
}

// callFetch calls the fetch function and returns its result, or gives up when ctx ends (at
// FetchTimeout, or Close) even if the function does not: a fetch that ignores its context
// is left to finish on its own goroutine, and its late result is dropped.
func (c *Cache) callFetch(ctx context.Context, key string) (Token, error) {
	type result struct {
		tok Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := c.safeFetch(ctx, key)
		done <- result{tok, err}
	}()
	select {
	case r := <-done:
		return r.tok, r.err
	case <-ctx.Done():
		if c.closed.Load() {
			return Token{}, ErrClosed
		}
		return Token{}, &FetchTimeoutError{Timeout: c.o.FetchTimeout}
	}
}

// safeFetch calls the fetch function, turning a panic into a *PanicError.
func (c *Cache) safeFetch(ctx context.Context, key string) (tok Token, err error) {
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

// finish stores the outcome of a fetch and releases its waiters. It reports whether tok was
// stored, and, after a failure, whether a token that still works is served.
func (c *Cache) finish(e *entry, f *flight, tok Token, fromStore bool, err error) (stored, serving bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flight = nil
	if err == nil {
		if fromStore {
			c.c.storeHits.Add(1)
		}
		f.tok = tok
		// A token adopted from the Store after a 401 of this key is confirmed by this
		// process too: while revocations churn, the others may use a token up before the
		// process that fetched it sees it work, and a rejection nobody confirmed is held
		// back as a token refused at once (Worked).
		how := uint32(markFetched)
		if fromStore {
			how = markAdopted
			if e.rejected() != "" {
				how |= markFetched
			}
		}
		e.settled()
		if !e.has(flagEvicted) && !c.closed.Load() {
			c.storeLocked(e, tok, how)
			stored = true
		}
		e.clear(flagRefreshing)
		close(f.done)
		return stored, false
	}
	if cur := e.cur.Load(); cur != nil && cur.state.Load() != expired && !e.has(flagEvicted) && !c.closed.Load() {
		// Stale-if-error: keep serving the usable token, retry in the background.
		r := e.rare()
		r.failures++
		delay := c.o.backoff(r.failures)
		r.retry = c.o.Clock.AfterFunc(delay, func() { c.retryFire(e) })
		c.log(e, slog.LevelWarn, "refresh failed; serving the cached token until it expires", "error", err, "attempt", r.failures, "retry_in", delay)
		f.tok = cur.tok
		close(f.done)
		return false, true
	}
	if c.closed.Load() {
		err = ErrClosed // whatever the cancelled fetch said, the cause is Close
	}
	e.clear(flagRefreshing)
	if c.o.NegativeTTL > 0 {
		r := e.rare()
		r.lastErr, r.errUntil = err, c.o.Clock.Now().Add(c.o.NegativeTTL)
	}
	if tok, valid := c.stillValid(e); valid && !c.closed.Load() {
		// Static stability: inside the safety margin, but not yet expired. The margin is
		// for refreshing early, not a cut-off: serve the token until it really expires.
		c.log(e, slog.LevelWarn, "refresh failed in the safety margin; serving the cached token until its real expiry", "error", err, "expires_in", tok.Expiry.Sub(c.o.Clock.Now()))
		f.tok = tok
		close(f.done)
		return false, true
	}
	c.log(e, slog.LevelWarn, "fetch failed", "error", err)
	f.err = err
	close(f.done)
	return false, false
}

// stillValid returns e's token when it is past its safety margin (expired for the cache)
// but not past its real expiry, less a guard for the request's own time on the wire (a
// second, or a tenth of a shorter lifetime): it still works. An invalidated or evicted token
// is never valid. e.mu is held.
func (c *Cache) stillValid(e *entry) (Token, bool) {
	s := e.cur.Load()
	if s == nil || e.has(flagEvicted) || s.tok.Expiry.IsZero() {
		return Token{}, false
	}
	guard := time.Second
	if life := s.tok.Expiry.Sub(s.tok.Issued); !s.tok.Issued.IsZero() && life > 0 {
		guard = min(guard, life/10)
	}
	if !c.o.Clock.Now().Before(s.tok.Expiry.Add(-guard)) {
		return Token{}, false
	}
	return s.tok, true
}

func (c *Cache) retryFire(e *entry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.t != nil {
		e.t.retry = nil
	}
	if e.flight != nil || e.has(flagEvicted) || c.closed.Load() {
		return
	}
	c.c.background.Add(1)
	c.startLocked(e, trigger{background: true})
}

// storeLocked makes tok the current token and schedules its move to stale and expired;
// fetched says that it came from the fetch (or Put), not from the Store. e.mu is held.
func (c *Cache) storeLocked(e *entry, tok Token, how uint32) {
	if old := e.cur.Load(); old != nil {
		c.unschedule(e, old)
	}
	s := &slot{key: e.key, tok: tok}
	s.mark.Store(how & (markFetched | markAdopted))
	e.cur.Store(s) // published before it is scheduled, so a transition never sees an unpublished slot
	c.idx.show(e)
	if !tok.Expiry.IsZero() {
		c.schedule(e, s)
	}
}

// onStale is e's token turning stale. Prefetch: a key used since its token was stored is
// refreshed now, so that a quiet service does not wake up to an expired token.
func (c *Cache) onStale(e *entry, s *slot) {
	if !c.o.NoPrefetch && s.mark.Load()&markUsed != 0 && e.claim(flagRefreshing) {
		c.startBackground(e, trace.SpanContext{})
	}
}

// previousKey carries, in a fetch's context, the token it replaces.
type previousKey struct{}

// Previous returns, inside a FetchFunc, the token the fetch replaces: the one the cache holds
// for the key (stale, or past its safety margin), or the one a server rejected
// (Invalidate) since. A fetch that renews with what the old token carries (a refresh token)
// finds it here even when the token came from the Store and was rejected before the fetch
// began. ok is false for a key that had no token.
func Previous(ctx context.Context) (Token, bool) {
	tok, ok := ctx.Value(previousKey{}).(Token)
	return tok, ok
}

// previous is e's token, or the one Invalidate dropped since.
func (c *Cache) previous(e *entry) (Token, bool) {
	if s := e.cur.Load(); s != nil {
		return s.tok, true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.t != nil && e.t.replaced.Value != "" {
		return e.t.replaced, true
	}
	return Token{}, false
}
