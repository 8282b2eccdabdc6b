// Package tokenendpoint calls token endpoints for every provider: posts over
// go-retryablehttp with jittered backoff, Retry-After and a deadline per attempt
// ([Endpoint]), and reads the answers tolerantly ([ParseResponse]). Refusals are
// *client.TokenEndpointError; nothing it returns ever holds a token.
package tokenendpoint

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/internal/settings"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// maxTokenResponse bounds what is read of any token-endpoint response.
const maxTokenResponse = 1 << 20

// withDefaults fills the zero fields of o with their defaults.
func withDefaults(o client.ExchangeOptions) client.ExchangeOptions {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.TotalTimeout <= 0 {
		o.TotalTimeout = 20 * time.Second
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = 250 * time.Millisecond
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = 5 * time.Second
	}
	if o.RetryWaitMax < o.RetryWaitMin {
		o.RetryWaitMax = o.RetryWaitMin
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 10 * time.Second
	}
	return o
}

// Endpoint posts to a token URL through go-retryablehttp: connection errors, 429 and
// 5xx other than 501 are retried with jittered exponential backoff (Retry-After honoured);
// any other status is final. Each attempt has its own deadline (AttemptTimeout) carried by
// its request context. Safe for concurrent use.
type Endpoint struct {
	provider string
	url      string
	opts     client.ExchangeOptions
	client   *retryablehttp.Client
	now      func() time.Time
	rand     func() float64
	logger   *slog.Logger
	clamped  atomic.Bool // a clamped lifetime was logged
	certs    []string    // the client certificates the token client presents (Identity)
}

// New returns the endpoint of provider (as named in errors) at url, called through
// settings' token HTTP client, logger, clock and random source.
func New(provider, url string, opts client.ExchangeOptions, settings *settings.Settings) *Endpoint {
	opts = withDefaults(opts)
	logger := settings.Log()
	te := &Endpoint{provider: provider, url: url, opts: opts, now: settings.Now, rand: settings.Random(), logger: logger}
	hc := *settings.TokenHTTPClient()
	te.certs = clientCertificates(&hc)
	hc.Transport = attemptTimeout{base: traced{base: hc.Transport, tracer: settings.Recorder().Tracer(), provider: settings.Name}, d: opts.AttemptTimeout}
	hc.CheckRedirect = sameOriginRedirects(hc.CheckRedirect)
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &hc
	rc.Logger = nil // retryablehttp logs to stderr by default; we log through slog
	rc.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, attempt int) {
		if n, ok := req.Context().Value(attemptsKey{}).(*int); ok {
			*n = attempt + 1
		}
		if attempt > 0 {
			logger.Info("finauth: client: retrying the token endpoint", "provider", provider, "attempt", attempt+1)
		}
	}
	rc.RetryMax = opts.MaxAttempts - 1
	rc.RetryWaitMin, rc.RetryWaitMax = opts.RetryWaitMin, opts.RetryWaitMax
	rc.CheckRetry = te.retryPolicy
	rc.Backoff = te.backoff
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	te.client = rc
	return te
}

// dpopKey carries a request's *dpopAttempts in its context.
type dpopKey struct{}

// dpopAttempts is a token request's DPoP prover, and whether it was sent again for a nonce.
type dpopAttempts struct {
	prover Prover
	nonced atomic.Bool
}

// withProof is req with a new DPoP proof when its request carries a prover (every attempt,
// retries included, has its own: a server refuses a replayed jti).
func withProof(req *http.Request) (*http.Request, *dpopAttempts, error) {
	d, _ := req.Context().Value(dpopKey{}).(*dpopAttempts)
	if d == nil {
		return req, nil, nil
	}
	proof, err := d.prover.Proof(http.MethodPost, req.URL.String(), "")
	if err != nil {
		return nil, nil, fmt.Errorf("making the DPoP proof: %w", err)
	}
	req = req.Clone(req.Context())
	req.Header.Set("DPoP", proof)
	return req, d, nil
}

// asksForNonce reports a token endpoint's 400 that gives a DPoP nonce (use_dpop_nonce, RFC
// 9449 section 8): the request is sent again, once, with it.
func asksForNonce(resp *http.Response) bool {
	return resp != nil && resp.StatusCode == http.StatusBadRequest && resp.Header.Get("DPoP-Nonce") != ""
}

// attemptTimeout gives each request that passes through it its own deadline, kept until
// its response body is closed.
type attemptTimeout struct {
	base http.RoundTripper
	d    time.Duration
}

