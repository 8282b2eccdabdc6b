package redisstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
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
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		err := s.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			b.failures.Store(0)
			b.open.Store(false)
			s.log.Info("finauth: redisstore: Redis answers again; the shared cache is back")
			return
		}
	}
}

func (b *breaker) close() { b.stopOnce.Do(func() { close(b.stop) }) }
