package tokencache

// Keys: making an entry, and evicting the least recently used one beyond MaxKeys.

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
