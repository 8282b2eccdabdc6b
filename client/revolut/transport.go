package revolut

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/internal/bearer"
	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/client/internal/tokenendpoint"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/internal/telemetry"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

type scopeKey struct{}

// WithScope makes the requests made with ctx use the client-credentials token of scope
// ("accounts" or "payments") instead of the one their path implies.
func WithScope(ctx context.Context, scope string) context.Context {
	return context.WithValue(ctx, scopeKey{}, scope)
}

// ScopeFor is the client-credentials scope a request without WithScope uses: "payments" for
// paths that name a payment (domestic-payment-consents, international-payments, ...),
// "accounts" for the others (account-access-consents, ...).
func ScopeFor(req *http.Request) string {
	if s, ok := req.Context().Value(scopeKey{}).(string); ok && s != "" {
		return s
	}
	if strings.Contains(strings.ToLower(req.URL.Path), "payment") {
		return "payments"
	}
	return "accounts"
}

// Transport is the Revolut Open Banking http.RoundTripper. Each request to the API goes out
// with, from the outside in: an x-idempotency-key on POSTs (one per logical request, kept
// across everything below), x-fapi-financial-id when configured, retries of connection
// errors, 429, 502, 503 and 504 (go-retryablehttp; Retry-After honoured), the bearer token
// (client credentials per scope, or the user's token WithConsent; a 401 refreshes it once and
// replays), and a fresh x-jws-signature of the exact body on every attempt; over mutual TLS
// with the transport certificate. Close it to stop background refreshes.
type Transport struct {
	rt       http.RoundTripper
	bearer   *bearer.Transport
	signer   *Signer
	endpoint *tokenendpoint.Endpoint
	origins  *transport.Origins
	cfg      Config

	// store keeps the consents' refresh tokens apart from their access tokens (nil without a
	// shared store), scoped as the tokens are.
	store tokencache.Store
	log   *slog.Logger

	mu      sync.Mutex
	refresh map[string]refreshRecord // consent ID -> its newest refresh token, in this process
	locks   consentLocks             // a consent's renewals and new grants, one at a time here
	// lastGrant is the generation of the last grant filed (grantTime).
	lastGrant atomic.Int64
	// noIDToken: a code exchange without an id_token was logged (checkIntent).
	noIDToken sync.Once
	warned    sync.Map      // consent IDs whose near expiry was logged
	warnIn    time.Duration // ConsentExpiryWarning
	// stopCert ends the report of the transport certificate (finauth.certificate.expiry).
	stopCert func()
	// rotation is what renewals have shown of the server's refresh tokens (rotation*).
	rotation atomic.Int32
	rec      *telemetry.Recorder
	now      func() time.Time
}

// NewClient returns an *http.Client over [NewTransport].
//
// The client's transport is a *revolut.Transport: when you are done with the client (a short-lived
// program, a test), stop its background work with hc.Transport.(*revolut.Transport).Close(); or
// build the client yourself from [NewTransport] and keep the Transport.
func NewClient(cfg Config, opts ...Option) (*http.Client, error) {
	t, err := NewTransport(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t}, nil
}

// NewTransport checks the configuration (every problem at once), loads the signing key and
// the transport certificate, and builds the Transport.
func NewTransport(cfg Config, opts ...Option) (*Transport, error) {
	cfg = cfg.withDefaults()
	p := config.NewProblems(provider)
	cfg.check(p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	o := collect(opts)
	tc, leaf, err := cfg.transportTLS(time.Now()) // the transport certificate names the tokens, whatever transport carries it
	if err != nil {
		return nil, err
	}
	if left := time.Until(leaf.NotAfter); o.certWarning > 0 && left < o.certWarning {
		o.Log().Warn("finauth: revolut: the transport certificate expires soon: renew it before Revolut refuses the handshake",
			"file", cfg.TransportCertFile, "subject", leaf.Subject.String(), "expires_at", leaf.NotAfter.UTC().Format(time.RFC3339), "days_left", int(left.Hours()/24))
	}
	if o.Base == nil {
		base := client.DefaultTransport()
		base.TLSClientConfig = tc
		o.Base, o.TokenClient = base, tokenClient(base)
		o.Own(base)
	}
	s, err := newSigner(cfg, o) // the same options: the clock, the JWS profile
	if err != nil {
		return nil, err
	}
	origins, err := transport.NewOrigins(cfg.APIURLs, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, config.Problemf(provider, "APIURLs", "REVOLUT_API_URL", "%v", err)
	}
	jwsFor := o.jwsFor
	if jwsFor == nil {
		jwsFor = func(r *http.Request) bool { return r.Body != nil && r.Body != http.NoBody }
	}
	t := &Transport{signer: s, cfg: cfg, origins: origins, refresh: map[string]refreshRecord{}, log: o.Log(), warnIn: o.expiryWarning, now: o.Now,
		endpoint: tokenendpoint.New(provider, cfg.TokenURL, cfg.Exchange, &o.Settings), rec: o.Recorder()}
	t.endpoint.PresentsCertificates(tc)
	cert := []telemetry.Certificate{{Name: "transport", Subject: leaf.Subject.String(), NotAfter: leaf.NotAfter}}
	t.stopCert = t.rec.Observe(telemetry.Source{Certificates: func() []telemetry.Certificate { return cert }})
	apiBase := o.Base
	o.Base = &transport.Signing{Base: apiBase, Sign: s.JWSSignature, Origins: origins, Header: "x-jws-signature", Applies: jwsFor}
	o.Identity = t.endpoint.Identity(t.ccRequest("accounts"))
	// The consents' refresh tokens are the client's at the authorization server (its token
	// URL and client ID), whatever certificate presents them: a renewed transport
	// certificate, which gives the access tokens a new identity (RFC 8705 binds them to it),
	// must not lose every consent's refresh token.
	atServer := strings.Join([]string{provider, cfg.TokenURL, cfg.ClientID}, "\x00")
	if o.Store != nil {
		t.store = tokencache.Scope(o.Store, atServer)
	} else if o.Cache.Store != nil {
		t.store = tokencache.Scope(o.Cache.Store, atServer)
	}
	if _, fleet := t.store.(tokencache.FleetStore); t.store != nil && !fleet {
		t.log.Warn("finauth: revolut: the shared store has no locks (not a tokencache.FleetStore): replicas may renew a consent at the same time, which a server that rotates refresh tokens refuses; use redisstore")
	}
	t.bearer = bearer.New(t.fetch, func(req *http.Request) (string, error) {
		if id, ok := req.Context().Value(consentKey{}).(string); ok && id != "" {
			return consentCacheKey(id), nil
		}
		return "cc:" + ScopeFor(req), nil
	}, origins, &o.Options)
	var rt http.RoundTripper = t.bearer
	if o.retries > 0 {
		rc := retryablehttp.NewClient()
		rc.Logger = nil
		rc.HTTPClient = &http.Client{Transport: t.bearer, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		rc.RetryMax, rc.RetryWaitMin, rc.RetryWaitMax = o.retries, o.retryWait[0], o.retryWait[1]
		rc.CheckRetry = retryPolicy
		rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
		// The retries read a body whole: bound it first (and give it GetBody).
		rt = &transport.Bounded{Base: &retryablehttp.RoundTripper{Client: rc}}
	}
	if cfg.FinancialID != "" {
		rt = financialID{base: rt, id: cfg.FinancialID}
	}
	t.rt = &transport.Idempotency{Base: rt, Applies: unsafeMethod}
	return t, nil
}

// unsafeMethod is true for the methods that are not idempotent (POST, PATCH, ...): each gets
// an idempotency key, which is what makes sending it again safe.
func unsafeMethod(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return false
	}
	return true
}

// retryPolicy retries connection errors and 429/502/503/504. Every request below the
// idempotency layer is safe to send again: idempotent by method, or carrying its key.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		var origin *transport.OriginError
		if errors.As(err, &origin) || errors.Is(err, transport.ErrSign) || errors.Is(err, transport.ErrToken) || errors.Is(err, transport.ErrBodyTooLarge) {
			return false, nil // a refusal of ours or a token error: sending again changes nothing
		}
		return true, nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	}
	return false, nil
}

