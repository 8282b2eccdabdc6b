package pismo

import (
	"context"
	"net/http"
	"strings"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// Transport is the Pismo http.RoundTripper: a transport.Bearer over a token cache whose
// fetch mints the JWT and exchanges it. Close it to stop background refreshes.
type Transport = client.BearerTransport

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
	sel := o.selector
	o.Identity = strings.Join([]string{provider, cfg.TokenURL, cfg.TenantID, cfg.Issuer, cfg.Subject, cfg.Group, cfg.KeyID}, "\x00")
	return client.NewBearerTransport(x.fetch, func(req *http.Request) (string, error) {
		a, err := sel(req)
		if err != nil {
			return "", err
		}
		return a.cacheKey()
	}, origins, &o.BearerOptions), nil
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
