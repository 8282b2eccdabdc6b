// Package bearer builds the transport of every provider whose requests carry cached bearer
// tokens: a transport.Bearer over a tokencache.Cache whose fetch gets the provider's tokens.
package bearer

import (
	"net/http"
	"time"

	"github.com/finauth/finauth/client/internal/settings"
	"github.com/finauth/finauth/internal/telemetry"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// Options are the options of every provider whose requests carry cached bearer tokens;
// each such provider's Option type fills them.
type Options struct {
	settings.Settings
	// Cache are the token cache's options; its Clock and Logger default to Settings'.
	Cache tokencache.Options
	// RefreshInterval is the cache's RejectionInterval (set when not zero).
	RefreshInterval time.Duration
	// Store shares tokens beyond this process (tokencache/redisstore); it replaces
	// Cache.Store when set. Either is scoped to Identity (tokencache.Scope), whatever its type.
	Store tokencache.Store
	// Identity names the token issuer and client (the provider sets it from its
	// configuration), so that a shared store keeps different clients' tokens apart.
	Identity string
	// Header are headers sent with the token (transport.Bearer.Header): a credential that
	// goes where the token goes and nowhere else.
	Header http.Header
	// OnTokenChange and OnRefreshError are called besides the cache options' own.
	OnTokenChange  func(tokencache.TokenChange)
	OnRefreshError func(tokencache.RefreshError)
}

// SetCache sets the cache options, keeping a clock and logger set before unless co has its
// own.
func (o *Options) SetCache(co tokencache.Options) {
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
func (o *Options) Resolve() {
	if o.Cache.Logger == nil {
		o.Cache.Logger = o.Logger
	}
	if o.Logger == nil {
		o.Logger = o.Cache.Logger
	}
	if o.Cache.Clock == nil {
		o.Cache.Clock = o.Clock
	}
	if o.Cache.Clock != nil {
		o.Clock = o.Cache.Clock
	}
}

// Transport is a provider's http.RoundTripper for bearer tokens. Close it to stop
// background refreshes.
type Transport struct {
	bearer   *transport.Bearer
	cache    *tokencache.Cache
	store    tokencache.Store // the cache's store, scoped to Identity (nil without one)
	settings *settings.Settings
	observe  func() // stops the replay counters' observation
}

// New builds the transport: tokens from fetch, cached under the key keyFunc picks, sent to
// origins only.
func New(fetch tokencache.FetchFunc, keyFunc transport.KeyFunc, origins *transport.Origins, o *Options) *Transport {
	co := o.Cache
	if o.Store != nil {
		co.Store = o.Store
	}
	co.Store = tokencache.Scope(co.Store, o.Identity)
	if o.RefreshInterval != 0 {
		co.RejectionInterval = o.RefreshInterval
	}
	if co.Name == "" {
		co.Name = o.Name
	}
	if co.MeterProvider == nil {
		co.MeterProvider = o.Telemetry.Meter
	}
	if co.TracerProvider == nil {
		co.TracerProvider = o.Telemetry.Tracer
	}
	co.OnTokenChange = both(co.OnTokenChange, o.OnTokenChange)
	co.OnRefreshError = both(co.OnRefreshError, o.OnRefreshError)
	cache := tokencache.New(fetch, co)
	t := &Transport{
		cache:    cache,
		store:    co.Store,
		settings: &o.Settings,
		bearer:   &transport.Bearer{Base: o.BaseTransport(), Tokens: cache, Origins: origins, Key: keyFunc, Header: o.Header},
	}
	t.observe = o.Recorder().Observe(telemetry.Source{Replays: t.bearer.Replays, Suppressed: t.SuppressedRefreshes})
	return t
}

// both calls a, then b (either may be nil).
func both[T any](a, b func(T)) func(T) {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func(v T) { a(v); b(v) }
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.bearer.RoundTrip(req)
}

// Close stops the token cache's timers and background refreshes and closes the idle
// connections of the transports the client made itself.
func (t *Transport) Close() error {
	err := t.cache.Close()
	t.observe()
	t.settings.CloseIdleConnections()
	return err
}

// Cache returns the token cache, for providers that put tokens obtained outside it (an
// authorization-code exchange).
func (t *Transport) Cache() *tokencache.Cache { return t.cache }

// Store returns the store the cache shares its tokens through, scoped to the identity, or
// nil: for providers that read a token's companions there (Revolut's refresh tokens).
func (t *Transport) Store() tokencache.Store { return t.store }

// Stats returns the token cache's counters (Fetches counts token requests).
func (t *Transport) Stats() tokencache.Stats { return t.cache.Stats() }

// Replays returns how many requests were replayed after a 401.
func (t *Transport) Replays() uint64 { return t.bearer.Replays() }

// SuppressedRefreshes returns how many 401s went back to the caller without a new token
// request, because the key's token had been refreshed after a 401 within the refresh
// interval.
func (t *Transport) SuppressedRefreshes() uint64 { return t.cache.Stats().SuppressedRefreshes }
