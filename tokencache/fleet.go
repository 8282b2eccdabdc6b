package tokencache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/finauth/finauth/internal/absent"
)

// FleetStore is a Store shared by several processes (the replicas of a service) that lets
// them fetch each key once for all of them. A Cache whose Store is a FleetStore, on a miss
// with nothing usable stored, takes the key's fetch lock before fetching; when another
// process holds it, the Cache waits for that process's token (Await) and loads it instead
// of fetching. A lock whose holder died expires after its ttl (the Cache's FetchTimeout),
// or sooner when the Store keeps locks as leases its holder extends (redisstore does), and
// another process takes over. Store trouble never fails a fetch: on an error the Cache
// fetches on its own.
type FleetStore interface {
	Store
	// Lock tries to take key's fetch lock for ttl. ok is false when another holder has it.
	// release gives the lock up, only if it is still this caller's.
	Lock(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error)
	// Await returns when key's lock is gone: released by its holder (which saves its token
	// first) or expired. It returns ctx's error when ctx ends first.
	Await(ctx context.Context, key string) error
}

// exclusiveKey marks a context whose Lock must hold for its whole ttl.
type exclusiveKey struct{}

// LockForWholeTTL returns ctx marked so that a FleetStore's Lock holds the lock for its
// whole ttl, never as a shorter lease: for a lock whose loss costs more than a second fetch
// (renewing with a refresh token the server rotates, where two holders at once would reuse
// it and lose the consent). A holder that dies then blocks the key for the whole ttl.
func LockForWholeTTL(ctx context.Context) context.Context {
	return context.WithValue(ctx, exclusiveKey{}, true)
}

// LocksForWholeTTL reports whether ctx was marked by LockForWholeTTL.
func LocksForWholeTTL(ctx context.Context) bool {
	v, _ := ctx.Value(exclusiveKey{}).(bool)
	return v
}

// Scoper is a Store shared by several token issuers (tenants, providers): Scope returns the
// Store for one of them, whose keys cannot meet another identity's.
type Scoper interface {
	Scope(identity string) Store
}

// Scope returns the Store of identity (a token issuer and client): s.Scope(identity) when s
// is a Scoper, and otherwise s wrapped so that every key it is given carries the identity
// (Load, Save and Delete; Lock and Await when s is a FleetStore, which the result then is
// too), whatever s's type: a MemoryStore, or a wrapper of yours around a redisstore.Store.
// Keys of two identities never meet. The providers' transports scope every store they are
// given with their configuration's identity.
func Scope(s Store, identity string) Store {
	if absent.Is(s) {
		return nil
	}
	if sc, ok := s.(Scoper); ok {
		return sc.Scope(identity)
	}
	sum := sha256.Sum256([]byte(identity))
	sc := scoped{s: s, prefix: hex.EncodeToString(sum[:12]) + ":"}
	if fs, ok := s.(FleetStore); ok {
		return scopedFleet{scoped: sc, fs: fs}
	}
	return sc
}

// scoped is a Store whose keys carry an identity's prefix.
type scoped struct {
	s      Store
	prefix string
}

func (s scoped) Load(ctx context.Context, key string) (Token, bool, error) {
	return s.s.Load(ctx, s.prefix+key)
}

func (s scoped) Save(ctx context.Context, key string, tok Token) error {
	return s.s.Save(ctx, s.prefix+key, tok)
}

func (s scoped) Delete(ctx context.Context, key, rejected string) error {
	return s.s.Delete(ctx, s.prefix+key, rejected)
}

// scopedFleet is a FleetStore whose keys carry an identity's prefix.
type scopedFleet struct {
	scoped
	fs FleetStore
}

func (s scopedFleet) Lock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	return s.fs.Lock(ctx, s.prefix+key, ttl)
}

func (s scopedFleet) Await(ctx context.Context, key string) error {
	return s.fs.Await(ctx, s.prefix+key)
}

// reloadInterval is the least time between two Reload reads of one key from the Store.
const reloadInterval = 100 * time.Millisecond

