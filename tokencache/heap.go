package tokencache

// The caches' two min-heaps (the scheduler's transitions and the queue of refreshes ahead)
// hold values, not pointers, ordered by a Unix-nanosecond time; the scheduler's items also
// note their index in their entry, so that a token replaced early leaves the heap at once.

// heapItem is a value a heap holds: its time, and a note of where it moved to.
type heapItem interface {
	heapAt() int64
	heapMoved(i int)
}

func (it queued) heapAt() int64    { return it.at }
func (queued) heapMoved(int)       {}
func (it schedItem) heapAt() int64 { return it.next }
func (it schedItem) heapMoved(i int) {
	it.e.sched = int32(i)
}

// heapUp moves h[i] up to its place.
func heapUp[T heapItem](h []T, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].heapAt() <= h[i].heapAt() {
			break
		}
		h[p], h[i] = h[i], h[p]
		h[p].heapMoved(p)
		h[i].heapMoved(i)
		i = p
	}
}

// heapDown moves h[i] down to its place and reports whether it moved.
func heapDown[T heapItem](h []T, i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].heapAt() < h[l].heapAt() {
			m = r
		}
		if h[i].heapAt() <= h[m].heapAt() {
			break
		}
		h[i], h[m] = h[m], h[i]
		h[i].heapMoved(i)
		h[m].heapMoved(m)
		i = m
	}
	return i > start
}