// RoundTrip sends req with a deadline of its own, cancelled when the body is closed.
func (t attemptTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	req, d, err := withProof(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.d)
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	if n := resp.Header.Get("DPoP-Nonce"); d != nil && n != "" {
		d.prover.SetNonce(req.URL.String(), n)
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

// Close closes the body and releases the attempt's deadline.
func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// sameOriginRedirects lets a token request follow a redirect only within its own origin
// (and then as next allows): a token endpoint that redirects elsewhere must not receive the
// credential, whatever client the caller gave (http.DefaultClient follows 307/308 with the
// body). The redirect response is returned instead, and becomes a TokenEndpointError.
func sameOriginRedirects(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && !sameOrigin(req.URL, via[0].URL) {
			return http.ErrUseLastResponse
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

func sameOrigin(a, b *url.URL) bool { return transport.Origin(a) == transport.Origin(b) }

// retryPolicy is go-retryablehttp's default (which already gives up on TLS certificate
// errors), except that a host name that does not exist is not retried, and a Retry-After
// longer than what is left of the exchange's time stops the retries at once: waiting it out
// would only end in "context deadline exceeded" and lose the server's answer.
func (te *Endpoint) retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if d, _ := ctx.Value(dpopKey{}).(*dpopAttempts); d != nil && asksForNonce(resp) && ctx.Err() == nil {
		// The server acted on nothing (RFC 9449 section 8): a refresh grant too may go again.
		return d.nonced.CompareAndSwap(false, true), nil
	}
	if once, _ := ctx.Value(onceKey{}).(bool); once && !surelyNotSent(resp, err) {
		return false, nil // the server may have acted on it: its answer, if any, is lost
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false, nil // a name that does not exist will not exist in 250 ms either
	}
	if certificateError(err) {
		return false, nil // nor will a certificate start being trusted
	}
	retry, perr := retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	if !retry || resp == nil {
		return retry, perr
	}
	if d, ok := te.retryAfter(resp); ok {
		if deadline, has := ctx.Deadline(); has && d > deadline.Sub(te.now()) {
			return false, nil
		}
	}
	return retry, perr
}

// certificateError reports a TLS certificate that does not verify.
func certificateError(err error) bool {
	var verification *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	return errors.As(err, &verification) || errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname)
}

// retryAfter is the Retry-After of a 429 or 503.
func (te *Endpoint) retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	return retryAfter(resp.Header.Get("Retry-After"), te.now())
}

// backoff honours Retry-After on 429 and 503, and otherwise waits a jittered exponential
// time: uniformly between min and min*2^attempt, never above max.
func (te *Endpoint) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := te.retryAfter(resp); ok {
			return d
		}
		if asksForNonce(resp) {
			return 0 // the nonce is all it needs
		}
	}
	ceiling := max
	if attempt < 30 && min<<attempt < max {
		ceiling = min << attempt
	}
	return min + time.Duration(te.rand()*float64(ceiling-min))
}

// retryAfter parses a Retry-After value: seconds or an HTTP date (counted from now).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// attemptsKey carries a counter of attempts through the request context.
type attemptsKey struct{}

// onceKey marks, in the request context, a Request.Once.
type onceKey struct{}

// surelyNotSent tells a failure that the server surely did not act on: no connection could
// be made (the name, the dial, the TLS handshake), or the server said it did not handle the
// request: 429 Too Many Requests (RFC 6585) or 503 Service Unavailable (RFC 9110: "unable
// to handle the request"). Anything else (a timeout or a reset after the request was
// written, a 500, a gateway's 502 or 504) may have come after the server acted.
func surelyNotSent(resp *http.Response, err error) bool {
	if resp != nil {
		return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
	}
	var op *net.OpError
	var dns *net.DNSError
	var rec tls.RecordHeaderError
	var cert *tls.CertificateVerificationError
	return errors.As(err, &dns) || errors.As(err, &rec) || errors.As(err, &cert) || (errors.As(err, &op) && op.Op == "dial")
}

// Send posts r (its body made anew for every attempt) and returns the status and body of a
// 2xx answer; any other answer is a *TokenEndpointError.
func (te *Endpoint) Send(ctx context.Context, tr Request) (status int, resp []byte, err error) {
	status, _, resp, err = te.send(ctx, tr)
	return status, resp, err
}