// Reload adopts key's token from the Store when the Store has a usable one other than
// rejected and newer than the one held (another process replaced it), without fetching, and
// reports whether it did. It is for a transport whose token was rejected while its own
// refreshes are held back (transport.Bearer's RefreshInterval): a token shared by several
// processes may have been replaced by another process already. A key is read from the
// Store at most once per 100 ms, so an API that rejects every token does not turn each of
// its 401s into a Store read.
func (c *Cache) Reload(ctx context.Context, key, rejected string) (Token, bool) {
	if c.o.Store == nil {
		return Token{}, false
	}
	e := c.idx.load(key)
	if e == nil {
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
	e.mu.Lock()
	if e.has(flagEvicted) || c.closed.Load() {
		e.mu.Unlock()
		return Token{}, false
	}
	stored := false
	if cur := e.cur.Load(); cur == nil || newer(tok, cur) {
		c.storeLocked(e, tok, markAdopted|markFetched) // adopted after a 401: this process confirms it too
		c.c.storeHits.Add(1)
		stored = true
	}
	e.mu.Unlock()
	if stored {
		c.onTokenChange(key, tok, true)
	}
	return tok, true
}

// Shared reports whether the cache shares its tokens with other processes through a Store.
func (c *Cache) Shared() bool { return c.o.Store != nil }

// Confirm tells the Store, once per token, that value (key's current token) was accepted by
// the server: the other processes sharing the Store then know that its rejection later is a
// revocation of a token that worked, not a token refused at once (see Worked). It costs
// nothing without a Store, and a few atomic loads once the token is confirmed; the Store is
// written in the background. A transport calls it after each accepted request.
func (c *Cache) Confirm(key, value string) {
	if c.o.Store == nil {
		return
	}
	if e := c.idx.load(key); e != nil {
		c.confirm(e, value)
	}
}

// Confirm is Cache.Confirm for the handle's key.
func (h *Handle) Confirm(value string) {
	if h.c.o.Store == nil {
		return
	}
	if e := h.e.Load(); e != nil {
		h.c.confirm(e, value)
	}
}

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

// Adopted reports whether value is key's current token and came from the Store (another
// process fetched it), rather than from this cache's own fetch.
func (c *Cache) Adopted(key, value string) bool {
	e := c.idx.load(key)
	if e == nil {
		return false
	}
	s := e.cur.Load()
	return s != nil && s.tok.Value == value && s.mark.Load()&markAdopted != 0
}

// Worked reports whether a process sharing the Store confirmed that value, a token of key,
// was accepted by the server (Confirm). False without a Store.
func (c *Cache) Worked(ctx context.Context, key, value string) bool {
	w, _ := c.worked(ctx, key, value)
	return w
}

// worked is Worked, with the Store's error.
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
	tok      Token
	ok       bool
	worked   bool // a process confirmed that rejected worked: its rejection is a revocation
	unknown  bool // the Store did not answer: no process could say
}

// NewerResult is what AwaitNewer found: a newer token (Token, OK), or that the rejected
// token had worked for another process (Worked: its rejection is a revocation, which the
// caller may refresh), or neither within the wait.
type NewerResult struct {
	Token  Token
	OK     bool
	Worked bool
	// Unknown: neither, because the Store did not answer (its breaker is open). The
	// token may have been shared, and used up, before the Store went: the caller may
	// refresh now and then rather than hold every request back until the Store is back.
	Unknown bool
}

// AwaitNewer waits, for at most wait, for a usable token of key other than rejected that
// another process puts in the Store (or that this cache gets meanwhile), adopts it and
// returns it; it stops early, with Worked, when a process confirms that rejected had worked
// (Confirm). It never fetches; without a Store it returns at once with nothing. It is for a
// transport whose token was rejected while its own refreshes are held back
// (transport.Bearer's RefreshInterval) and whose fleet shares tokens: the token it adopted
// may have been revoked before it used it, while another replica, for which it worked, is
// already fetching the next. The wait follows that replica's fetch lock (a FleetStore's
// Await) and otherwise reads the Store every 20 ms; concurrent callers waiting for the same
// share one wait, on a context of its own (each caller leaves on its own ctx).
func (c *Cache) AwaitNewer(ctx context.Context, key, rejected string, wait time.Duration) NewerResult {
	if c.o.Store == nil || wait <= 0 {
		return NewerResult{}
	}
	e := c.idx.load(key)
	if e == nil {
		return NewerResult{}
	}
	e.mu.Lock()
	if e.has(flagEvicted) || c.closed.Load() {
		e.mu.Unlock()
		return NewerResult{}
	}
	var f *newerFlight
	if e.t != nil {
		f = e.t.newer
	}
	if f == nil || f.rejected != rejected {
		f = &newerFlight{rejected: rejected, done: make(chan struct{})}
		e.rare().newer = f
		c.wg.Add(1)
		go c.awaitNewer(e, f, wait)
	}
	e.mu.Unlock()
	select {
	case <-f.done:
		return NewerResult{Token: f.tok, OK: f.ok, Worked: f.worked, Unknown: f.unknown}
	case <-ctx.Done():
		return NewerResult{}
	}
}

// awaitNewer runs a newerFlight: until wait has passed or the cache closes, it takes the
// token the cache holds if it is newer, or one from the Store, following the fleet lock.
func (c *Cache) awaitNewer(e *entry, f *newerFlight, wait time.Duration) {
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
			f.tok, f.ok = cur.tok, true
			return
		}
		if tok, ok := c.loadUsable(ctx, c.o.Store, e, f.rejected); ok {
			e.mu.Lock()
			stored := false
			if !e.has(flagEvicted) && !c.closed.Load() {
				if cur := e.cur.Load(); cur == nil || newer(tok, cur) {
					c.storeLocked(e, tok, markAdopted|markFetched) // adopted after a 401: this process confirms it too
					c.c.storeHits.Add(1)
					stored = true
				}
			}
			e.mu.Unlock()
			if stored {
				c.onTokenChange(e.key, tok, true)
			}
			f.tok, f.ok = tok, true
			return
		}
		worked, err := c.worked(ctx, e.key, f.rejected)
		if worked {
			f.worked = true
			return
		}
		left := deadline.Sub(c.o.Clock.Now())
		if err != nil || left <= 0 || ctx.Err() != nil {
			f.unknown = err != nil
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
