package tokencache

// Keys: making an entry, and evicting a least recently used one beyond MaxKeys.

import "math/rand/v2"

// evictionSample is how many entries eviction compares: with more keys than this, the victim
// is the least recently used of a random sample (as Redis does), which keeps an insertion
// past MaxKeys O(1) instead of a scan of every key under the lock; with fewer, it is exact.
const evictionSample = 16

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
	if len(c.all) >= c.o.MaxKeys {
		c.evictLocked()
	}
	e := &entry{key: key, index: len(c.all)}
	e.lastUsed.Store(c.gen.Add(1))
	c.entries.Store(key, e)
	c.all = append(c.all, e)
	return e, nil
}

// evictLocked drops the least recently used entry of a sample (every entry when there are
// at most evictionSample). Uses are recorded as the insertion generation current at the
// time, so "least recently used" is exact relative to insertions, which is what matters
// when one has to make room. c.mu is held.
func (c *Cache) evictLocked() {
	n := len(c.all)
	if n == 0 {
		return
	}
	var victim *entry
	consider := func(e *entry) {
		if victim == nil || e.lastUsed.Load() < victim.lastUsed.Load() {
			victim = e
		}
	}
	if n <= evictionSample {
		for _, e := range c.all {
			consider(e)
		}
	} else {
		for range evictionSample {
			consider(c.all[rand.IntN(n)])
		}
	}
	c.removeLocked(victim)
	c.drop(victim)
	c.c.evictions.Add(1)
}

// removeLocked takes e out of c.all in O(1) (the last entry takes its place). c.mu is held.
func (c *Cache) removeLocked(e *entry) {
	last := len(c.all) - 1
	c.all[e.index] = c.all[last]
	c.all[e.index].index = e.index
	c.all[last] = nil
	c.all = c.all[:last]
}

// drop removes an entry, its token (a Handle still holding the entry must not serve a token
// whose transitions no longer run) and its scheduled transitions; its running fetch, if any, completes for its
// waiters but is not stored anywhere visible.
func (c *Cache) drop(e *entry) {
	e.mu.Lock()
	e.evicted = true
	if s := e.cur.Swap(nil); s != nil {
		c.unschedule(s)
	}
	if e.retry != nil {
		e.retry.Stop()
		e.retry = nil
	}
	e.mu.Unlock()
	c.entries.CompareAndDelete(e.key, e)
}
