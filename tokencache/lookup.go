package tokencache

import "context"

// The hot path: serving a cached token, and dropping one a server rejected.

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
