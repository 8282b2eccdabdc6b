package tokencache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/finauth/finauth/internal/absent"
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

// FleetStore is a Store shared by several processes (the replicas of a service) that lets
// them fetch each key once for all of them. A Cache whose Store is a FleetStore, on a miss
// with nothing usable stored, takes the key's fetch lock before fetching; when another
// process holds it, the Cache waits for that process's token (Await) and loads it instead
// of fetching. A lock whose holder died expires after its ttl (the Cache's FetchTimeout),
// or sooner when the Store keeps locks as leases its holder extends (redisstore does), and
// another process takes over. Store trouble never fails a fetch: on an error the Cache
// fetches on its own.
type FleetStore interface {
	Store
	// Lock tries to take key's fetch lock for ttl. ok is false when another holder has it.
	// release gives the lock up, only if it is still this caller's.
	Lock(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error)
	// Await returns when key's lock is gone: released by its holder (which saves its token
	// first) or expired. It returns ctx's error when ctx ends first.
	Await(ctx context.Context, key string) error
}

// Claimer is a FleetStore that hands a token to the fleet in at most two round trips per
// process, which a slow store turns into time every process waits: Claim does what a miss
// asks of the store (drop the rejected token, read a usable one, or take the fetch lock) in
// one, the holder's Claimed.Handoff saves its token, releases the lock and hands the token
// to the processes waiting for it in one, and AwaitToken gives a waiter that token without
// reading the store again. A Cache whose Store is a Claimer uses it on every miss.
type Claimer interface {
	FleetStore
	// Claim, in one round trip: deletes key's token if it is c.Rejected (compare and delete);
	// returns the stored token (Found) if it is usable: more than twice c.SafetyMargin left at
	// c.Now (the margin scaled down to a quarter of the token's lifetime), and expiring after
	// c.NewerThan; else, when c.Lock is not zero, takes key's fetch lock for c.Lock (Held) or
	// finds another process holding it.
	Claim(ctx context.Context, key string, c Claim) (Claimed, error)
	// AwaitToken returns the token the holder of key's fetch lock hands off (ok), or ok false
	// when the lock went without one (its holder failed or died), or ctx's error.
	AwaitToken(ctx context.Context, key string) (tok Token, ok bool, err error)
}

// Claim is what a miss asks of a Claimer.
type Claim struct {
	Rejected     string        // the token a server rejected, to delete if still stored
	Now          time.Time     // the caller's clock
	SafetyMargin time.Duration // a stored token needs more than twice this left (scaled)
	NewerThan    time.Time     // and must expire after this (zero: any)
	Lock         time.Duration // the fetch lock's ttl, when nothing usable is stored; 0: look only
}

// Claimed is what Claim found: a usable token, or the fetch lock (Held), or neither (another
// process holds the lock: AwaitToken).
type Claimed struct {
	Token Token
	// Found: a token is stored that the caller should not wait for the fleet to replace:
	// Token, when usable, or a zero Token for one the Store could not read (a value sealed
	// with another key): the caller fetches, and its token replaces it.
	Found bool
	Held  bool
	// Handoff, when Held: saves tok, releases the lock and hands tok to the waiting
	// processes, in one round trip.
	Handoff func(ctx context.Context, tok Token) error `json:"-"`
	// Release, when Held: gives the lock up without a token (the fetch failed).
	Release func() `json:"-"`
}

// scopedClaimer is a Claimer whose keys carry an identity's prefix.
type scopedClaimer struct {
	scopedFleet
	cl Claimer
}

func (s scopedClaimer) Claim(ctx context.Context, key string, c Claim) (Claimed, error) {
	return s.cl.Claim(ctx, s.prefix+key, c)
}

func (s scopedClaimer) AwaitToken(ctx context.Context, key string) (Token, bool, error) {
	return s.cl.AwaitToken(ctx, s.prefix+key)
}

// exclusiveKey marks a context whose Lock must hold for its whole ttl.
type exclusiveKey struct{}

// LockForWholeTTL returns ctx marked so that a FleetStore's Lock holds the lock for its
// whole ttl, never as a shorter lease: for a lock whose loss costs more than a second fetch
// (renewing with a refresh token the server rotates, where two holders at once would reuse
// it and lose the consent). A holder that dies then blocks the key for the whole ttl.
func LockForWholeTTL(ctx context.Context) context.Context {
	return context.WithValue(ctx, exclusiveKey{}, true)
}

// LocksForWholeTTL reports whether ctx was marked by LockForWholeTTL.
func LocksForWholeTTL(ctx context.Context) bool {
	v, _ := ctx.Value(exclusiveKey{}).(bool)
	return v
}

// Scoper is a Store shared by several token issuers (tenants, providers): Scope returns the
// Store for one of them, whose keys cannot meet another identity's.
type Scoper interface {
	Scope(identity string) Store
}

// Scope returns the Store of identity (a token issuer and client): s.Scope(identity) when s
// is a Scoper, and otherwise s wrapped so that every key it is given carries the identity
// (Load, Save and Delete; Lock and Await when s is a FleetStore, which the result then is
// too), whatever s's type: a MemoryStore, or a wrapper of yours around a redisstore.Store.
// Keys of two identities never meet. The providers' transports scope every store they are
// given with their configuration's identity.
func Scope(s Store, identity string) Store {
	if absent.Is(s) {
		return nil
	}
	if sc, ok := s.(Scoper); ok {
		return sc.Scope(identity)
	}
	sum := sha256.Sum256([]byte(identity))
	sc := scoped{s: s, prefix: hex.EncodeToString(sum[:12]) + ":"}
	if cl, ok := s.(Claimer); ok {
		return scopedClaimer{scopedFleet: scopedFleet{scoped: sc, fs: cl}, cl: cl}
	}
	if fs, ok := s.(FleetStore); ok {
		return scopedFleet{scoped: sc, fs: fs}
	}
	return sc
}

// scoped is a Store whose keys carry an identity's prefix.
type scoped struct {
	s      Store
	prefix string
}

func (s scoped) Load(ctx context.Context, key string) (Token, bool, error) {
	return s.s.Load(ctx, s.prefix+key)
}

func (s scoped) Save(ctx context.Context, key string, tok Token) error {
	return s.s.Save(ctx, s.prefix+key, tok)
}

func (s scoped) Delete(ctx context.Context, key, rejected string) error {
	return s.s.Delete(ctx, s.prefix+key, rejected)
}

// scopedFleet is a FleetStore whose keys carry an identity's prefix.
type scopedFleet struct {
	scoped
	fs FleetStore
}

func (s scopedFleet) Lock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	return s.fs.Lock(ctx, s.prefix+key, ttl)
}

func (s scopedFleet) Await(ctx context.Context, key string) error {
	return s.fs.Await(ctx, s.prefix+key)
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
