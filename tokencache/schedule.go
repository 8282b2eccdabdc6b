package tokencache

import (
	"container/heap"
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

// monotonicTimers marks a Clock whose timers run on the monotonic clock (time.AfterFunc):
// the wall clock may pass them by (a suspend), so the scheduler does not sleep long on them.
type monotonicTimers interface{ monotonicTimers() }

func (RealClock) monotonicTimers() {}

// scheduler is a Cache's heap of transitions.
type scheduler struct {
	mu     sync.Mutex
	items  slotHeap
	timer  Timer
	armed  int64 // Unix ns the timer is set for; 0 when none
	closed bool
}

// slotHeap is a min-heap of slots on their next transition; each slot knows its index.
type slotHeap []*slot

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i].next < h[j].next }
func (h slotHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *slotHeap) Push(x any) {
	s := x.(*slot)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *slotHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.index = -1
	return s
}

// schedule adds s (a new token of e, with an expiry) at its first transition.
func (c *Cache) schedule(e *entry, s *slot) {
	now := c.o.Clock.Now()
	staleAt, expiredAt := c.o.schedule(now, s.tok.Expiry)
	s.e, s.staleAt, s.expiredAt = e, staleAt.UnixNano(), expiredAt.UnixNano()
	s.next = s.staleAt
	sc := &c.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return
	}
	heap.Push(&sc.items, s)
	c.armLocked(now.UnixNano())
}

// unschedule takes s out of the heap (its token was replaced, invalidated or evicted).
func (c *Cache) unschedule(s *slot) {
	sc := &c.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if s.index >= 0 && s.index < len(sc.items) && sc.items[s.index] == s {
		heap.Remove(&sc.items, s.index)
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
	if _, mono := c.o.Clock.(monotonicTimers); mono {
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
	var due []*slot
	for len(sc.items) > 0 && sc.items[0].next <= now {
		due = append(due, heap.Pop(&sc.items).(*slot))
	}
	sc.armed = 0
	if !sc.closed {
		c.armLocked(now)
	}
	sc.mu.Unlock()
	for _, s := range due {
		c.transition(s, now)
	}
}

// transition moves s on as far as now says, and schedules what follows.
func (c *Cache) transition(s *slot, now int64) {
	e := s.e
	if e.cur.Load() != s {
		return // replaced meanwhile
	}
	if now < s.expiredAt {
		if s.state.CompareAndSwap(fresh, stale) {
			c.onStale(e)
		}
		s.next = s.expiredAt
		sc := &c.sched
		sc.mu.Lock()
		if !sc.closed && e.cur.Load() == s {
			heap.Push(&sc.items, s)
			c.armLocked(now)
		}
		sc.mu.Unlock()
		return
	}
	if s.state.CompareAndSwap(fresh, stale) {
		c.onStale(e) // stale and expired at once (a suspend): refresh now
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
	for _, s := range sc.items {
		s.index = -1
	}
	sc.items = nil
}
