package pismo

import (
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/finauth/finauth/client/internal/bearer"
	"github.com/finauth/finauth/internal/absent"
	"github.com/finauth/finauth/tokencache"
)

// Option adjusts a client built by [NewClient], [NewTransport] or [Token].
type Option func(*options)

type options struct {
	bearer.Options
	selector AccountSelector
}

// WithBaseTransport sends API requests through rt (default: client.DefaultTransport()).
func WithBaseTransport(rt http.RoundTripper) Option { return func(o *options) { o.Base = rt } }

// WithTokenHTTPClient sends token-endpoint requests through hc (default: a client over
// client.DefaultTransport() that follows no redirects). The exchange's per-attempt timeout
// applies whatever hc is, and redirects to another origin are never followed.
func WithTokenHTTPClient(hc *http.Client) Option { return func(o *options) { o.TokenClient = hc } }

// WithLogger logs token-endpoint retries and the token cache's refresh events to l
// (default: silent). It is the cache's logger unless WithCacheOptions sets one.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.Logger = l } }

// WithClock sets the clock of JWTs, token lifetimes and refresh timers (default: the real
// clock). It is the cache's clock unless WithCacheOptions sets one.
func WithClock(c tokencache.Clock) Option { return func(o *options) { o.Clock = c } }

// WithCacheOptions sets the token cache's options (refresh window, margin, hooks, store...).
func WithCacheOptions(co tokencache.Options) Option { return func(o *options) { o.SetCache(co) } }

// WithTokenStore shares the tokens through s beyond this process: with a
// tokencache/redisstore Store, the replicas of a service make one token request per
// account per token lifetime between them. A store shared by several clients is scoped to
// this configuration's token URL, tenant, issuer, subject, group and key ID.
func WithTokenStore(s tokencache.Store) Option { return func(o *options) { o.Store = s } }

// WithRefreshInterval sets the least time between two refreshes of one account's token
// triggered by 401s of tokens rejected as soon as they were fetched (an API that refuses
// every token): default 10s, negative for no limit (tokencache.Options.RejectionInterval).
func WithRefreshInterval(d time.Duration) Option {
	return func(o *options) { o.RefreshInterval = d }
}

// WithAccountSelector replaces AccountFromContext.
func WithAccountSelector(s AccountSelector) Option { return func(o *options) { o.selector = s } }

// WithMeterProvider records the client's metrics (finauth.token.*, finauth.signatures,
// finauth.signature.duration, finauth.store.operations) in mp (default: the global
// MeterProvider, otel.GetMeterProvider(): a service that has set up OpenTelemetry gets them
// with no code). Cache hits never call into OpenTelemetry: lookups are read at collection.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.Telemetry.Meter = mp }
}

// WithTracerProvider records the client's spans (a finauth.token.fetch span per token
// request with a client span for its HTTP call, and the store calls of a miss) in tp
// (default: the global TracerProvider, otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.Telemetry.Tracer = tp }
}

// WithOnTokenChange calls f after each new token is cached (fetched, or adopted from the
// shared store): its key, expiry and provider, and the token, whose value is for your code
// alone (never log it: its String hides it).
func WithOnTokenChange(f func(tokencache.TokenChange)) Option {
	return func(o *options) { o.OnTokenChange = f }
}

// WithOnRefreshError calls f after each failed token request, saying whether it was a
// refresh ahead of expiry and whether a token that still works is served meanwhile.
func WithOnRefreshError(f func(tokencache.RefreshError)) Option {
	return func(o *options) { o.OnRefreshError = f }
}

func collect(opts []Option) *options {
	o := &options{selector: AccountFromContext}
	o.Name = "pismo"
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	absent.Clear(o) // a nil of any type given to an option means "none"
	o.Resolve()
	if o.selector == nil {
		o.selector = AccountFromContext
	}
	return o
}
