package revolut

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

// Option adjusts a Signer, a Transport or a Client.
type Option func(*options)

type options struct {
	bearer.Options
	expiryWarning time.Duration
	certWarning   time.Duration
	noNonce       bool
	legacyIss     string
	jwsFor        func(*http.Request) bool
	retries       int
	retryWait     [2]time.Duration
}

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

// collect applies opts over the defaults; the cache's clock is the real one unless
// WithClock says otherwise.
func collect(opts []Option) *options {
	o := &options{retries: 3, retryWait: [2]time.Duration{200 * time.Millisecond, 2 * time.Second}, expiryWarning: DefaultConsentExpiryWarning, certWarning: DefaultCertificateExpiryWarning}
	o.Name = "revolut"
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	absent.Clear(o)    // a nil of any type given to an option means "none"
	if o.Base != nil { // WithBaseTransport: token requests go through it too
		o.TokenClient = tokenClient(o.Base)
	}
	if o.Clock == nil && o.Cache.Clock == nil {
		o.Clock = tokencache.RealClock{}
	}
	o.Resolve()
	return o
}

// WithClock sets the clock of nbf/exp, of the legacy profile's iat, of token lifetimes and
// refresh timers (default: real time).
func WithClock(c tokencache.Clock) Option { return func(o *options) { o.Clock = c } }

// WithLegacyJWS signs x-jws-signature in the older Open Banking profile (3.1.3 and before):
// an unencoded payload ("b64": false) and "http://openbanking.org.uk/iat" and
// ".../iss" (issuer: your organisation / software statement ID) in "crit" beside the tan.
func WithLegacyJWS(issuer string) Option { return func(o *options) { o.legacyIss = issuer } }

// WithConsentExpiryWarning sets how long before a consent's refresh token expires a warning
// is logged, once per consent (default 7 days; 0 never).
func WithConsentExpiryWarning(d time.Duration) Option {
	return func(o *options) { o.expiryWarning = d }
}

// WithCertificateExpiryWarning sets how long before the transport certificate expires
// NewTransport logs a warning (default 30 days; 0 never). An expired certificate is an error
// whatever this says (ErrCertificateExpired), and the gauge finauth.certificate.expiry says how
// long it has left for as long as the transport lives: alert on it.
func WithCertificateExpiryWarning(d time.Duration) Option {
	return func(o *options) { o.certWarning = d }
}

// WithoutNonce leaves the nonce out of request objects, as Revolut's own example does.
func WithoutNonce() Option { return func(o *options) { o.noNonce = true } }

// WithLogger logs token-endpoint retries and the token cache's refresh events to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.Logger = l } }

// WithBaseTransport sends API and token requests through rt instead of the mutual-TLS
// transport made from the configuration: rt must present the transport certificate itself.
func WithBaseTransport(rt http.RoundTripper) Option {
	return func(o *options) { o.Base = rt }
}

// tokenClient sends token requests through rt (which presents the transport certificate),
// following no redirect.
func tokenClient(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// WithTokenStore shares the client-credentials and consent tokens through s beyond this
// process (tokencache/redisstore), scoped to this client ID and token URL.
func WithTokenStore(s tokencache.Store) Option { return func(o *options) { o.Store = s } }

// WithCacheOptions sets the token cache's options.
func WithCacheOptions(co tokencache.Options) Option { return func(o *options) { o.SetCache(co) } }

// WithRefreshInterval sets the least time between two 401-triggered token requests of one
// scope or consent whose tokens are rejected at once: default 10s, negative for no limit.
func WithRefreshInterval(d time.Duration) Option {
	return func(o *options) { o.RefreshInterval = d }
}

// WithJWSPredicate picks the API requests that carry x-jws-signature; default: every request
// with a body.
func WithJWSPredicate(f func(*http.Request) bool) Option { return func(o *options) { o.jwsFor = f } }

// WithRetries sets how many times an API request that failed with a connection error, 429,
// 502, 503 or 504 is sent again (POSTs with their idempotency key), and the backoff bounds;
// default 3 times, 200 ms to 2 s (Retry-After honoured). 0 disables retries.
func WithRetries(n int, minWait, maxWait time.Duration) Option {
	return func(o *options) { o.retries, o.retryWait = n, [2]time.Duration{minWait, maxWait} }
}
