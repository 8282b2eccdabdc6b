package tokencache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"
)

// FleetStore is a Store shared by several processes (the replicas of a service) that lets
// them fetch each key once for all of them. A Cache whose Store is a FleetStore, on a miss
// with nothing usable stored, takes the key's fetch lock before fetching; when another
// process holds it, the Cache waits for that process's token (Await) and loads it instead
// of fetching. A lock whose holder died expires after its ttl (the Cache's FetchTimeout),
// and another process takes over. Store trouble never fails a fetch: on an error the Cache
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
	if s == nil {
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
const reloadInterval = 10 * time.Millisecond

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
	v, ok := c.entries.Load(key)
	if !ok {
		return Token{}, false
	}
	e := v.(*entry)
	now := c.o.Clock.Now().UnixNano()
	last := e.lastReload.Load()
	if now-last < int64(reloadInterval) || !e.lastReload.CompareAndSwap(last, now) {
		return Token{}, false
	}
	tok, ok := c.loadUsable(ctx, c.o.Store, e, rejected)
	if !ok {
		return Token{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.evicted || c.closed.Load() {
		return Token{}, false
	}
	if cur := e.cur.Load(); cur == nil || newer(tok, cur) {
		c.storeLocked(e, tok)
		c.c.storeHits.Add(1)
	}
	return tok, true
}

// fleetRounds bounds how many times a fetch waits for another process's fetch before it
// fetches on its own (a holder that keeps failing must not stall this process).
const fleetRounds = 3

// fleet takes the fleet's fetch lock for e's key (release non-nil: fetch, save, then
// release), or waits for the process holding it and returns its token (ok). With neither
// (store trouble, or a holder that did not deliver in fleetRounds), the caller fetches alone.
func (c *Cache) fleet(ctx context.Context, e *entry, fs FleetStore) (release func(), tok Token, ok bool) {
	e.mu.Lock()
	rejected := e.rejected
	e.mu.Unlock()
	for range fleetRounds {
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

// loadUsable reads key's token from st if it is usable: not rejected, not within twice the
// safety margin of expiry, and newer than the one held (a refresh ahead must not read back
// the token it replaces).
func (c *Cache) loadUsable(ctx context.Context, st Store, e *entry, rejected string) (Token, bool) {
	ctx, cancel := context.WithTimeout(ctx, c.o.FetchTimeout)
	defer cancel()
	tok, ok, err := st.Load(ctx, e.key)
	switch {
	case err != nil:
		c.log(e, slog.LevelWarn, "store load failed", "error", err)
	case ok && tok.Value != "" && tok.Value != rejected &&
		(tok.Expiry.IsZero() || tok.Expiry.Sub(c.o.Clock.Now()) > 2*c.o.SafetyMargin) && newer(tok, e.cur.Load()):
		return tok, true
	}
	return Token{}, false
}
