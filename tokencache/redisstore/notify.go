package redisstore

import (
	"context"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Releases are announced: the holder of a fetch lock publishes its name on the store's
// channel as it releases it (in the same script), and each process keeps one subscription
// that wakes its waiters. A replica waiting for another's fetch then costs Redis no command
// while it waits (it polled EXISTS every PollInterval before), and wakes as soon as the
// token is saved. The subscription can miss a message (a reconnection, a failover): waiters
// still look at the lock every slowPoll, which also ends the wait for a holder that died
// (its lock expires unannounced).

// slowPoll is how often a waiter looks at the lock when no release is announced.
const slowPoll = 250 * time.Millisecond

// maxReleases bounds the releases remembered (by lock name); past it they are forgotten,
// and a waiter that missed its notice finds the lock gone at its next look.
const maxReleases = 100_000

// notices is a process's subscription to the releases of its store's locks.
type notices struct {
	started atomic.Bool // the subscription was started (subscribe)
	mu      sync.Mutex
	ps      *redis.PubSub
	closed  bool
	seq     uint64                     // releases seen
	last    map[string]uint64          // lock name -> seq of its last release seen
	waiters map[string][]chan struct{} // lock name -> waiting Awaits
	tried   map[string]uint64          // lock name -> seq when a Lock found it busy
	values  map[string][]byte          // lock name -> the token its holder handed off, for this process's waiters
	live    bool                       // the subscription is confirmed
}

func (n *notices) init() {
	n.last, n.waiters, n.tried, n.values = map[string]uint64{}, map[string][]chan struct{}{}, map[string]uint64{}, map[string][]byte{}
}

func (s *shared) channel() string { return s.ns + ":released" }

// subscribe starts the subscription, once, in the background: a Redis that is slow (or a
// black hole) delays the subscription, never the call that starts it, which has its own
// deadline (its first Lock took 6.3 s with Redis 2 s slow, while the subscription dialled
// and authenticated without one). Nothing starts while the breaker is open; a later call
// starts it once Redis answers. Until the subscription is confirmed, waiters poll.
func (s *shared) subscribe() {
	n := &s.notes
	if n.started.Load() || s.breaker.open.Load() || !n.started.CompareAndSwap(false, true) {
		return
	}
	go func() {
		ps := s.rdb.Subscribe(context.Background(), s.channel())
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			ps.Close()
			return
		}
		n.ps = ps
		n.mu.Unlock()
		// A (re)subscription confirms it live; until the first, waiters poll as before.
		// Messages lost while it reconnects are made up for by the waiters' slow looks.
		for m := range ps.ChannelWithSubscriptions() { // ends when Close closes it
			switch m := m.(type) {
			case *redis.Subscription:
				n.mu.Lock()
				n.live = m.Kind == "subscribe"
				n.mu.Unlock()
			case *redis.Message:
				s.onRelease(m.Payload)
			}
		}
	}()
}

// onRelease takes a message of the channel: a lock name, and after a newline the sealed
// token its holder handed off. Anything else published there is dropped.
func (s *shared) onRelease(payload string) {
	lock, value, _ := strings.Cut(payload, "\n")
	if !s.isLockName(lock) {
		return
	}
	var v []byte
	if value != "" && len(value) <= maxHandoff {
		v = []byte(value)
	}
	s.notes.released(lock, v)
}

// maxHandoff bounds the token a release message may hand off (a sealed token is a few KB);
// a larger one is dropped and its waiters read the store instead.
const maxHandoff = 64 << 10

// isLockName tells a message on the channel that names one of this store's locks (as
// names makes them) from anything else published there, which is not kept: anyone who can
// publish on the channel could otherwise fill the process's memory.
func (s *shared) isLockName(v string) bool {
	for _, token := range []string{strings.TrimSuffix(v, ":lock"), strings.TrimSuffix(strings.TrimPrefix(v, "{"), "}:lock")} {
		h, ok := strings.CutPrefix(token, s.ns+":token:")
		if !ok || len(h) != lockHashLen || lockName(token) != v {
			continue
		}
		if _, err := hex.DecodeString(h); err == nil {
			return true
		}
	}
	return false
}

// released records a release of lock, with the token its holder handed off (nil: none),
// and wakes its waiters. The token is kept only for a lock this process waits for or tried.
func (n *notices) released(lock string, value []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq++
	if len(n.last) >= maxReleases {
		clear(n.last)
	}
	n.last[lock] = n.seq
	if _, tried := n.tried[lock]; value != nil && (tried || len(n.waiters[lock]) > 0) {
		if len(n.values) >= maxReleases {
			clear(n.values)
		}
		n.values[lock] = value
	}
	for _, ch := range n.waiters[lock] {
		close(ch)
	}
	delete(n.waiters, lock)
}

// take returns (and forgets) the token handed off with lock's last release, or nil.
func (n *notices) take(lock string) []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	v := n.values[lock]
	delete(n.values, lock)
	return v
}

// mark is called before a Lock attempt: the sequence number its Await compares with.
func (n *notices) mark() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.seq
}

// busy records that a Lock attempt (marked at seq) found lock held.
func (n *notices) busy(lock string, seq uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.tried == nil {
		return
	}
	if len(n.tried) >= maxReleases {
		clear(n.tried)
	}
	n.tried[lock] = seq
}

// wait registers a waiter for lock's release. It returns released when the lock was
// announced released since the Lock attempt that found it busy, and known when that
// attempt is on record with a live subscription (otherwise the caller must look at the
// lock itself before waiting).
func (n *notices) wait(lock string) (ch chan struct{}, released, known bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	seq, tried := n.tried[lock]
	delete(n.tried, lock)
	if tried && n.last[lock] > seq {
		return nil, true, true
	}
	ch = make(chan struct{})
	if n.waiters != nil {
		n.waiters[lock] = append(n.waiters[lock], ch)
	}
	return ch, false, tried && n.live
}

// forget removes a waiter that stopped waiting.
func (n *notices) forget(lock string, ch chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ws := n.waiters[lock]
	for i, w := range ws {
		if w == ch {
			n.waiters[lock] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(n.waiters[lock]) == 0 {
		delete(n.waiters, lock)
	}
}

// close ends the subscription (one still starting ends as soon as it has started).
func (n *notices) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	if n.ps != nil {
		n.ps.Close()
	}
}
