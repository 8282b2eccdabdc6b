package tokencache

import (
	"context"
	"log/slog"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
)

// The hot path: serving a cached token, and dropping one a server rejected.

// Token returns key's token. A fresh token is returned from memory with atomic loads only.
// A stale one is returned too, and one background refresh starts. With no usable token the
// caller waits, until ctx ends, for the single fetch of that key. The returned Token must
// not be modified (its Extra map is shared).
//
// A caller that asks for the same key again and again can skip the key lookup with a
// [Handle].
func (c *Cache) Token(ctx context.Context, key string) (Token, error) {
	// The hit is written out here, and everything else is in tokenSlow: at a million keys
	// a hit is two cache misses (the key's bucket, then its slot), and the fewer
	// instructions a hit runs, the more of the next lookup's misses the CPU overlaps with
	// them (BenchmarkLookupAtScale/1000000/interleaved: 2.0x a map lookup before the split,
	// 1.8x after).
	if s := c.idx.slot(key); s != nil && s.state.Load() == fresh { // as in Handle.Token
		c.touch(s)
		c.c.hits.add()
		return s.tok, nil
	}
	return c.tokenSlow(ctx, key)
}

// tokenSlow is Token for a key without a fresh token: a stale one is served, else the
// caller waits.
func (c *Cache) tokenSlow(ctx context.Context, key string) (Token, error) {
	if e := c.idx.load(key); e != nil {
		if tok, ok := c.serve(ctx, e); ok {
			return tok, nil
		}
	}
	return c.wait(ctx, key)
}

// serve returns e's token if it is usable from memory: fresh, or stale (then one
// background refresh starts, linked to ctx's span). An entry that was evicted or dropped by
// Close has no token.
func (c *Cache) serve(ctx context.Context, e *entry) (Token, bool) {
	s := e.cur.Load()
	if s == nil {
		return Token{}, false
	}
	switch s.state.Load() {
	case fresh:
		c.touch(s)
		c.c.hits.add()
		return s.tok, true
	case stale:
		c.touch(s)
		c.c.staleHits.add()
		if e.claim(flagRefreshing) {
			c.startBackground(e, trace.SpanContextFromContext(ctx))
		}
		return s.tok, true
	}
	return Token{}, false
}

// touch records a use: for LRU eviction and for prefetch. Both are read-mostly, so the
// common case is loads and no store: the use is recorded only when the key's last recorded
// one is more than lruSlack insertions old (a hit at a million keys then writes nothing
// that would have to be written back).
func (c *Cache) touch(s *slot) {
	m := s.mark.Load()
	g := uint32(c.gen.Load())
	if m&markUsed == 0 || (g-m)&markGen > c.lruSlack {
		s.mark.CompareAndSwap(m, m&^markGen|markUsed|g&markGen) // lost to another writer: the next use retries
	}
}

// Handle holds one key of a Cache, so that asking for its token skips the key lookup: a hit
// is an atomic pointer load and a state check. It stays valid across refreshes; when its
// key is evicted (or dropped by Invalidate and fetched again) it finds the key's new entry
// on the next call. Get one per key you use repeatedly (a transport's tenant key) with
// [Cache.Handle]; it is safe for concurrent use and costs nothing to keep.
type Handle struct {
	c   *Cache
	key string
	e   atomic.Pointer[entry]
}

// Handle returns a Handle on key. It does not fetch: the first Token call does.
func (c *Cache) Handle(key string) *Handle {
	h := &Handle{c: c, key: key}
	if e := c.idx.load(key); e != nil {
		h.e.Store(e)
	}
	return h
}

// Key returns the key the handle holds.
func (h *Handle) Key() string { return h.key }

// Token returns the key's token, exactly as [Cache.Token] does.
func (h *Handle) Token(ctx context.Context) (Token, error) {
	// The fresh case is written out, not a call of serve: a hit then copies the Token
	// once, into the result (a helper returning it costs three more copies; one returning
	// the slot does not inline).
	if e := h.e.Load(); e != nil {
		if s := e.cur.Load(); s != nil && s.state.Load() == fresh {
			h.c.touch(s)
			h.c.c.hits.add()
			return s.tok, nil
		}
	}
	return h.slow(ctx)
}

// slow serves a stale token, or waits for the key's token and then holds the key's current
// entry.
func (h *Handle) slow(ctx context.Context) (Token, error) {
	if e := h.e.Load(); e != nil {
		if tok, ok := h.c.serve(ctx, e); ok {
			return tok, nil
		}
	}
	tok, err := h.c.wait(ctx, h.key)
	if e := h.c.idx.load(h.key); e != nil {
		h.e.Store(e)
	}
	return tok, err
}

// Invalidate drops key's token if it is still rejected (the value a server refused), and
// reports whether it did. If another caller already replaced it, nothing happens: a storm
// of rejections of one token costs one fetch.
func (c *Cache) Invalidate(key, rejected string) bool {
	e := c.idx.load(key)
	if e == nil {
		c.c.noop.Add(1)
		return false
	}
	s := e.cur.Load()
	if s == nil || s.tok.Value != rejected {
		c.c.noop.Add(1)
		return false
	}
	// Expired before it goes, so that no view of it hits; a slot replaced meanwhile (the
	// swap below fails) is no longer anyone's token.
	s.state.Store(expired)
	if !e.cur.CompareAndSwap(s, nil) {
		c.c.noop.Add(1)
		return false
	}
	c.idx.show(e)
	c.unschedule(e, s)
	c.c.dropped.Add(1)
	e.mu.Lock()
	e.rare().rejected, e.t.replaced = rejected, s.tok
	e.mu.Unlock()
	return true
}

// Put makes tok key's current token, as if a fetch had returned it: for a token obtained
// outside the cache (an authorization-code exchange) that the cache should serve and
// refresh from now on. It is saved to the Store too. An empty or expired token is refused.
func (c *Cache) Put(key string, tok Token) error {
	switch {
	case tok.Value == "":
		return ErrEmptyToken
	case !tok.Expiry.IsZero() && !tok.Expiry.After(c.o.Clock.Now()):
		return ErrExpiredToken
	}
	if tok.Issued.IsZero() {
		tok.Issued = c.o.Clock.Now()
	}
	e, err := c.entry(key)
	if err != nil {
		return err
	}
	e.mu.Lock()
	stored := !e.has(flagEvicted) && !c.closed.Load()
	if stored {
		c.storeLocked(e, tok, markFetched)
		if e.t != nil {
			e.t.rejected, e.t.lastErr = "", nil
		}
	}
	e.mu.Unlock()
	if stored {
		c.onTokenChange(key, tok, false)
	}
	if c.o.Store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.o.FetchTimeout)
		defer cancel()
		if err := c.o.Store.Save(ctx, key, tok); err != nil {
			c.log(e, slog.LevelWarn, "store save failed", "error", err)
		}
	}
	return nil
}

// Peek returns key's current token, whatever its state (fresh, stale or expired), without
// fetching and without counting a hit; ok is false when the cache holds none. For a fetch
// function that needs the token it replaces (its refresh token).
func (c *Cache) Peek(key string) (Token, bool) {
	e := c.idx.load(key)
	if e == nil {
		return Token{}, false
	}
	if s := e.cur.Load(); s != nil {
		return s.tok, true
	}
	return Token{}, false
}
