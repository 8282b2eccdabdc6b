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

	"github.com/finauth/finauth/client/internal/bearer"
	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/client/internal/tokenendpoint"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/signer/dpop"
	"github.com/finauth/finauth/signer/httpsig"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

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

// Transport is the client-credentials http.RoundTripper: a transport.Bearer over a token
// cache whose fetch makes the token requests. Close it to stop background refreshes. It
// prints (fmt, slog) as a summary without tokens.
type Transport struct {
	bearer  *bearer.Transport
	origins *transport.Origins
	cfg     Config
}

// NewClient returns an *http.Client whose requests to the configured API origins carry a
// client-credentials access token, requested, cached, refreshed ahead of expiry and replaced
// after a 401 without the caller noticing.
//
// The client's transport is a *clientcredentials.Transport: when you are done with the client (a short-lived
// program, a test), stop its background work with hc.Transport.(*clientcredentials.Transport).Close(); or
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
	r, err := newRequester(cfg, o)
	if err != nil {
		return nil, err
	}
	origins, err := transport.NewOrigins(cfg.APIURLs, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, config.Problemf(cfg.provider(), "APIURLs", cfg.name("API_URL"), "%v", err)
	}
	def := scopeKey(cfg.Scopes)
	o.Identity = r.endpoint.Identity(r.request(def))
	// Below the bearer transport, which sets Authorization: the DPoP proof, then (closest to
	// the network) the message signature, which covers both.
	base := o.BaseTransport()
	if s, err := cfg.messageSigner(o); err != nil {
		return nil, err
	} else if s != nil {
		base = &transport.Signing{Base: base, SignHeaders: s.SignHeaders, Origins: origins}
	}
	if r.prover != nil {
		base = r.prover.Transport(base)
	}
	o.Base = base
	b := bearer.New(r.fetch, func(req *http.Request) (string, error) {
		if k, ok := req.Context().Value(scopesKey{}).(string); ok {
			return k, nil
		}
		return def, nil
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
// request, because the scope set's token had been refreshed after a 401 within the refresh
// interval (an API that refuses every token).
func (t *Transport) SuppressedRefreshes() uint64 { return t.bearer.SuppressedRefreshes() }

// Origins returns the origins that receive the tokens (APIURLs).
func (t *Transport) Origins() *transport.Origins { return t.origins }

// String describes the transport without its tokens.
func (t *Transport) String() string {
	return redact.Summary{Name: "clientcredentials.Transport", Fields: struct {
		TokenURL, ClientID string
		APIOrigins         []string
	}{t.cfg.TokenURL, t.cfg.ClientID, t.origins.List()}}.String()
}

// Format keeps every fmt verb on String.
func (t *Transport) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// LogValue keeps slog output on String.
func (t *Transport) LogValue() slog.Value { return slog.StringValue(t.String()) }

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
	assertions *assertions  // PrivateKeyJWT
	prover     *dpop.Prover // DPoP
	endpoint   *tokenendpoint.Endpoint
	now        func() time.Time
}

func newRequester(cfg Config, o *options) (*requester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &requester{cfg: cfg, method: cfg.method(), now: o.Now,
		endpoint: tokenendpoint.New(cfg.provider(), cfg.TokenURL, cfg.Exchange, &o.Settings)}
	if r.method == PrivateKeyJWT {
		a, err := cfg.assertions()
		if err != nil {
			return nil, err
		}
		a.signer = a.signer.WithOnSign(o.OnSign())
		r.assertions = a
	}
	if cfg.DPoP || cfg.DPoPKey != nil || cfg.DPoPKeyFile != "" {
		p, err := cfg.prover(o)
		if err != nil {
			return nil, err
		}
		r.prover = p
	}
	return r, nil
}

// fetch is the token cache's FetchFunc: one token request for the scope set key. Each
// attempt gets a fresh assertion.
func (r *requester) fetch(ctx context.Context, scope string) (tokencache.Token, error) {
	return r.endpoint.Token(ctx, r.request(scope))
}

// request is the token request for the scope set: what is sent, and what names this
// client's tokens in a shared store (tokenendpoint.Endpoint.Identity).
func (r *requester) request(scope string) tokenendpoint.Request {
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range r.cfg.Params {
		form[k] = slices.Clone(v)
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	req := tokenendpoint.Request{Form: form}
	if r.prover != nil {
		req.DPoP = r.prover
	}
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
		req.JWT = &tokenendpoint.JWT{Field: "client_assertion", Signer: r.assertions.signer, Claims: r.assertions.claims}
	}
	return req
}

// prover is the DPoP prover: DPoPKey, else DPoPKeyFile's key, else a key generated now.
func (c Config) prover(o *options) (*dpop.Prover, error) {
	key := c.DPoPKey
	if key == nil && c.DPoPKeyFile != "" {
		var opts []signer.LoadOption
		if c.PrivateKeyPassword != "" {
			opts = append(opts, signer.WithPassphrase([]byte(c.PrivateKeyPassword)))
		}
		k, err := signer.LoadKeyFile(c.DPoPKeyFile, opts...)
		if err != nil {
			return nil, config.Problemf(c.provider(), "DPoPKeyFile", c.name("DPOP_KEY_FILE"), "%v", err)
		}
		key = k
	}
	po := dpop.Options{Now: o.Now, OnSign: o.OnSignOf("dpop")}
	if key == nil {
		return dpop.GenerateProver(po)
	}
	p, err := dpop.NewProver(key, po)
	if err != nil {
		return nil, config.Problemf(c.provider(), "DPoPKey", c.name("DPOP_KEY_FILE"), "%v", err)
	}
	return p, nil
}

// messageSigner is the FAPI 2.0 request signer of SignatureKey (or SignatureKeyFile); nil
// without one.
func (c Config) messageSigner(o *options) (*httpsig.Signer, error) {
	key := c.SignatureKey
	if key == nil && c.SignatureKeyFile != "" {
		k, err := signer.LoadKeyFile(c.SignatureKeyFile)
		if err != nil {
			return nil, config.Problemf(c.provider(), "SignatureKeyFile", c.name("SIGNATURE_KEY_FILE"), "%v", err)
		}
		key = k
	}
	if key == nil {
		return nil, nil
	}
	s := httpsig.FAPI2Request(key, c.SignatureKeyID)
	if _, err := httpsig.DefaultAlgorithm(key.Signer().Public()); err != nil {
		return nil, config.Problemf(c.provider(), "SignatureKeyFile", c.name("SIGNATURE_KEY_FILE"), "%v", err)
	}
	if onSign := o.OnSignOf("httpsig"); onSign != nil {
		s.OnSign = func(alg httpsig.Algorithm, d time.Duration) { onSign(signer.Algorithm(alg), d) }
	}
	return s, nil
}
