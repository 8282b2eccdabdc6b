package clientcredentials

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/finauth/finauth/client/internal/bearer"
	"github.com/finauth/finauth/tokencache"
)

// Option adjusts a client built by [NewClient], [NewTransport] or [Token].
type Option func(*options)

type options struct{ bearer.Options }

// WithBaseTransport sends API requests through rt (default: client.DefaultTransport()).
func WithBaseTransport(rt http.RoundTripper) Option { return func(o *options) { o.Base = rt } }

// WithTokenHTTPClient sends token requests through hc (default: a client over
// client.DefaultTransport() that follows no redirects). The per-attempt timeout applies
// whatever hc is, and redirects to another origin are never followed.
func WithTokenHTTPClient(hc *http.Client) Option { return func(o *options) { o.TokenClient = hc } }

// WithLogger logs token-endpoint retries and the token cache's refresh events to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.Logger = l } }

// WithClock sets the clock of assertions, token lifetimes and refresh timers.
func WithClock(c tokencache.Clock) Option { return func(o *options) { o.Clock = c } }

// WithCacheOptions sets the token cache's options (refresh window, margin, hooks, store...).
func WithCacheOptions(co tokencache.Options) Option { return func(o *options) { o.SetCache(co) } }

// WithRefreshInterval sets the least time between two 401-triggered token requests of one
// scope set whose tokens are rejected at once: default 10s, negative for no limit.
func WithRefreshInterval(d time.Duration) Option {
	return func(o *options) { o.RefreshInterval = d }
}

// WithTokenStore shares the tokens through s beyond this process: with a
// tokencache/redisstore Store, the replicas of a service make one token request per scope
// set per token lifetime between them. A store shared by several clients is scoped to this
// configuration's token URL, client ID and audience.
func WithTokenStore(s tokencache.Store) Option { return func(o *options) { o.Store = s } }

func collect(opts []Option) *options {
	o := &options{}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	o.Resolve()
	return o
}