// send is Send, also giving the answer's Content-Type.
func (te *Endpoint) send(ctx context.Context, tr Request) (status int, contentType string, resp []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, te.opts.TotalTimeout)
	defer cancel()
	attempts := new(int)
	ctx = context.WithValue(ctx, attemptsKey{}, attempts)
	if tr.Once {
		ctx = context.WithValue(ctx, onceKey{}, true)
	}
	if tr.DPoP != nil {
		ctx = context.WithValue(ctx, dpopKey{}, &dpopAttempts{prover: tr.DPoP})
	}
	ctype, first, err := tr.body(te.now()) // its errors come before anything is sent
	if err != nil {
		return 0, "", nil, fmt.Errorf("%w: %s: %w", client.ErrTokenExchange, te.provider, err)
	}
	// go-retryablehttp calls body once for the length, then once per attempt: the first two
	// calls get the body just made, every retry a new one (a new JWT).
	calls := 0
	body := retryablehttp.ReaderFunc(func() (io.Reader, error) {
		if calls++; calls <= 2 {
			return bytes.NewReader(first), nil
		}
		_, b, err := tr.body(te.now())
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(b), nil
	})
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, te.url, body)
	if err != nil {
		return 0, "", nil, fmt.Errorf("%w: %s: building the request to %s: %s", client.ErrTokenExchange, te.provider, redact.URL(te.url), redact.URLError(te.url, err))
	}
	for k, v := range tr.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "finauth")
	r, err := te.client.Do(req)
	if err != nil {
		return 0, "", nil, fmt.Errorf("%w: %s token endpoint %s unreachable after %d attempt(s): %w", client.ErrTokenExchange, te.provider, redact.URL(te.url), *attempts, err)
	}
	defer r.Body.Close()
	data, err := io.ReadAll(io.LimitReader(r.Body, maxTokenResponse+1))
	if err != nil {
		return r.StatusCode, "", nil, fmt.Errorf("%w: %s: reading the token response: %w", client.ErrTokenExchange, te.provider, err)
	}
	if len(data) > maxTokenResponse {
		return r.StatusCode, "", nil, fmt.Errorf("%w: %s: the token response is larger than %d bytes", client.ErrTokenExchange, te.provider, maxTokenResponse)
	}
	if r.StatusCode < 200 || r.StatusCode > 299 {
		code, msg := providerMessage(data)
		shown, _, _ := strings.Cut(redact.URL(te.url), "?")
		e := &client.TokenEndpointError{Provider: te.provider, URL: shown, Status: r.StatusCode, Code: code, Message: msg, Attempts: *attempts}
		if d, ok := te.retryAfter(r); ok && *attempts < te.opts.MaxAttempts {
			e.RetryAfter = d
		}
		return r.StatusCode, "", nil, e
	}
	return r.StatusCode, r.Header.Get("Content-Type"), data, nil
}

// Token sends r and reads the answer as a token (ParseTokenResponse, with
// MaxTokenLifetime): a 200 or 201 with a usable token, or an error naming the endpoint. The
// lifetime is counted from before the request.
func (te *Endpoint) Token(ctx context.Context, r Request) (tokencache.Token, error) {
	now := te.now()
	status, contentType, data, err := te.send(ctx, r)
	if err != nil {
		return tokencache.Token{}, err
	}
	if status != http.StatusOK && status != http.StatusCreated {
		return tokencache.Token{}, fmt.Errorf("%w: %s token endpoint %s: unexpected status %d for a token answer", client.ErrTokenResponse, te.provider, redact.URL(te.url), status)
	}
	tok, clamped, err := parseTokenResponse(te.provider, data, now, te.opts.MaxTokenLifetime)
	if err != nil {
		if !json.Valid(data) { // an HTML error page, a proxy's login form: say what came
			return tokencache.Token{}, fmt.Errorf("%w (token endpoint %s answered %d with Content-Type %q: %q)", err, redact.URL(te.url), status, contentType, redact.Text(string(data), 120))
		}
		return tokencache.Token{}, fmt.Errorf("%w (token endpoint %s)", err, redact.URL(te.url))
	}
	if clamped && te.clamped.CompareAndSwap(false, true) {
		te.logger.Warn("finauth: client: the token endpoint gave a lifetime beyond MaxTokenLifetime; it was clamped (logged once)",
			"provider", te.provider, "max_token_lifetime", te.maxLifetime())
	}
	return tok, nil
}

func (te *Endpoint) maxLifetime() time.Duration {
	if te.opts.MaxTokenLifetime > 0 {
		return te.opts.MaxTokenLifetime
	}
	return client.DefaultMaxTokenLifetime
}
