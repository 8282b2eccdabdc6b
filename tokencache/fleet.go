package tokencache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"
)

// reloadInterval is the least time between two reload reads of one key from the Store.
const reloadInterval = 100 * time.Millisecond

// reload adopts e's token from the Store when the Store has a usable one other than
// rejected and newer than the one held (another process replaced it), without fetching,
// and reports whether it did: for a rejection held back (Rejected), since a token shared by
// several processes may have been replaced by another process already. A key is read from
// the Store at most once per 100 ms, so that an API that rejects every token does not turn
// each rejection into a Store read.
func (c *Cache) reload(ctx context.Context, e *entry, rejected string) (Token, bool) {
	if c.o.Store == nil {
		return Token{}, false
	}
	now := c.o.Clock.Now().UnixNano()
	e.mu.Lock()
	r := e.rare()
	if now-r.lastReload < int64(reloadInterval) {
		e.mu.Unlock()
		return Token{}, false
	}
	r.lastReload = now
	e.mu.Unlock()
	tok, ok := c.loadUsable(ctx, c.o.Store, e, rejected)
	if !ok {
		return Token{}, false
	}
	return tok, c.adopt(e, tok)
}

// adopt makes tok, another process's token from the Store, e's token if it is newer than
// the one held (confirmed by this process too: it was adopted after a rejection), and
// reports whether it was the holder's token afterwards.
func (c *Cache) adopt(e *entry, tok Token) bool {
	e.mu.Lock()
	if e.has(flagEvicted) || c.closed.Load() {
		e.mu.Unlock()
		return false
	}
	stored := false
	if cur := e.cur.Load(); cur == nil || newer(tok, cur) {
		c.storeLocked(e, tok, markAdopted|markFetched)
		c.c.storeHits.Add(1)
		stored = true
	}
	e.mu.Unlock()
	if stored {
		c.onTokenChange(e.key, tok, true)
	}
	return true
}

// confirm tells the Store, once per token, that value (e's current token) was accepted by
// the server: the other processes sharing the Store then know that its rejection later is a
// revocation of a token that worked, not a token refused at once (worked). The Store is
// written in the background.
func (c *Cache) confirm(e *entry, value string) {
	s := e.cur.Load()
	if s == nil || s.mark.Load()&(markConfirmed|markFetched) != markFetched || s.tok.Value != value || !s.confirm() || c.closed.Load() {
		return
	}
	marker := Token{Value: workedValue(value), Expiry: s.tok.Expiry}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(c.base, c.o.FetchTimeout)
		defer cancel()
		if err := c.o.Store.Save(ctx, workedKey(e.key), marker); err != nil {
			c.log(e, slog.LevelWarn, "store save failed", "error", err)
		}
	}()
}

// adopted reports whether value is e's current token and came from the Store (another
// process fetched it), rather than from this cache's own fetch.
func (c *Cache) adopted(e *entry, value string) bool {
	s := e.cur.Load()
	return s != nil && s.tok.Value == value && s.mark.Load()&markAdopted != 0
}

// worked reports whether a process sharing the Store confirmed that value, a token of key,
// was accepted by the server (confirm), with the Store's error.
func (c *Cache) worked(ctx context.Context, key, value string) (bool, error) {
	if c.o.Store == nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.FetchTimeout)
	defer cancel()
	m, ok, err := c.o.Store.Load(ctx, workedKey(key))
	return err == nil && ok && m.Value == workedValue(value), err
}

// workedKey is the Store key of the marker saying which token of key worked: no cache key
// starts with a NUL.
func workedKey(key string) string { return "\x00worked\x00" + key }

