package business

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/finauth/finauth/client/internal/bearer"
	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/client/internal/tokenendpoint"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/internal/telemetry"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// Transport is the Soldo Business API's http.RoundTripper. Every request to the API base
// carries the access token (Authorization: Bearer) and the internal token
// (X-Soldo-Internal-Token); a request that needs advanced authentication also carries the
// fingerprint of its fields and the fingerprint's signature. Tokens are requested, cached,
// shared through a store, refreshed ahead of expiry and replaced after a 401 like every
// finauth provider's. Close it to stop background refreshes. It prints (fmt, slog) as a
// summary without secrets.
type Transport struct {
	bearer  *bearer.Transport
	signing *transport.Signing
	origins *transport.Origins
	table   table
	key     *signer.Key
	token   string // the internal token
	rec     *telemetry.Recorder
	cfg     Config
}

// NewClient returns an *http.Client whose requests to the API base carry Soldo's standard
// and, where the endpoint needs it, advanced authentication.
//
// The client's transport is a *business.Transport: when you are done with the client (a short-lived
// program, a test), stop its background work with hc.Transport.(*business.Transport).Close(); or
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
	key, err := cfg.loadKey()
	if err != nil {
		return nil, err
	}
	tab, err := newTable(o.endpoints)
	if err != nil {
		return nil, config.Problemf(provider, "Endpoints", "", "%v", err)
	}
	origins, err := transport.NewOrigins([]string{cfg.APIURL}, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, config.Problemf(provider, "APIURL", cfg.name("API_URL"), "%v", err)
	}
	o.Identity = r.endpoint.Identity(r.request())
	o.Header = http.Header{HeaderInternalToken: {string(cfg.InternalToken)}}
	b := bearer.New(r.fetch, func(*http.Request) (string, error) { return "", nil }, origins, &o.Options)
	t := &Transport{bearer: b, origins: origins, table: tab, key: key, token: string(cfg.InternalToken), rec: o.Recorder(), cfg: cfg}
	t.signing = &transport.Signing{Base: b, SignHeaders: t.fingerprint, Origins: origins, MaxBodyBytes: o.maxBodyBytes}
	return t, nil
}

// RoundTrip implements http.RoundTripper: a request to another origin is refused, one
// whose fingerprint cannot be made fails before it is sent.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || !t.origins.Allows(req.URL) {
		return t.bearer.RoundTrip(req) // refuses it, or sends a redirect hop without credentials
	}
	p, err := t.table.planFor(req)
	switch {
	case err != nil:
		closeBody(req)
		return nil, err
	case p.fields == nil:
		return t.bearer.RoundTrip(req)
	case t.key == nil:
		closeBody(req)
		return nil, fmt.Errorf("%w (%s %s): set SOLDO_BUSINESS_PRIVATE_KEY_FILE (Config.PrivateKeyFile or Key) to the RSA key whose public half was uploaded to Soldo's web app", ErrNoFingerprintKey, req.Method, req.URL.EscapedPath())
	}
	return t.signing.RoundTrip(req)
}

// closeBody closes the body of a request that will not be sent, as a RoundTripper must.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// fingerprint is the Signing's SignHeadersFunc: the fingerprint of req's fields in its
// endpoint's order, and its signature.
func (t *Transport) fingerprint(req *http.Request, body io.Reader) (http.Header, error) {
	p, err := t.table.planFor(req)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body for its fingerprint fields: %w", err)
	}
	if len(data) > maxBody {
		return nil, fmt.Errorf("%w: the body is over %d bytes", ErrFingerprintFields, maxBody)
	}
	vals, err := values(p.fields, p.params, req.URL.Query(), data, req.Header.Get("Content-Type"), t.token)
	if err != nil {
		return nil, fmt.Errorf("%w (%s %s)", err, req.Method, req.URL.EscapedPath())
	}
	fp := Fingerprint(vals...)
	start := time.Now()
	sig, err := SignFingerprint(t.key.Signer(), fp)
	if err != nil {
		return nil, err
	}
	t.rec.SignedWith("fingerprint", "RS512", time.Since(start))
	return http.Header{HeaderFingerprint: {fp}, HeaderFingerprintSignature: {sig}}, nil
}

// Close stops the token cache's timers and background refreshes and closes the idle
// connections of the transports the client made itself.
func (t *Transport) Close() error { return t.bearer.Close() }

// Stats returns the token cache's counters (Fetches counts token requests).
func (t *Transport) Stats() tokencache.Stats { return t.bearer.Stats() }

// Replays returns how many requests were replayed after a 401.
func (t *Transport) Replays() uint64 { return t.bearer.Replays() }

// SuppressedRefreshes returns how many 401s went back to the caller without a new token
// request, because the token had been refreshed after a 401 within the refresh interval.
func (t *Transport) SuppressedRefreshes() uint64 { return t.bearer.SuppressedRefreshes() }

// Origins returns the origin that receives the credentials (APIURL's).
func (t *Transport) Origins() *transport.Origins { return t.origins }

// String describes the transport without its secrets.
func (t *Transport) String() string {
	return redact.Summary{Name: "business.Transport", Fields: struct {
		APIURL, TokenURL, ClientID string
		AdvancedAuthentication     bool
	}{t.cfg.APIURL, t.cfg.tokenURL(), t.cfg.ClientID, t.key != nil}}.String()
}

// Format keeps every fmt verb on String.
func (t *Transport) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// LogValue keeps slog output on String.
func (t *Transport) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Token performs one token request and returns the access token, without caching: for the
// CLI and for checking a configuration.
func Token(ctx context.Context, cfg Config, opts ...Option) (tokencache.Token, error) {
	o := collect(opts)
	defer o.CloseIdleConnections()
	r, err := newRequester(cfg, o)
	if err != nil {
		return tokencache.Token{}, err
	}
	return r.fetch(ctx, "")
}

// requester makes token requests.
type requester struct {
	cfg      Config
	endpoint *tokenendpoint.Endpoint
}

func newRequester(cfg Config, o *options) (*requester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &requester{cfg: cfg, endpoint: tokenendpoint.New(provider, cfg.tokenURL(), cfg.Exchange, &o.Settings)}, nil
}

// fetch is the token cache's FetchFunc: one token request.
func (r *requester) fetch(ctx context.Context, _ string) (tokencache.Token, error) {
	return r.endpoint.Token(ctx, r.request())
}

// request is the token request: Soldo's form of client_id and client_secret (no grant_type:
// Soldo's page shows none).
func (r *requester) request() tokenendpoint.Request {
	return tokenendpoint.Request{Form: url.Values{"client_id": {r.cfg.ClientID}, "client_secret": {string(r.cfg.ClientSecret)}}}
}
