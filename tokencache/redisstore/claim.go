package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/finauth/finauth/tokencache"
)

// The fleet handoff in two round trips (tokencache.Claimer). A miss sends one script that
// deletes the rejected token (compare and delete), returns the stored token when it is
// worth adopting (judged on its clear expiry and issue times, value version 2), and else
// takes the fetch lock or finds it held: one round trip where Delete, Load, Lock and Load
// again took four. The holder's handoff is one more script: save the token, release the
// lock, and publish the sealed token with the release, so that the waiters have it with the
// notice instead of reading it (they had Await, then Load). Under a Redis whose every reply
// is 80 ms late, a revocation handed to five replicas took about seven sequential round
// trips before.

// claimScript: KEYS token, lock; ARGV now ms, safety margin ms, newer-than ms (0: any), lock
// ttl ms (0: look only), owner, then the rejected token's fingerprints. It answers {1, value}
// (a usable token, or one it cannot judge: an older format, no expiry), {2} (the lock is
// the caller's), {3} (another process holds it) or {0} (nothing, and no lock asked).
var claimScript = redis.NewScript(fmt.Sprintf(`
local v = redis.call('GET', KEYS[1])
if v then
  local fp = string.sub(v, 1, %[1]d)
  for i = 6, #ARGV do
    if fp == ARGV[i] then redis.call('DEL', KEYS[1]); v = false; break end
  end
end
if v then
  if string.sub(v, %[2]d, %[2]d) ~= '2' then return {1, v} end
  local exp = tonumber(string.sub(v, %[3]d, %[4]d))
  local iss = tonumber(string.sub(v, %[5]d, %[6]d))
  if exp == 0 then return {1, v} end
  local margin = tonumber(ARGV[2])
  if iss > 0 and iss < exp then margin = math.min(margin, math.floor((exp - iss) / 4)) end
  if exp - tonumber(ARGV[1]) > 2 * margin and exp > tonumber(ARGV[3]) then return {1, v} end
end
if tonumber(ARGV[4]) == 0 then return {0} end
if redis.call('SET', KEYS[2], ARGV[5], 'NX', 'PX', ARGV[4]) then return {2} end
return {3}`, fpSize, fpSize+1, fpSize+2, fpSize+1+timeSize, fpSize+2+timeSize, fpSize+1+2*timeSize))

// handoffScript: KEYS token, lock; ARGV value, its ttl ms (0: save nothing), owner,
// channel. It saves the token, deletes the lock if it is still the owner's, and announces
// the release with the sealed token.
var handoffScript = redis.NewScript(`
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[4], KEYS[2] .. '\n' .. ARGV[1])
return 1`)

// Claim implements tokencache.Claimer: what a miss asks of the store, in one round trip.
func (s *Store) Claim(ctx context.Context, key string, c tokencache.Claim) (tokencache.Claimed, error) {
	s.loads.Add(1)
	name, lock := s.names(key)
	var b [16]byte
	rand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	lease := min(s.lease, c.Lock)
	if tokencache.LocksForWholeTTL(ctx) {
		lease = c.Lock
	}
	var newerThan int64
	if !c.NewerThan.IsZero() {
		newerThan = c.NewerThan.UnixMilli()
	}
	args := []any{c.Now.UnixMilli(), c.SafetyMargin.Milliseconds(), newerThan, lease.Milliseconds(), owner}
	if c.Rejected != "" {
		for i := range s.keys {
			args = append(args, s.keys[i].fingerprint(c.Rejected))
		}
	}
	var seq uint64
	if c.Lock > 0 {
		s.subscribe()
		seq = s.notes.mark()
	}
	var res []any
	err := s.do(ctx, func(ctx context.Context) error {
		var err error
		res, err = claimScript.Run(ctx, s.rdb, []string{name, lock}, args...).Slice()
		return err
	})
	if err != nil {
		if c.Lock > 0 && !errors.Is(err, ErrUnavailable) {
			s.releaseLater(lock, owner, lease) // the SET may have run, and its reply come late
		}
		s.misses.Add(1)
		return tokencache.Claimed{}, err
	}
	code, _ := res[0].(int64)
	switch code {
	case 1:
		v, _ := res[1].(string)
		if tok, ok := s.open(name, []byte(v)); ok {
			s.hits.Add(1)
			return tokencache.Claimed{Token: tok, Found: true}, nil
		}
		s.notOpened()
		return tokencache.Claimed{Found: true}, nil // stored, but not for these keys: the caller fetches
	case 2:
		s.misses.Add(1)
		s.taken.Add(1)
		return s.held(name, lock, owner, lease, c.Lock), nil
	case 3:
		s.misses.Add(1)
		s.busy.Add(1)
		s.notes.busy(lock, seq)
	default:
		s.misses.Add(1)
	}
	return tokencache.Claimed{}, nil
}

// held is the Claimed of a lock the caller took: kept alive a lease at a time while it
// fetches, given up by Handoff (with the token) or Release (without).
func (s *Store) held(name, lock, owner string, lease, ttl time.Duration) tokencache.Claimed {
	stop := make(chan struct{})
	if ttl > lease {
		go s.hold(lock, owner, lease, ttl, stop)
	}
	var once sync.Once
	done := func() { once.Do(func() { close(stop) }) }
	return tokencache.Claimed{Held: true,
		Handoff: func(ctx context.Context, tok tokencache.Token) error {
			done()
			return s.handoff(ctx, name, lock, owner, tok)
		},
		Release: func() {
			done()
			// A release that fails leaves the lock to its lease: the others wait at most that.
			s.do(context.Background(), func(ctx context.Context) error {
				return releaseIfOwner.Run(ctx, s.rdb, []string{lock}, owner, s.channel()).Err()
			})
		},
	}
}

// handoff saves tok under name, releases the lock and hands tok to the waiters: one round
// trip.
func (s *Store) handoff(ctx context.Context, name, lock, owner string, tok tokencache.Token) error {
	ttl := noExpiryTTL
	if !tok.Expiry.IsZero() {
		ttl = max(time.Until(tok.Expiry), 0)
	}
	raw, err := s.seal(name, tok)
	if err != nil {
		return err
	}
	err = s.do(ctx, func(ctx context.Context) error {
		return handoffScript.Run(ctx, s.rdb, []string{name, lock}, raw, ttl.Milliseconds(), owner, s.channel()).Err()
	})
	if err == nil && ttl > 0 {
		s.saves.Add(1)
	}
	return err
}

// AwaitToken implements tokencache.Claimer: the token the holder of key's lock hands off,
// from the release notice (no round trip), or ok false when the lock went without one. With
// no live subscription it looks at the lock every PollInterval, as Await does.
func (s *Store) AwaitToken(ctx context.Context, key string) (tokencache.Token, bool, error) {
	name, lock := s.names(key)
	if err := s.Await(ctx, key); err != nil {
		return tokencache.Token{}, false, err
	}
	v := s.notes.take(lock)
	if v == nil {
		return tokencache.Token{}, false, nil
	}
	tok, ok := s.open(name, v)
	return tok, ok, nil
}
