package tokencache

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Options configure a Cache. The zero value is valid: every field has the default its
// comment gives.
type Options struct {
	// RefreshWindow is how long before the safety margin a token turns stale and is
	// refreshed in the background. Default: the smaller of 5 minutes and 20% of the
	// token's lifetime. It is never more than half of the usable lifetime.
	RefreshWindow time.Duration
	// RefreshJitter widens the window by up to this fraction, at random per token, so that
	// replicas do not refresh in lockstep. Default 0.1; negative means none.
	RefreshJitter float64
	// SafetyMargin is how long before Expiry a token counts as expired, covering clock
	// skew and request latency. Default 30s; never more than half the token's lifetime.
	SafetyMargin time.Duration
	// FetchTimeout bounds one fetch. Default 30s.
	FetchTimeout time.Duration
	// NegativeTTL is how long a failed fetch (with no usable token to fall back on) is
	// remembered and returned to callers without fetching again. Default 1s; negative
	// means not at all.
	NegativeTTL time.Duration
	// BackoffMin and BackoffMax bound the jittered exponential backoff between background
	// refresh attempts while a still-usable token is served. Defaults 1s and 60s.
	BackoffMin, BackoffMax time.Duration
	// NoPrefetch turns off refreshing stale tokens of recently used keys when no request
	// arrives. Prefetch is on by default.
	NoPrefetch bool
	// MaxConcurrentFetches bounds how many fetches run at once across all keys; the others
	// wait for a slot (their callers wait too, each within its own context; the wait does
	// not count against FetchTimeout). Every key still has at most one fetch. Default 16.
	MaxConcurrentFetches int
	// MaxKeys bounds the number of keys; the least recently used is evicted beyond it.
	// Default 10,000.
	MaxKeys int
	// Clock is the time source. Default RealClock.
	Clock Clock
	// Rand returns a random float in [0, 1) for jitter. Default math/rand/v2.Float64.
	Rand func() float64
	// RejectionInterval is the least time between two fetches of one key caused by
	// rejections of tokens that never worked (Rejected): an API that rejects every token
	// costs one token request per interval, not one per request. Default
	// DefaultRejectionInterval; negative means no limit.
	RejectionInterval time.Duration
	// FleetWait bounds how long a rejection held back waits for the token another process
	// is fetching, with a shared Store (Rejected). Default DefaultFleetWait; negative means
	// not at all.
	FleetWait time.Duration
	// Store, when set, shares tokens beyond this process: it is read on a miss before
	// fetching, written after a fetch, and told about rejected tokens. Default nil: tokens
	// live in this cache's own memory only.
	Store Store
	// Logger receives fetch failures and refresh events. Default: silent.
	Logger *slog.Logger
	// LogKeys adds the cache key (which may be an account ID) to log lines and, as
	// finauth.key, to fetch spans. Default off: no key in any log line or span.
	LogKeys bool
	// OnFetch is called after every fetch with its key, duration and error.
	OnFetch func(key string, d time.Duration, err error)
	// OnTokenChange is called after a new token is cached for a key: fetched, adopted from
	// the Store, or Put. It runs on the fetch's goroutine, after the waiters are released;
	// keep it short. The Token's value is for your code alone: never log it (its String
	// hides it).
	OnTokenChange func(TokenChange)
	// OnRefreshError is called after a fetch fails (a timeout, the token endpoint's refusal,
	// ...), saying whether a cached token is still served meanwhile.
	OnRefreshError func(RefreshError)

	// Name is the cache's finauth.provider in its telemetry and hooks (the providers set
	// theirs: "pismo", ...). Default "tokencache".
	Name string
	// MeterProvider receives the cache's metrics: finauth.token.fetches and
	// finauth.token.fetch.duration, finauth.token.lookups and finauth.token.expiry (read at
	// collection time: a cache hit never calls into OpenTelemetry), finauth.store.operations.
	// Default otel.GetMeterProvider(), the global one.
	MeterProvider metric.MeterProvider
	// TracerProvider receives a finauth.token.fetch span per fetch (a child of the request
	// that waited for it; a background refresh is a root span linked to the request that
	// found the token stale) and a span per Store call on a miss. Default
	// otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
}

// Defaults of Options.
const (
	DefaultRejectionInterval = 10 * time.Second
	DefaultFleetWait         = time.Second
)

func (o Options) withDefaults() Options {
	if o.RejectionInterval == 0 {
		o.RejectionInterval = DefaultRejectionInterval
	}
	if o.FleetWait == 0 {
		o.FleetWait = DefaultFleetWait
	}
	if o.RefreshJitter == 0 {
		o.RefreshJitter = 0.1
	} else if o.RefreshJitter < 0 {
		o.RefreshJitter = 0
	}
	if o.SafetyMargin <= 0 {
		o.SafetyMargin = 30 * time.Second
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = 30 * time.Second
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 60 * time.Second
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.MaxConcurrentFetches <= 0 {
		o.MaxConcurrentFetches = 16
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 10_000
	}
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = "tokencache"
	}
	return o
}

// schedule computes, for a token stored at now, when it turns stale and when expired.
func (o *Options) schedule(now, expiry time.Time) (staleAt, expiredAt time.Time) {
	lifetime := expiry.Sub(now)
	margin := min(o.SafetyMargin, lifetime/2)
	usable := lifetime - margin
	window := o.RefreshWindow
	if window <= 0 {
		window = min(5*time.Minute, lifetime/5)
	}
	window = min(window, usable/2)
	window += time.Duration(float64(window) * o.RefreshJitter * o.Rand())
	window = min(window, usable)
	expiredAt = expiry.Add(-margin)
	return expiredAt.Add(-window), expiredAt
}

// backoff is the delay before background retry n (n >= 1): the exponential step
// BackoffMin*2^(n-1), stretched by up to 100% at random so that replicas spread out, and
// kept within [BackoffMin, BackoffMax].
func (o *Options) backoff(n int) time.Duration {
	d := o.BackoffMin
	for i := 1; i < n && d < o.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, o.BackoffMax)
	return min(d+time.Duration(float64(d)*o.Rand()), o.BackoffMax)
}
