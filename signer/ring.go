package signer

import (
	"errors"
	"fmt"
	"time"
)

// DefaultCacheTime is how long verifiers are assumed to keep a JWKS they fetched, when
// nobody says otherwise: a Ring's wait between publishing a key and signing with it. 24
// hours is the common upper bound of JWKS caches; Revolut does not document its own.
const DefaultCacheTime = 24 * time.Hour

// ErrRing is wrapped by the errors of a key ring that cannot be made.
var ErrRing = errors.New("finauth: signer: cannot make the key ring")

// RingKey is a key of a Ring: its Signer (whose kid verifiers look up) and when the JWKS
// holding it was first published. A zero PublishedAt means published long ago: the key in
// use before the rotation.
type RingKey struct {
	Signer      *Signer
	PublishedAt time.Time
}

// Ring holds an application's signing keys during a rotation and signs with the current
// one: the key published most recently whose publication verifiers have all seen, that is
// published at least CacheTime ago (the time verifiers may keep the JWKS they fetched
// before). Until then the key before it signs. So that a rotation needs no restart and no
// coordination between replicas, every replica switches by itself at the same instant
// (PublishedAt + CacheTime), and Current says which key it is. Safe for concurrent use.
type Ring struct {
	keys      []RingKey // by PublishedAt
	cacheTime time.Duration
	now       func() time.Time
}

// NewRing returns a ring of keys (at least one; each with its own kid and algorithm),
// switching CacheTime after each key's publication; now is the clock (nil: time.Now).
func NewRing(cacheTime time.Duration, now func() time.Time, keys ...RingKey) (*Ring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrRing)
	}
	if cacheTime < 0 {
		return nil, fmt.Errorf("%w: a negative cache time (%s)", ErrRing, cacheTime)
	}
	if now == nil {
		now = time.Now
	}
	seen := map[string]bool{}
	sorted := make([]RingKey, 0, len(keys))
	for i, k := range keys {
		if k.Signer == nil {
			return nil, fmt.Errorf("%w: key %d has no signer", ErrRing, i+1)
		}
		kid := k.Signer.KeyID()
		if kid == "" {
			return nil, fmt.Errorf("%w: key %d has no kid: verifiers pick the key by kid during a rotation", ErrRing, i+1)
		}
		if seen[kid] {
			return nil, fmt.Errorf("%w: two keys have kid %q: give the next key a kid of its own", ErrRing, kid)
		}
		seen[kid] = true
		at := len(sorted)
		for at > 0 && sorted[at-1].PublishedAt.After(k.PublishedAt) {
			at--
		}
		sorted = append(sorted, RingKey{})
		copy(sorted[at+1:], sorted[at:])
		sorted[at] = k
	}
	return &Ring{keys: sorted, cacheTime: cacheTime, now: now}, nil
}

// Current returns the key that signs now.
func (r *Ring) Current() *Signer {
	now := r.now()
	cur := r.keys[0]
	for _, k := range r.keys[1:] {
		if !now.Before(k.PublishedAt.Add(r.cacheTime)) {
			cur = k
		}
	}
	return cur.Signer
}

// Next returns the key that will sign next and when it will start, or ok false when the
// current key is the last one.
func (r *Ring) Next() (next *Signer, at time.Time, ok bool) {
	now := r.now()
	for _, k := range r.keys[1:] {
		if switchAt := k.PublishedAt.Add(r.cacheTime); now.Before(switchAt) {
			return k.Signer, switchAt, true
		}
	}
	return nil, time.Time{}, false
}

// CacheTime is how long after its publication a key starts to sign.
func (r *Ring) CacheTime() time.Duration { return r.cacheTime }

// Len is how many keys the ring holds.
func (r *Ring) Len() int { return len(r.keys) }
