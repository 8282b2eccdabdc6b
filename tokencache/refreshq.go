package tokencache

import "time"

// Refreshes ahead of expiry (stale tokens, prefetch, retries after a failure) wait in one
// queue, earliest expiry first, drained by a single dispatcher that starts one at a time as
// fetch slots free up: a million keys turning stale together cost a heap entry each, not a
// goroutine each waiting for a slot, and the token that expires first is refreshed first.
// A refresh that starts after its token's time in the cache has ended (the expiry less the
// safety margin) lapsed: MaxConcurrentFetches cannot keep up with the keys' refreshes. The
// first lapse, or a backlog that cannot be cleared before the first queued token expires at
// the current fetch rate, is logged once, and lapses are counted
// (finauth.token.refresh.lapsed).

// queued is one refresh waiting for a slot: its flight (which callers may already wait on),
// and when its token's time in the cache ends (Unix ns; the queue's order).
type queued struct {
	at int64
	e  *entry
	f  *flight
}

// refreshQueue is a min-heap of queued refreshes, under its mu (a leaf lock).
type refreshQueue struct {
	items   []queued
	running bool // the dispatcher is running
	warned  bool // the backlog or a lapse was logged
	// meanFetch is an exponential average of fetch durations (ns), for the backlog estimate.
	meanFetch float64
}

func (q *refreshQueue) push(it queued) {
	q.items = append(q.items, it)
	heapUp(q.items, len(q.items)-1)
}

func (q *refreshQueue) pop() queued {
	h := q.items
	it := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = queued{}
	h = h[:last]
	heapDown(h, 0)
	q.items = h
	return it
}

// enqueue queues e's background refresh f (e.mu is held, f is e.flight) and makes sure the
// dispatcher runs.
func (c *Cache) enqueue(e *entry, f *flight) {
	at := int64(0) // no token: as urgent as it gets
	if s := e.cur.Load(); s != nil && !s.tok.Expiry.IsZero() {
		_, exp := c.o.schedule(s.tok.Issued, s.tok.Expiry)
		at = exp.UnixNano()
	}
	c.qmu.Lock()
	c.q.push(queued{at: at, e: e, f: f})
	c.warnBacklogLocked()
	start := !c.q.running
	c.q.running = true
	c.qmu.Unlock()
	if start {
		c.wg.Add(1)
		go c.dispatch()
	}
}

// dispatch starts the queued refreshes, earliest expiry first, each once a fetch slot is
// free, until the queue is empty or the cache is closed.
func (c *Cache) dispatch() {
	defer c.wg.Done()
	for {
		slot := &fetchSlot{c: c}
		if err := slot.acquire(c.base); err != nil {
			c.failQueued()
			return
		}
		c.qmu.Lock()
		if len(c.q.items) == 0 || c.closed.Load() {
			c.q.running = false
			c.qmu.Unlock()
			slot.release()
			if c.closed.Load() {
				c.failQueued()
			}
			return
		}
		it := c.q.pop()
		if !it.f.started.CompareAndSwap(false, true) {
			c.qmu.Unlock()
			slot.release() // a caller started it: it could not wait for the queue
			continue
		}
		if it.at != 0 && c.o.Clock.Now().UnixNano() > it.at {
			c.c.lapsed.Add(1)
			if !c.q.warned {
				c.q.warned = true
				c.o.Logger.Warn("finauth: tokencache: a token's time in the cache ended before its refresh ahead could start: MaxConcurrentFetches cannot keep up with the refreshes (logged once; finauth.token.refresh.lapsed counts them); raise MaxConcurrentFetches",
					"max_concurrent_fetches", c.o.MaxConcurrentFetches, "queued", len(c.q.items)+1, "mean_fetch", time.Duration(c.q.meanFetch).Round(time.Millisecond))
			}
		}
		c.qmu.Unlock()
		c.wg.Add(1)
		go c.runWith(it.e, it.f, slot)
	}
}

// warnBacklogLocked logs, once, a queue that at the current fetch rate (MaxConcurrentFetches
// over the mean fetch duration) takes longer to clear than its first token has left in the
// cache. qmu is held.
func (c *Cache) warnBacklogLocked() {
	if c.q.warned || c.q.meanFetch <= 0 || len(c.q.items) < c.o.MaxConcurrentFetches {
		return
	}
	need := time.Duration(float64(len(c.q.items)) * c.q.meanFetch / float64(c.o.MaxConcurrentFetches))
	left := time.Duration(c.q.items[0].at - c.o.Clock.Now().UnixNano())
	if c.q.items[0].at == 0 || need <= left {
		return
	}
	c.q.warned = true
	c.o.Logger.Warn("finauth: tokencache: the refreshes ahead queued cannot all run before the first of their tokens expires: MaxConcurrentFetches is too low for this many keys (logged once; finauth.token.refresh.lapsed counts the tokens that lapse); raise MaxConcurrentFetches",
		"max_concurrent_fetches", c.o.MaxConcurrentFetches, "queued", len(c.q.items), "mean_fetch", time.Duration(c.q.meanFetch).Round(time.Millisecond),
		"needed", need.Round(time.Second), "left", left.Round(time.Second))
}

// fetched feeds a fetch's duration into the mean the backlog estimate uses.
func (c *Cache) fetched(d time.Duration) {
	c.qmu.Lock()
	if c.q.meanFetch == 0 {
		c.q.meanFetch = float64(d)
	} else {
		c.q.meanFetch += (float64(d) - c.q.meanFetch) / 16
	}
	c.qmu.Unlock()
}

// startNow starts the queued refresh f of e at once, for a caller who needs the token now,
// unless it has started.
func (c *Cache) startNow(e *entry, f *flight) {
	if f.why.background && f.started.CompareAndSwap(false, true) {
		c.wg.Add(1)
		go c.runWith(e, f, &fetchSlot{c: c})
	}
}

// failQueued ends every queued refresh with ErrClosed (after Close).
func (c *Cache) failQueued() {
	c.qmu.Lock()
	items := c.q.items
	c.q.items, c.q.running = nil, false
	c.qmu.Unlock()
	for _, it := range items {
		if it.f.started.CompareAndSwap(false, true) {
			c.finish(it.e, it.f, Token{}, false, ErrClosed)
		}
	}
}