// workedValue is what the marker holds: a hash of the token, not the token.
func workedValue(value string) string {
	sum := sha256.Sum256([]byte(value))
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// newerPoll is how often a wait for another process's token reads the Store while no
// process holds the key's fetch lock (with a lock, it waits for its release).
const newerPoll = 20 * time.Millisecond

// newerFlight is one wait for a token newer than rejected, shared by every caller that
// waits for the same.
type newerFlight struct {
	rejected string
	done     chan struct{}
	result   newerResult // set before done is closed
}

// newerResult is what awaitNewer found: a newer token (tok, ok), or that the rejected token
// had worked for another process (worked: its rejection is a revocation, which may be
// fetched), or neither within the wait; unknown: neither, because the Store did not answer
// (its breaker is open): the token may have been shared, and used up, before the Store
// went, and may be fetched now and then rather than every request held back until the
// Store is back.
type newerResult struct {
	tok                 Token
	ok, worked, unknown bool
}

// awaitNewer waits, for at most FleetWait, for a usable token of e's key other than
// rejected that another process puts in the Store (or that this cache gets meanwhile),
// adopts it and returns it; it stops early, with worked, when a process confirms that
// rejected had worked. It never fetches; without a Store it returns at once with nothing.
// It is for a rejection held back whose fleet shares tokens: the token this process adopted
// may have been revoked before it used it, while another process, for which it worked, is
// already fetching the next. The wait follows that process's fetch lock (a FleetStore's
// Await) and otherwise reads the Store every 20 ms; concurrent callers waiting for the same
// share one wait, on a context of its own (each caller leaves on its own ctx).
func (c *Cache) awaitNewer(ctx context.Context, e *entry, rejected string) newerResult {
	wait := c.o.FleetWait
	if c.o.Store == nil || wait == 0 {
		return newerResult{}
	}
	if wait < 0 { // no wait: what the Store holds now, if anything
		tok, ok := c.reload(ctx, e, rejected)
		return newerResult{tok: tok, ok: ok && tok.Value != rejected}
	}
	e.mu.Lock()
	if e.has(flagEvicted) || c.closed.Load() {
		e.mu.Unlock()
		return newerResult{}
	}
	var f *newerFlight
	if e.t != nil {
		f = e.t.newer
	}
	if f == nil || f.rejected != rejected {
		f = &newerFlight{rejected: rejected, done: make(chan struct{})}
		e.rare().newer = f
		c.wg.Add(1)
		go c.runNewer(e, f, wait)
	}
	e.mu.Unlock()
	select {
	case <-f.done:
		return f.result
	case <-ctx.Done():
		return newerResult{}
	}
}

// runNewer runs a newerFlight: until wait has passed or the cache closes, it takes the
// token the cache holds if it is newer, or one from the Store, following the fleet lock.
func (c *Cache) runNewer(e *entry, f *newerFlight, wait time.Duration) {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(c.base, cancel)
	defer func() {
		stop()
		cancel()
		e.mu.Lock()
		if e.t != nil && e.t.newer == f {
			e.t.newer = nil
		}
		e.mu.Unlock()
		close(f.done)
	}()
	deadline := c.o.Clock.Now().Add(wait)
	fs, fleet := c.o.Store.(FleetStore)
	for {
		if cur := e.cur.Load(); cur != nil && cur.tok.Value != f.rejected && cur.state.Load() != expired {
			f.result = newerResult{tok: cur.tok, ok: true}
			return
		}
		if tok, ok := c.loadUsable(ctx, c.o.Store, e, f.rejected); ok {
			c.adopt(e, tok)
			f.result = newerResult{tok: tok, ok: true}
			return
		}
		worked, err := c.worked(ctx, e.key, f.rejected)
		if worked {
			f.result.worked = true
			return
		}
		left := deadline.Sub(c.o.Clock.Now())
		if err != nil || left <= 0 || ctx.Err() != nil {
			f.result.unknown = err != nil
			return // nothing within the wait, or the Store does not answer
		}
		start := c.o.Clock.Now()
		if fleet {
			wctx, wcancel := context.WithTimeout(ctx, left)
			fs.Await(wctx, e.key) // a fetch in progress elsewhere: its token is saved before its lock goes
			wcancel()
		}
		if pause := newerPoll - c.o.Clock.Now().Sub(start); pause > 0 && !c.sleep(ctx, min(pause, left)) {
			return
		}
	}
}

// sleep waits d on the cache's clock; false when ctx ended first.
func (c *Cache) sleep(ctx context.Context, d time.Duration) bool {
	woke := make(chan struct{})
	t := c.o.Clock.AfterFunc(d, func() { close(woke) })
	defer t.Stop()
	select {
	case <-woke:
		return true
	case <-ctx.Done():
		return false
	}
}

// fleetRounds bounds how many times a fetch waits for another process's fetch before it
// fetches on its own (a holder that keeps failing must not stall this process).
const fleetRounds = 3

// fleet takes the fleet's fetch lock for e's key (release non-nil: fetch, save, then
// release), or waits for the process holding it and returns its token (ok). With neither
// (store trouble, or a holder that did not deliver in fleetRounds), the caller fetches alone.
// The caller holds slot when it calls fleet; fleet gives it back while it waits for another
// process, and takes it again before it tries the lock once more.
func (c *Cache) fleet(ctx context.Context, e *entry, fs FleetStore, slot *fetchSlot) (release func(), tok Token, ok bool) {
	e.mu.Lock()
	rejected := e.rejected()
	e.mu.Unlock()
	for range fleetRounds {
		if err := slot.acquire(ctx); err != nil {
			return nil, Token{}, false
		}
		rel, got, err := fs.Lock(ctx, e.key, c.o.FetchTimeout)
		if err != nil {
			c.log(e, slog.LevelWarn, "store lock failed; fetching without the fleet", "error", err)
			return nil, Token{}, false
		}
		if got {
			// The holder before us may have saved its token after our first load.
			if tok, ok := c.loadUsable(ctx, fs, e, rejected); ok {
				rel()
				return nil, tok, true
			}
			return rel, Token{}, false
		}
		c.c.fleetWaits.Add(1)
		slot.release() // waiting for another process's fetch takes no slot of ours
		wctx, cancel := context.WithTimeout(ctx, c.o.FetchTimeout)
		err = fs.Await(wctx, e.key)
		cancel()
		if tok, ok := c.loadUsable(ctx, fs, e, rejected); ok {
			return nil, tok, true
		}
		if err != nil && ctx.Err() == nil && wctx.Err() == nil {
			c.log(e, slog.LevelWarn, "store wait failed; fetching without the fleet", "error", err)
			return nil, Token{}, false
		}
		if ctx.Err() != nil {
			return nil, Token{}, false
		}
	}
	return nil, Token{}, false
}

// loadUsable reads key's token from st if it is usable: not rejected, not near its expiry
// (adoptable), and newer than the one held (a refresh ahead must not read back the token it
// replaces).
func (c *Cache) loadUsable(ctx context.Context, st Store, e *entry, rejected string) (Token, bool) {
	ctx, cancel := context.WithTimeout(ctx, c.o.FetchTimeout)
	defer cancel()
	tok, ok, err := st.Load(ctx, e.key)
	switch {
	case err != nil:
		c.log(e, slog.LevelWarn, "store load failed", "error", err)
	case ok && tok.Value != "" && tok.Value != rejected && c.adoptable(tok, c.o.Clock.Now()) && newer(tok, e.cur.Load()):
		return tok, true
	}
	return Token{}, false
}

// adoptable reports whether a token from the Store has enough life left to be worth
// adopting: more than twice the safety margin, a margin scaled down to a quarter of the
// token's lifetime for tokens that live less than four margins (as the cache's own windows
// scale), so that short-lived tokens are shared too.
func (c *Cache) adoptable(tok Token, now time.Time) bool {
	if tok.Expiry.IsZero() {
		return true
	}
	margin := c.o.SafetyMargin
	if !tok.Issued.IsZero() && tok.Issued.Before(tok.Expiry) {
		margin = min(margin, tok.Expiry.Sub(tok.Issued)/4)
	}
	return tok.Expiry.Sub(now) > 2*margin
}
