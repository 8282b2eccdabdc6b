package tokencache

import (
	"context"
	"sync"
	"time"
)

// Store shares tokens beyond one Cache (across replicas, with a Redis store in a later
// package). A Cache reads it on a miss before fetching, writes each fetched token, and
// deletes a token a server rejected. Implementations must be safe for concurrent use and
// must keep tokens secret (encrypted at rest where they leave the process).
type Store interface {
	// Load returns the stored token for key; ok is false when there is none.
	Load(ctx context.Context, key string) (tok Token, ok bool, err error)
	// Save stores tok for key until its expiry.
	Save(ctx context.Context, key string, tok Token) error
	// Delete removes key's token only if its value is still rejected (compare and delete).
	Delete(ctx context.Context, key, rejected string) error
}

// MemoryStore is a FleetStore in this process's memory, for sharing tokens (and fetches)
// between several Caches (for example two clients of one tenant) and for tests. Expired
// tokens are dropped when read; at most MaxKeys tokens are kept (the ones expiring soonest
// go first).
type MemoryStore struct {
	mu      sync.Mutex
	tokens  map[string]Token
	locks   map[string]memLock
	changed chan struct{} // closed (and replaced) when a lock is released
	clock   Clock
	maxKeys int
	owners  uint64
}

type memLock struct {
	owner uint64
	until time.Time
}

// NewMemoryStore returns an empty MemoryStore keeping up to maxKeys tokens (10,000 when
// maxKeys <= 0), with clock as its time source (RealClock when nil).
func NewMemoryStore(clock Clock, maxKeys int) *MemoryStore {
	if clock == nil {
		clock = RealClock{}
	}
	if maxKeys <= 0 {
		maxKeys = 10_000
	}
	return &MemoryStore{tokens: map[string]Token{}, locks: map[string]memLock{}, changed: make(chan struct{}), clock: clock, maxKeys: maxKeys}
}

// Load returns key's token if it has not expired.
func (m *MemoryStore) Load(_ context.Context, key string) (Token, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[key]
	if ok && !t.Expiry.IsZero() && !t.Expiry.After(m.clock.Now()) {
		delete(m.tokens, key)
		return Token{}, false, nil
	}
	return t, ok, nil
}

// Save stores tok under key.
func (m *MemoryStore) Save(_ context.Context, key string, tok Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[key]; !ok && len(m.tokens) >= m.maxKeys {
		m.evictOne()
	}
	m.tokens[key] = tok
	return nil
}

func (m *MemoryStore) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// Lock takes key's fetch lock for ttl unless another holder has it (and it has not expired).
func (m *MemoryStore) Lock(_ context.Context, key string, ttl time.Duration) (func(), bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	if l, ok := m.locks[key]; ok && now.Before(l.until) {
		return nil, false, nil
	}
	m.owners++
	owner := m.owners
	m.locks[key] = memLock{owner: owner, until: now.Add(ttl)}
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if l, ok := m.locks[key]; ok && l.owner == owner {
			delete(m.locks, key)
			m.notifyLocked()
		}
	}, true, nil
}

// Await returns when key's lock is released or expired, or ctx ends.
func (m *MemoryStore) Await(ctx context.Context, key string) error {
	for {
		m.mu.Lock()
		l, locked := m.locks[key]
		ch := m.changed
		m.mu.Unlock()
		if !locked || !m.clock.Now().Before(l.until) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond): // an expiry has no event: look again
		}
	}
}

// Delete removes key's token if its value is rejected.
func (m *MemoryStore) Delete(_ context.Context, key, rejected string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.tokens[key]; ok && t.Value == rejected {
		delete(m.tokens, key)
	}
	return nil
}

func (m *MemoryStore) evictOne() {
	var victim string
	var soonest time.Time
	first := true
	for k, t := range m.tokens {
		exp := t.Expiry
		if exp.IsZero() {
			exp = time.Unix(1<<62, 0) // never expires: evict last
		}
		if first || exp.Before(soonest) {
			victim, soonest, first = k, exp, false
		}
	}
	delete(m.tokens, victim)
}
