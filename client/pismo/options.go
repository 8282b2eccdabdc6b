package pismo

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/finauth/finauth/client/internal/bearer"
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
// every token): default 10s, negative for no limit. See transport.Bearer.
func WithRefreshInterval(d time.Duration) Option {
	return func(o *options) { o.RefreshInterval = d }
}

// WithAccountSelector replaces AccountFromContext.
func WithAccountSelector(s AccountSelector) Option { return func(o *options) { o.selector = s } }

func collect(opts []Option) *options {
	o := &options{selector: AccountFromContext}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	o.Resolve()
	if o.selector == nil {
		o.selector = AccountFromContext
	}
	return o
}
