package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// breaker counts consecutive failures, and consecutive replies slower than the latency
// budget; at either threshold it opens (every call refused at once) and a probe pings Redis
// every probe interval until it answers, within the budget, which closes it. Slow replies
// open it only when they have gone on for a probe interval besides: a process starved of
// CPU for a moment (a GC pause, a busy host) sees a burst of them from a healthy Redis.
type breaker struct {
	threshold int
	probe     time.Duration
	slow      time.Duration // the latency budget of a reply (negative: none)
	slowN     int64         // replies in a row over it that open the breaker
	failures  atomic.Int64
	slowRun   atomic.Int64
	slowSince atomic.Int64 // Unix ns of the first reply of the run of slow ones
	open      atomic.Bool
	opens     atomic.Uint64
	slowOpens atomic.Uint64 // opened for latency
	stopOnce  sync.Once
	stop      chan struct{}
}

// answered records a reply that took d: within the budget, it ends a run of slow ones.
func (b *breaker) answered(s *shared, d time.Duration) {
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
	if b.slow < 0 || d <= b.slow {
		if b.slowRun.Load() != 0 {
			b.slowRun.Store(0)
		}
		return
	}
	now := time.Now().UnixNano()
	n := b.slowRun.Add(1)
	if n == 1 {
		b.slowSince.Store(now)
	}
	if since := time.Duration(now - b.slowSince.Load()); n >= b.slowN && since >= b.probe {
		b.trip(s, fmt.Errorf("%d replies in a row over %v slower than %v (the last: %v)", n, since.Round(time.Millisecond), b.slow, d.Round(time.Millisecond)), true)
	}
}

func (b *breaker) failed(s *shared, err error) {
	if b.failures.Add(1) >= int64(b.threshold) {
		b.trip(s, err, false)
	}
}

// trip opens the breaker (once) and starts the probe.
func (b *breaker) trip(s *shared, err error, slow bool) {
	if !b.open.CompareAndSwap(false, true) {
		return
	}
	b.opens.Add(1)
	if slow {
		b.slowOpens.Add(1)
	}
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		c.ReloadState(context.Background()) // a failed master: learn its replica's promotion
	}
	s.log.Warn("finauth: redisstore: Redis is unavailable or slow; tokens are cached per process until it answers again, in time", "error", err)
	go b.probeUntilUp(s)
}

func (b *breaker) probeUntilUp(s *shared) {
	t := time.NewTicker(b.probe)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		start := time.Now()
		err := s.ping()
		if err == nil && (b.slow < 0 || time.Since(start) <= b.slow) {
			b.failures.Store(0)
			b.slowRun.Store(0)
			b.open.Store(false)
			s.log.Info("finauth: redisstore: Redis answers again; the shared cache is back")
			return
		}
	}
}

func (b *breaker) close() { b.stopOnce.Do(func() { close(b.stop) }) }

// ping is the breaker's probe. A Cluster answers when it serves every slot (CLUSTER INFO's
// cluster_state:ok, as the node asked sees it) and every node it routes to answers a PING,
// its view of the slots read again at each probe: one live node answering is not enough,
// since the keys of a dead master's slots fail until its replica is promoted, and the client
// follows the promotion only once it reads the slots again. A dead master that lost its
// slots to its replica is no longer asked (go-redis v9.24's ForEachMaster still lists it,
// so a probe over it never succeeded after a failover).
func (s *shared) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), max(s.timeout, time.Second))
	defer cancel()
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		info, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return errClusterDown
		}
		return c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() })
	}
	return s.rdb.Ping(ctx).Err()
}

// errClusterDown is a probe's answer from a Cluster that does not serve every slot.
var errClusterDown = errors.New("finauth: redisstore: the Redis Cluster does not serve every slot (cluster_state is not ok)")

// ErrAuth is wrapped by Check's error when Redis refuses the store's credentials (a wrong
// password or user in the URL: WRONGPASS, NOAUTH, NOPERM).
var ErrAuth = errors.New("finauth: redisstore: Redis refused the credentials of the URL: check its user and password")

// Check asks Redis once, within ctx, whether it answers and accepts the store's credentials
// (a PING; on a Cluster, every node and cluster_state:ok): for a service's startup or a
// deploy's check, since the store itself never fails a request over Redis. It returns nil,
// an error wrapping ErrAuth when the credentials are refused (fix the URL), or the error of a
// Redis that does not answer (the store works without it: each replica caches alone until it
// answers). The error holds no password.
func (s *Store) Check(ctx context.Context) error {
	var err error
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		err = c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() })
		if err == nil {
			var info string
			if info, err = c.ClusterInfo(ctx).Result(); err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = errClusterDown
			}
		}
	} else {
		err = s.rdb.Ping(ctx).Err()
	}
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, refusal := range []string{"WRONGPASS", "NOAUTH", "NOPERM", "ERR AUTH", "ERR invalid password"} {
		if strings.HasPrefix(msg, refusal) {
			return fmt.Errorf("%w (%s)", ErrAuth, firstWords(msg))
		}
	}
	return fmt.Errorf("finauth: redisstore: Redis does not answer: %w", err)
}

// firstWords is the start of Redis's own refusal, without anything a server may echo after.
func firstWords(msg string) string {
	if i := strings.IndexAny(msg, ".\n"); i > 0 {
		msg = msg[:i]
	}
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return msg
}
