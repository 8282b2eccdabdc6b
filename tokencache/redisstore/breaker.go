package redisstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// breaker counts consecutive failures; at threshold it opens (every call refused at once)
// and a probe pings Redis every probe interval until it answers, which closes it.
type breaker struct {
	threshold int
	probe     time.Duration
	failures  atomic.Int64
	open      atomic.Bool
	opens     atomic.Uint64
	stopOnce  sync.Once
	stop      chan struct{}
}

func (b *breaker) succeeded() {
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
}

func (b *breaker) failed(s *shared, err error) {
	if b.failures.Add(1) < int64(b.threshold) || !b.open.CompareAndSwap(false, true) {
		return
	}
	b.opens.Add(1)
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		c.ReloadState(context.Background()) // a failed master: learn its replica's promotion
	}
	s.log.Warn("finauth: redisstore: Redis is unavailable; tokens are cached per process until it answers again", "error", err)
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
		err := s.ping()
		if err == nil {
			b.failures.Store(0)
			b.open.Store(false)
			s.log.Info("finauth: redisstore: Redis answers again; the shared cache is back")
			return
		}
	}
}

func (b *breaker) close() { b.stopOnce.Do(func() { close(b.stop) }) }

// ping is the breaker's probe. A Cluster answers when every master does, as the cluster's
// current view of its slots (read again at each probe) lists them: one live node answering
// is not enough, since the keys of a dead master's slots fail until its replica is promoted,
// and the client follows the promotion only once it reads the slots again.
func (s *shared) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), max(s.timeout, time.Second))
	defer cancel()
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.Ping(ctx).Err() })
	}
	return s.rdb.Ping(ctx).Err()
}
