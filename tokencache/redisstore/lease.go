package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Fetch locks are leases. A lock is set for LockLease (not for the whole ttl the cache asks,
// its fetch deadline) and its holder extends it every third of a lease while it fetches, up
// to that ttl. So a lock its holder no longer holds goes within one lease, whatever made it
// stale: the holder died (SIGKILL, an OOM kill), its release failed (Redis unreachable at
// that moment), or a failover lost the release (Redis replicates asynchronously: the
// promoted replica may hold a lock its old master had already deleted). Before, such a lock
// stayed for the whole fetch deadline, 30 s by default, and every replica needing that key's
// token waited for it. A fetch shorter than a third of a lease (nearly all of them) costs no
// extension at all.

// DefaultLockLease is the default Options.LockLease.
const DefaultLockLease = 3 * time.Second

// extendIfOwner sets KEYS[1]'s time to live to ARGV[2] ms if it still holds ARGV[1].
var extendIfOwner = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

// hold keeps lock (owned by owner) alive, a lease at a time, until stop is closed or ttl
// has passed since it was taken; it stops when the lock is no longer owner's.
func (s *Store) hold(lock, owner string, lease, ttl time.Duration, stop <-chan struct{}) {
	end := time.Now().Add(ttl)
	t := time.NewTicker(lease / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-s.breaker.stop: // the store was closed
			return
		case <-t.C:
		}
		left := time.Until(end)
		if left <= 0 {
			return
		}
		var n int64
		err := s.do(context.Background(), func(ctx context.Context) error {
			var err error
			n, err = extendIfOwner.Run(ctx, s.rdb, []string{lock}, owner, min(lease, left).Milliseconds()).Int64()
			return err
		})
		if err == nil && n == 0 {
			return // gone (a failover lost it): another replica may fetch too, which costs one exchange
		}
	}
}
