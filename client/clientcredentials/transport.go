package clientcredentials

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// Option adjusts a client built by [NewClient], [NewTransport] or [Token].
type Option func(*options)

type options struct{ client.BearerOptions }

// WithBaseTransport sends API requests through rt (default: client.DefaultTransport()).
func WithBaseTransport(rt http.RoundTripper) Option { return func(o *options) { o.Base = rt } }

// WithTokenHTTPClient sends token requests through hc (default: a client over
// client.DefaultTransport() that follows no redirects). The per-attempt timeout applies
// whatever hc is, and redirects to another origin are never followed.
func WithTokenHTTPClient(hc *http.Client) Option { return func(o *options) { o.TokenClient = hc } }

// WithLogger logs token-endpoint retries and the token cache's refresh events to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.Logger = l } }

// WithClock sets the clock of assertions, token lifetimes and refresh timers.
func WithClock(c tokencache.Clock) Option { return func(o *options) { o.SetClock(c) } }

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
func WithTokenStore(s tokencache.Store) Option { return func(o *options) { o.SetStore(s) } }

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

type scopesKey struct{}

// WithScopes returns a context whose requests use a token for scopes instead of
// Config.Scopes; each scope set has its own cached token.
func WithScopes(ctx context.Context, scopes ...string) context.Context {
	return context.WithValue(ctx, scopesKey{}, scopeKey(scopes))
}

// scopeKey is the cache key of a scope set: sorted, without duplicates, space-separated
// (the scope parameter as sent).
func scopeKey(scopes []string) string {
	s := slices.Clone(scopes)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), " ")
}

// Transport is the client-credentials http.RoundTripper. Close it to stop background
// refreshes.
type Transport = client.BearerTransport

// NewClient returns an *http.Client whose requests to the configured API origins carry a
// client-credentials access token, requested, cached, refreshed ahead of expiry and replaced
// after a 401 without the caller noticing.
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
	r, err := newRequester(cfg, o)
	if err != nil {
		return nil, err
	}
	origins, err := transport.NewOrigins(cfg.APIURLs, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, client.Problemf(cfg.provider(), "APIURLs", cfg.name("API_URL"), "%v", err)
	}
	def := scopeKey(cfg.Scopes)
	o.Identity = strings.Join([]string{cfg.provider(), cfg.TokenURL, cfg.ClientID, cfg.Audience}, "\x00")
	return client.NewBearerTransport(r.fetch, func(req *http.Request) (string, error) {
		if k, ok := req.Context().Value(scopesKey{}).(string); ok {
			return k, nil
		}
		return def, nil
	}, origins, &o.BearerOptions), nil
}

// Token performs one token request for cfg's scopes and returns the access token, without
// caching: for the CLI and for checking a configuration.
func Token(ctx context.Context, cfg Config, opts ...Option) (tokencache.Token, error) {
	o := collect(opts)
	defer o.CloseIdleConnections()
	r, err := newRequester(cfg, o)
	if err != nil {
		return tokencache.Token{}, err
	}
	return r.fetch(ctx, scopeKey(cfg.Scopes))
}

// requester makes token requests.
type requester struct {
	cfg        Config
	method     AuthMethod
	assertions *assertions // PrivateKeyJWT
	endpoint   *client.TokenEndpoint
	now        func() time.Time
}

func newRequester(cfg Config, o *options) (*requester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &requester{cfg: cfg, method: cfg.method(), now: o.Clock(),
		endpoint: client.NewTokenEndpoint(cfg.provider(), cfg.TokenURL, cfg.Exchange, &o.Settings)}
	if r.method == PrivateKeyJWT {
		a, err := cfg.assertions()
		if err != nil {
			return nil, err
		}
		r.assertions = a
	}
	return r, nil
}

// fetch is the token cache's FetchFunc: one token request for the scope set key. Each
// attempt gets a fresh assertion.
func (r *requester) fetch(ctx context.Context, scope string) (tokencache.Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range r.cfg.Params {
		form[k] = v
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	req := client.TokenRequest{ContentType: "application/x-www-form-urlencoded"}
	switch r.method {
	case ClientSecretBasic:
		// RFC 6749 section 2.3.1: both form-urlencoded before Basic encoding.
		pair := url.QueryEscape(r.cfg.ClientID) + ":" + url.QueryEscape(string(r.cfg.ClientSecret))
		req.Header = http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(pair))}}
	case ClientSecretPost:
		form.Set("client_id", r.cfg.ClientID)
		form.Set("client_secret", string(r.cfg.ClientSecret))
	default:
		form.Set("client_id", r.cfg.ClientID)
		form.Set("client_assertion_type", AssertionType)
	}
	req.Body = func() ([]byte, error) {
		if r.method != PrivateKeyJWT {
			return []byte(form.Encode()), nil
		}
		jwt, err := r.assertions.mint(r.now())
		if err != nil {
			return nil, fmt.Errorf("signing the client assertion: %w", err)
		}
		f := url.Values{"client_assertion": {jwt}}
		for k, v := range form {
			f[k] = v
		}
		return []byte(f.Encode()), nil
	}
	return r.endpoint.TokenFor(ctx, req)
}
