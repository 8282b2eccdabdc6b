package tokencache

import (
	"sync"
	"time"
)

// The scheduler moves tokens from fresh to stale to expired at their times. It holds one
// heap of every token's next transition and one Clock timer for the earliest, instead of two
// timers per token (a million keys held two million timers, most of their bookkeeping).
//
// It compares times on the clock's wall reading when it wakes: a transition is due when its
// time has passed on the wall clock. On the real clock, whose timers run on the monotonic
// clock, which stops while the machine is suspended, it wakes at least every maxSleep, so
// that after a suspend a token past its expiry is not served as fresh for longer than that.

// maxSleep bounds the scheduler's sleep on a clock whose timers are monotonic.
const maxSleep = time.Second

// monotonicTimers is a Clock whose timers run on the monotonic clock (clock.Real): the wall
// clock may pass them by (a suspend), so the scheduler does not sleep long on them.
type monotonicTimers interface{ Monotonic() bool }

// scheduler is a Cache's heap of transitions.
type scheduler struct {
	mu     sync.Mutex
	items  []schedItem // a min-heap on next
	timer  Timer
	armed  int64 // Unix ns the timer is set for; 0 when none
	closed bool
}

// schedItem is a slot's next transition: at next (Unix ns) it turns stale, or expired when
// next is expiredAt, its time for the cache (its expiry less the safety margin). Items are
// values in the heap's slice: a key's transitions cost no allocation of their own.
type schedItem struct {
	next, expiredAt int64
	s               *slot
	e               *entry
}

// push adds it to the heap. sched.mu is held.
func (sc *scheduler) push(it schedItem) {
	it.e.sched = int32(len(sc.items))
	sc.items = append(sc.items, it)
	sc.up(len(sc.items) - 1)
}

// pop removes and returns the earliest item. sched.mu is held.
func (sc *scheduler) pop() schedItem {
	return sc.remove(0)
}

// remove takes out the item at i. sched.mu is held.
func (sc *scheduler) remove(i int) schedItem {
	h := sc.items
	it := h[i]
	last := len(h) - 1
	if i != last {
		h[i] = h[last]
		h[i].e.sched = int32(i)
	}
	h[last] = schedItem{}
	sc.items = h[:last]
	if i != last {
		if !sc.down(i) {
			sc.up(i)
		}
	}
	it.e.sched = -1
	return it
}

func (sc *scheduler) up(i int) { heapUp(sc.items, i) }

// down moves the item at i down to its place, and reports whether it moved.
func (sc *scheduler) down(i int) bool { return heapDown(sc.items, i) }

// schedule adds s (a new token of e, with an expiry) at its first transition.
func (c *Cache) schedule(e *entry, s *slot) {
	now := c.o.Clock.Now()
	staleAt, expiredAt := c.o.schedule(now, s.tok.Expiry)
	sc := &c.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return
	}
	sc.push(schedItem{next: staleAt.UnixNano(), expiredAt: expiredAt.UnixNano(), s: s, e: e})
	c.armLocked(now.UnixNano())
}

// unschedule takes e's slot s out of the heap (its token was replaced, invalidated or
// evicted).
func (c *Cache) unschedule(e *entry, s *slot) {
	sc := &c.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if i := int(e.sched); i >= 0 && i < len(sc.items) && sc.items[i].s == s {
		sc.remove(i)
	}
}

// armLocked sets the timer for the earliest transition, unless it is set for then already.
// sched.mu is held.
func (c *Cache) armLocked(now int64) {
	sc := &c.sched
	if len(sc.items) == 0 {
		return
	}
	at := sc.items[0].next
	if m, ok := c.o.Clock.(monotonicTimers); ok && m.Monotonic() {
		at = min(at, now+int64(maxSleep))
	}
	if sc.armed != 0 && sc.armed <= at {
		return
	}
	if sc.timer != nil {
		sc.timer.Stop()
	}
	sc.armed = at
	sc.timer = c.o.Clock.AfterFunc(time.Duration(at-now), c.wake)
}

// wake runs every transition that is due and sets the timer for the next.
func (c *Cache) wake() {
	now := c.o.Clock.Now().UnixNano()
	sc := &c.sched
	sc.mu.Lock()
	var due []schedItem
	for len(sc.items) > 0 && sc.items[0].next <= now {
		due = append(due, sc.pop())
	}
	sc.armed = 0
	if !sc.closed {
		c.armLocked(now)
	}
	sc.mu.Unlock()
	for _, it := range due {
		c.transition(it, now)
	}
}

// transition moves its slot on as far as now says, and schedules what follows.
func (c *Cache) transition(it schedItem, now int64) {
	s, e := it.s, it.e
	if e.cur.Load() != s {
		return // replaced meanwhile
	}
	if now < it.expiredAt {
		if s.state.CompareAndSwap(fresh, stale) {
			c.onStale(e, s)
		}
		sc := &c.sched
		sc.mu.Lock()
		if !sc.closed && e.cur.Load() == s && e.sched < 0 {
			sc.push(schedItem{next: it.expiredAt, expiredAt: it.expiredAt, s: s, e: e})
			c.armLocked(now)
		}
		sc.mu.Unlock()
		return
	}
	if s.state.CompareAndSwap(fresh, stale) {
		c.onStale(e, s) // stale and expired at once (a suspend): refresh now
	}
	s.state.Store(expired)
}

// closeScheduler stops the timer and drops every transition.
func (c *Cache) closeScheduler() {
	sc := &c.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.closed = true
	if sc.timer != nil {
		sc.timer.Stop()
	}
	for _, it := range sc.items {
		it.e.sched = -1
	}
	sc.items = nil
}
