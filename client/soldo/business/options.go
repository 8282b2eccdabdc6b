package business

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
	endpoints    []Endpoint
	maxBodyBytes int64
}

// WithBaseTransport sends API requests through rt (default: client.DefaultTransport()).
func WithBaseTransport(rt http.RoundTripper) Option { return func(o *options) { o.Base = rt } }

// WithTokenHTTPClient sends token requests through hc (default: a client over
// client.DefaultTransport() that follows no redirects). The per-attempt timeout applies
// whatever hc is, and redirects to another origin are never followed.
func WithTokenHTTPClient(hc *http.Client) Option { return func(o *options) { o.TokenClient = hc } }

// WithLogger logs token-endpoint retries and the token cache's refresh events to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.Logger = l } }

// WithClock sets the clock of token lifetimes and refresh timers.
func WithClock(c tokencache.Clock) Option { return func(o *options) { o.Clock = c } }

// WithCacheOptions sets the token cache's options (refresh window, margin, hooks, store...).
func WithCacheOptions(co tokencache.Options) Option { return func(o *options) { o.SetCache(co) } }

// WithRefreshInterval sets the least time between two 401-triggered token requests whose
// tokens are rejected at once: default 10s, negative for no limit. Soldo asks for a new
// token after its 2 hours or on a 401, not more often.
func WithRefreshInterval(d time.Duration) Option {
	return func(o *options) { o.RefreshInterval = d }
}

// WithTokenStore shares the tokens through s beyond this process: with a
// tokencache/redisstore Store, the replicas of a service make one token request per token
// lifetime between them. A store shared by several clients is scoped to this
// configuration's token request (token URL, client ID, a hash of the client secret).
func WithTokenStore(s tokencache.Store) Option { return func(o *options) { o.Store = s } }

// WithEndpoints adds fingerprint orders to the documented ones (Endpoints); one with the
// method and path pattern of a documented endpoint replaces it.
func WithEndpoints(eps ...Endpoint) Option {
	return func(o *options) { o.endpoints = append(o.endpoints, eps...) }
}

// WithMaxBodyBytes bounds the buffering of a fingerprinted request's body when it has no
// GetBody (default transport.DefaultMaxBodyBytes): a larger body fails before it is sent.
func WithMaxBodyBytes(n int64) Option { return func(o *options) { o.maxBodyBytes = n } }

// WithMeterProvider records the client's metrics (finauth.token.*, finauth.signatures and
// finauth.signature.duration for the fingerprint signatures, finauth.store.operations) in
// mp (default: the global MeterProvider, otel.GetMeterProvider()).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.Telemetry.Meter = mp }
}

// WithTracerProvider records the client's spans (a finauth.token.fetch span per token
// request) in tp (default: the global TracerProvider, otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.Telemetry.Tracer = tp }
}

// WithOnTokenChange calls f after each new token is cached (fetched, or adopted from the
// shared store); the token's value is for your code alone (never log it).
func WithOnTokenChange(f func(tokencache.TokenChange)) Option {
	return func(o *options) { o.OnTokenChange = f }
}

// WithOnRefreshError calls f after each failed token request.
func WithOnRefreshError(f func(tokencache.RefreshError)) Option {
	return func(o *options) { o.OnRefreshError = f }
}

func collect(opts []Option) *options {
	o := &options{}
	o.Name = "soldo-business"
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	absent.Clear(o) // a nil of any type given to an option means "none"
	o.Resolve()
	return o
}
