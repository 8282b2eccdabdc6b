package tokencache

// Keys: making an entry, and evicting a least recently used one beyond MaxKeys.

// evictionSample is how many entries eviction compares: with more keys than this, the victim
// is the least recently used of a random sample (as Redis does), which keeps an insertion
// past MaxKeys O(1) instead of a scan of every key under the lock; with fewer, it is exact.
const evictionSample = 16

// entry returns key's entry, making it (and evicting the least recently used key beyond
// MaxKeys) when there is none.
func (c *Cache) entry(key string) (*entry, error) {
	if e := c.idx.load(key); e != nil {
		return e, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if e := c.idx.load(key); e != nil {
		return e, nil
	}
	if c.idx.len() >= c.o.MaxKeys {
		c.evictLocked()
	}
	e := &entry{key: key, sched: -1}
	c.idx.insert(e, c.gen.Add(1))
	return e, nil
}

// evictLocked drops the least recently used entry of a sample (every entry when there are
// at most evictionSample). Uses are recorded as the insertion generation current at the
// time, so "least recently used" is exact relative to insertions, which is what matters
// when one has to make room. c.mu is held.
func (c *Cache) evictLocked() {
	var victim *entry
	var oldest uint32
	g := c.gen.Load()
	consider := func(v *slot, e *entry) bool {
		if v != nil && e != nil && (victim == nil || v.age(g) > oldest) {
			victim, oldest = e, v.age(g)
		}
		return true
	}
	if c.idx.len() <= evictionSample {
		c.idx.each(consider)
	} else {
		for range evictionSample {
			consider(c.idx.sample())
		}
	}
	if victim == nil {
		return
	}
	c.drop(victim)
	c.c.evictions.Add(1)
}

// drop removes an entry, its token (a Handle still holding the entry must not serve a token
// whose transitions no longer run) and its scheduled transitions; its running fetch, if any, completes for its
// waiters but is not stored anywhere visible.
func (c *Cache) drop(e *entry) {
	e.mu.Lock()
	e.set(flagEvicted)
	if s := e.cur.Swap(nil); s != nil {
		s.state.Store(expired) // a view of it must not hit
		c.unschedule(e, s)
	}
	if e.t != nil && e.t.retry != nil {
		e.t.retry.Stop()
		e.t.retry = nil
	}
	e.mu.Unlock()
	c.idx.remove(e)
}
