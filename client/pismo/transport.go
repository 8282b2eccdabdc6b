package pismo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/finauth/finauth/client/internal/bearer"
	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// Transport is the Pismo http.RoundTripper: a transport.Bearer over a token cache whose
// fetch mints the JWT and exchanges it. Close it to stop background refreshes. It prints
// (fmt, slog) as a summary without tokens.
type Transport struct {
	bearer  *bearer.Transport
	origins *transport.Origins
	cfg     Config
}

// NewClient returns an *http.Client that authenticates every request to the configured API
// origins with a Pismo access token, fetched, cached, refreshed ahead of expiry and
// replaced after a 401 without the caller noticing.
//
// The client's transport is a *pismo.Transport: when you are done with the client (a short-lived
// program, a test), stop its background work with hc.Transport.(*pismo.Transport).Close(); or
// build the client yourself from [NewTransport] and keep the Transport.
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
		return nil, config.Problemf(provider, "APIURLs", "PISMO_API_URL", "%v", err)
	}
	sel := o.selector
	scopes := ""
	if cfg.method() == OAuth2 {
		scopes = scopeSet(cfg.Scopes)
	}
	tenant, err := x.request(Account{}, scopes)
	if err != nil {
		return nil, err
	}
	o.Identity = x.endpoint.Identity(tenant)
	b := bearer.New(x.fetch, func(req *http.Request) (string, error) {
		a, err := sel(req)
		if err != nil {
			return "", err
		}
		key, err := a.cacheKey()
		if err != nil {
			return "", err
		}
		if s, ok := req.Context().Value(scopesKey{}).(string); ok && scopes != "" {
			return cacheKey(key, s), nil
		}
		return cacheKey(key, scopes), nil
	}, origins, &o.Options)
	return &Transport{bearer: b, origins: origins, cfg: cfg}, nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.bearer.RoundTrip(req)
}

// Close stops the token cache's timers and background refreshes and closes the idle
// connections of the transports the client made itself.
func (t *Transport) Close() error { return t.bearer.Close() }

// Stats returns the token cache's counters (Fetches counts token requests).
func (t *Transport) Stats() tokencache.Stats { return t.bearer.Stats() }

// Replays returns how many requests were replayed after a 401.
func (t *Transport) Replays() uint64 { return t.bearer.Replays() }

// SuppressedRefreshes returns how many 401s went back to the caller without a new token
// request, because the account's token had been refreshed after a 401 within the refresh
// interval (an API that refuses every token).
func (t *Transport) SuppressedRefreshes() uint64 { return t.bearer.SuppressedRefreshes() }

// Origins returns the origins that receive the tokens (APIURLs, or the token URL's).
func (t *Transport) Origins() *transport.Origins { return t.origins }

// String describes the transport without its tokens.
func (t *Transport) String() string {
	return redact.Summary{Name: "pismo.Transport", Fields: struct {
		TokenURL, TenantID string
		APIOrigins         []string
	}{t.cfg.TokenURL, t.cfg.TenantID, t.origins.List()}}.String()
}

// Format keeps every fmt verb on String.
func (t *Transport) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// LogValue keeps slog output on String.
func (t *Transport) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Token performs one token request for account (the zero Account for the tenant token)
// and, with OAuth2, the configuration's scopes, and returns the access token, without
// caching: for the CLI and for checking a configuration.
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
	if cfg.method() == OAuth2 {
		key = cacheKey(key, scopeSet(cfg.Scopes))
	}
	return x.fetch(ctx, key)
}

type scopesKey struct{}

// WithScopes returns a context whose requests use a token for scopes (Pismo's permission
// groups, e.g. "pismo-v1:cards:rw") instead of Config.Scopes, with PISMO_AUTH_METHOD oauth2;
// each scope set has its own cached token. The other methods ignore it.
func WithScopes(ctx context.Context, scopes ...string) context.Context {
	return context.WithValue(ctx, scopesKey{}, scopeSet(scopes))
}