// financialID adds x-fapi-financial-id to requests that lack it.
type financialID struct {
	base http.RoundTripper
	id   string
}

func (f financialID) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("x-fapi-financial-id") != "" {
		return f.base.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.Header.Set("x-fapi-financial-id", f.id)
	return f.base.RoundTrip(out)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) { return t.rt.RoundTrip(req) }

// Signer returns the request-object and x-jws-signature signer.
func (t *Transport) Signer() *Signer { return t.signer }

// Stats returns the token cache's counters (Fetches counts token requests).
func (t *Transport) Stats() tokencache.Stats { return t.bearer.Stats() }

// Replays returns how many requests were replayed after a 401.
func (t *Transport) Replays() uint64 { return t.bearer.Replays() }

// SuppressedRefreshes returns how many 401s went back to the caller without a new token
// request, because the key's token had been refreshed after a 401 within the refresh
// interval (an API that refuses every token).
func (t *Transport) SuppressedRefreshes() uint64 { return t.bearer.SuppressedRefreshes() }

// Origins returns the origins that receive the tokens and signatures (APIURLs).
func (t *Transport) Origins() *transport.Origins { return t.origins }

// Close stops background refreshes and closes idle connections.
func (t *Transport) Close() error {
	t.stopCert()
	return t.bearer.Close()
}

// fetch is the token cache's FetchFunc: client credentials for "cc:<scope>", the refresh
// grant for "consent:<id>".
func (t *Transport) fetch(ctx context.Context, key string) (tokencache.Token, error) {
	if scope, ok := strings.CutPrefix(key, "cc:"); ok {
		return t.endpoint.Token(ctx, t.ccRequest(scope))
	}
	return t.renew(ctx, strings.TrimPrefix(key, "consent:"))
}

// ccRequest is the client-credentials token request of scope: what is sent, and what names
// this client's tokens in a shared store (tokenendpoint.Endpoint.Identity, with the
// transport certificate).
func (t *Transport) ccRequest(scope string) tokenendpoint.Request {
	return t.grantRequest(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
}

// grantRequest is a token request of form, client_id added, sent over mutual TLS.
func (t *Transport) grantRequest(form url.Values) tokenendpoint.Request {
	form.Set("client_id", t.cfg.ClientID)
	return tokenendpoint.Request{Form: form}
}

// Token performs one client-credentials token request for scope ("accounts" or
// "payments") over mutual TLS and returns the token, without caching: for the CLI and for
// checking a configuration.
func Token(ctx context.Context, cfg Config, scope string, opts ...Option) (tokencache.Token, error) {
	t, err := NewTransport(cfg, opts...)
	if err != nil {
		return tokencache.Token{}, err
	}
	defer t.Close()
	return t.endpoint.Token(ctx, t.ccRequest(scope))
}

// String describes the transport without its tokens or refresh tokens.
func (t *Transport) String() string {
	return redact.Summary{Name: "revolut.Transport", Fields: struct {
		ClientID, TokenURL string
		APIOrigins         []string
	}{t.cfg.ClientID, t.cfg.TokenURL, t.origins.List()}}.String()
}

// Format keeps every fmt verb on String: the refresh tokens it holds never print.
func (t *Transport) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// LogValue keeps slog output on String.
func (t *Transport) LogValue() slog.Value { return slog.StringValue(t.String()) }
