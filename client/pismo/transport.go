package pismo

import (
	"context"
	"net/http"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// Transport is the Pismo http.RoundTripper: a transport.Bearer over a token cache whose
// fetch mints the JWT and exchanges it. Close it to stop background refreshes.
type Transport struct {
	bearer   *transport.Bearer
	cache    *tokencache.Cache
	settings *client.Settings
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.bearer.RoundTrip(req)
}

// Close stops the token cache's timers and background refreshes and closes the idle
// connections of the transports the client made itself.
func (t *Transport) Close() error {
	err := t.cache.Close()
	t.settings.CloseIdleConnections()
	return err
}

// Stats returns the token cache's counters (Fetches counts exchanges).
func (t *Transport) Stats() tokencache.Stats { return t.cache.Stats() }

// Replays returns how many requests were replayed after a 401.
func (t *Transport) Replays() uint64 { return t.bearer.Replays() }

// SuppressedRefreshes returns how many 401s went back to the caller without a new exchange,
// because the account's token had been refreshed after a 401 within the refresh interval
// (WithRefreshInterval).
func (t *Transport) SuppressedRefreshes() uint64 { return t.bearer.SuppressedRefreshes() }

// NewClient returns an *http.Client that authenticates every request to the configured API
// origins with a Pismo access token, fetched, cached, refreshed ahead of expiry and
// replaced after a 401 without the caller noticing.
func NewClient(cfg Config, opts ...Option) (*http.Client, error) {
	t, err := NewTransport(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t}, nil
}

// NewTransport is NewClient's RoundTripper, for composing with other transports.
func NewTransport(cfg Config, opts ...Option) (*Transport, error) {
	o := collect(opts)
	x, err := newExchange(cfg, o)
	if err != nil {
		return nil, err
	}
	origins, err := transport.NewOrigins(cfg.apiOrigins(), cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, client.Problemf(provider, "APIURLs", "PISMO_API_URL", "%v", err)
	}
	cache := tokencache.New(x.fetch, o.cache)
	sel := o.selector
	return &Transport{
		cache:    cache,
		settings: &o.Settings,
		bearer: &transport.Bearer{
			Base:            o.BaseTransport(),
			Tokens:          cache,
			Origins:         origins,
			RefreshInterval: o.refreshInterval,
			Now:             o.Clock(),
			Key: func(req *http.Request) (string, error) {
				a, err := sel(req)
				if err != nil {
					return "", err
				}
				return a.cacheKey()
			},
		},
	}, nil
}

// Token performs one exchange for account (the zero Account for the tenant token) and
// returns the access token, without caching: for the CLI and for checking a configuration.
func Token(ctx context.Context, cfg Config, account Account, opts ...Option) (tokencache.Token, error) {
	key, err := account.cacheKey()
	if err != nil {
		return tokencache.Token{}, err
	}
	o := collect(opts)
	defer o.CloseIdleConnections()
	x, err := newExchange(cfg, o)
	if err != nil {
		return tokencache.Token{}, err
	}
	return x.fetch(ctx, key)
}
