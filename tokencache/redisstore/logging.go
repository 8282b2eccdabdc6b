package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// go-redis writes its own notices (a dial that failed, a Sentinel that changed master) to the
// standard log package, past the store's Logger and its promise to report an outage once.
// redis.SetLogger is process-wide: the first New routes them, once, to the Logger of the
// latest Store made with one, at debug level (the store reports what matters itself: the
// breaker opening and closing). Call redis.SetLogger yourself after New to send them
// elsewhere.
var (
	routeOnce  sync.Once
	goRedisLog atomic.Pointer[slog.Logger]
)

// routeGoRedisLogs makes l (when not nil) the receiver of go-redis's notices.
func routeGoRedisLogs(l *slog.Logger) {
	if l != nil {
		goRedisLog.Store(l)
	}
	routeOnce.Do(func() { redis.SetLogger(goRedisLogger{}) })
}

// goRedisLogger is go-redis's Logging on the store's slog logger.
type goRedisLogger struct{}

// Printf logs one of go-redis's notices at debug level.
func (goRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := goRedisLog.Load(); l != nil && l.Enabled(ctx, slog.LevelDebug) {
		l.Debug("finauth: redisstore: go-redis: " + fmt.Sprintf(format, v...))
	}
}
