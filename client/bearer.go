package client

import (
	"net/http"
	"time"

	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// BearerOptions are the options of every provider whose requests carry cached bearer
// tokens; each such provider's Option type fills them.
type BearerOptions struct {
	Settings
	// Cache are the token cache's options; its Clock and Logger default to Settings'.
	Cache tokencache.Options
	// RefreshInterval is transport.Bearer's.
	RefreshInterval time.Duration
	// Store shares tokens beyond this process (tokencache/redisstore); it replaces
	// Cache.Store when set. A store that is a tokencache.Scoper is scoped to Identity.
	Store tokencache.Store
	// Identity names the token issuer and client (the provider sets it from its
	// configuration), so that a shared store keeps different clients' tokens apart.
	Identity string
}

// SetStore makes s the token cache's shared store.
func (o *BearerOptions) SetStore(s tokencache.Store) { o.Store = s }

// SetClock makes c the clock of tokens, timers and signatures.
func (o *BearerOptions) SetClock(c tokencache.Clock) { o.Cache.Clock = c }

// SetCache sets the cache options, keeping a clock and logger set before unless co has its
// own.
func (o *BearerOptions) SetCache(co tokencache.Options) {
	clock, logger := o.Cache.Clock, o.Cache.Logger
	o.Cache = co
	if o.Cache.Clock == nil {
		o.Cache.Clock = clock
	}
	if o.Cache.Logger == nil {
		o.Cache.Logger = logger
	}
}

// Resolve settles the defaults between the cache and the settings: one logger, one clock.
func (o *BearerOptions) Resolve() {
	if o.Cache.Logger == nil {
		o.Cache.Logger = o.Logger
	}
	if o.Logger == nil {
		o.Logger = o.Cache.Logger
	}
	if o.Cache.Clock != nil {
		o.Now = o.Cache.Clock.Now
	}
}

// BearerTransport is a provider's http.RoundTripper for bearer tokens: a transport.Bearer
// over a token cache whose fetch gets the provider's tokens. Close it to stop background
// refreshes.
type BearerTransport struct {
	bearer   *transport.Bearer
	cache    *tokencache.Cache
	settings *Settings
}

// NewBearerTransport builds the transport: tokens from fetch, cached under the key keyFunc
// picks, sent to origins only.
func NewBearerTransport(fetch tokencache.FetchFunc, keyFunc transport.KeyFunc, origins *transport.Origins, o *BearerOptions) *BearerTransport {
	co := o.Cache
	if o.Store != nil {
		co.Store = o.Store
	}
	if sc, ok := co.Store.(tokencache.Scoper); ok {
		co.Store = sc.Scope(o.Identity)
	}
	cache := tokencache.New(fetch, co)
	return &BearerTransport{
		cache:    cache,
		settings: &o.Settings,
		bearer: &transport.Bearer{
			Base:            o.BaseTransport(),
			Tokens:          cache,
			Origins:         origins,
			Key:             keyFunc,
			RefreshInterval: o.RefreshInterval,
			Now:             o.Clock(),
		},
	}
}

// RoundTrip implements http.RoundTripper.
func (t *BearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.bearer.RoundTrip(req)
}

// Close stops the token cache's timers and background refreshes and closes the idle
// connections of the transports the client made itself.
func (t *BearerTransport) Close() error {
	err := t.cache.Close()
	t.settings.CloseIdleConnections()
	return err
}

// Cache returns the token cache, for providers that put tokens obtained outside it (an
// authorization-code exchange).
func (t *BearerTransport) Cache() *tokencache.Cache { return t.cache }

// Stats returns the token cache's counters (Fetches counts token requests).
func (t *BearerTransport) Stats() tokencache.Stats { return t.cache.Stats() }

// Replays returns how many requests were replayed after a 401.
func (t *BearerTransport) Replays() uint64 { return t.bearer.Replays() }

// SuppressedRefreshes returns how many 401s went back to the caller without a new token
// request, because the key's token had been refreshed after a 401 within the refresh
// interval.
func (t *BearerTransport) SuppressedRefreshes() uint64 { return t.bearer.SuppressedRefreshes() }
