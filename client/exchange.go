package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// ErrTokenExchange is wrapped by every error of a token-endpoint call.
var ErrTokenExchange = errors.New("finauth: client: token exchange failed")

// maxTokenResponse bounds what is read of any token-endpoint response.
const maxTokenResponse = 1 << 20

// TokenEndpointError is a token endpoint's refusal (a 4xx, or a 429/5xx after the
// retries). Message is the provider's body, at most 512 bytes, with anything that looks like a
// token or JWT redacted; Code is its "error"/"code" field when it has one.
type TokenEndpointError struct {
	Provider string
	Status   int
	Code     string
	Message  string
	Attempts int
}

// Error names the status and the provider's message.
func (e *TokenEndpointError) Error() string {
	s := fmt.Sprintf("%s: %s token endpoint answered %d %s", ErrTokenExchange, e.Provider, e.Status, http.StatusText(e.Status))
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns ErrTokenExchange.
func (e *TokenEndpointError) Unwrap() error { return ErrTokenExchange }

// ExchangeOptions bound a token-endpoint call. The zero value uses the defaults.
type ExchangeOptions struct {
	// MaxAttempts counts the first try; default 4.
	MaxAttempts int
	// TotalTimeout bounds all attempts and waits together; default 20s.
	TotalTimeout time.Duration
	// RetryWaitMin and RetryWaitMax bound the jittered exponential wait between attempts;
	// defaults 250ms and 5s. A Retry-After header is honoured (within TotalTimeout).
	RetryWaitMin, RetryWaitMax time.Duration
	// AttemptTimeout bounds one attempt, from sending the request to reading the whole
	// answer, whatever HTTP client is used; default 10s.
	AttemptTimeout time.Duration
}

func (o ExchangeOptions) withDefaults() ExchangeOptions {
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

// TokenEndpoint posts to a token URL through go-retryablehttp: connection errors, 429 and
// 5xx other than 501 are retried with jittered exponential backoff (Retry-After honoured);
// any other status is final. Each attempt has its own deadline (AttemptTimeout) carried by
// its request context. Safe for concurrent use.
type TokenEndpoint struct {
	provider string
	url      string
	opts     ExchangeOptions
	client   *retryablehttp.Client
	now      func() time.Time
	rand     func() float64
}

// NewTokenEndpoint returns the endpoint of provider (as named in errors) at url, called
// through settings' token HTTP client, logger, clock and random source.
func NewTokenEndpoint(provider, url string, opts ExchangeOptions, settings *Settings) *TokenEndpoint {
	opts = opts.withDefaults()
	te := &TokenEndpoint{provider: provider, url: url, opts: opts, now: settings.Clock(), rand: settings.Random()}
	hc := *settings.TokenHTTPClient()
	hc.Transport = attemptTimeout{base: hc.Transport, d: opts.AttemptTimeout}
	logger := settings.Log()
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
	rc.CheckRetry = retryablehttp.DefaultRetryPolicy
	rc.Backoff = te.backoff
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	te.client = rc
	return te
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
	ctx, cancel := context.WithTimeout(req.Context(), t.d)
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
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

// backoff honours Retry-After on 429 and 503, and otherwise waits a jittered exponential
// time: uniformly between min and min*2^attempt, never above max.
func (te *TokenEndpoint) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), te.now()); ok {
			return d
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

// Post sends body (JSON or form, as contentType says) and returns the status and body of a
// 2xx answer; any other answer is a *TokenEndpointError.
func (te *TokenEndpoint) Post(ctx context.Context, contentType string, body []byte) (status int, resp []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, te.opts.TotalTimeout)
	defer cancel()
	attempts := new(int)
	ctx = context.WithValue(ctx, attemptsKey{}, attempts)
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, te.url, body)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s: building the request to %s: %v", ErrTokenExchange, te.provider, RedactURL(te.url), err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "finauth")
	r, err := te.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s token endpoint %s unreachable after %d attempt(s): %w", ErrTokenExchange, te.provider, RedactURL(te.url), *attempts, err)
	}
	defer r.Body.Close()
	data, err := io.ReadAll(io.LimitReader(r.Body, maxTokenResponse+1))
	if err != nil {
		return r.StatusCode, nil, fmt.Errorf("%w: %s: reading the token response: %w", ErrTokenExchange, te.provider, err)
	}
	if len(data) > maxTokenResponse {
		return r.StatusCode, nil, fmt.Errorf("%w: %s: the token response is larger than %d bytes", ErrTokenExchange, te.provider, maxTokenResponse)
	}
	if r.StatusCode < 200 || r.StatusCode > 299 {
		code, msg := providerMessage(data)
		return r.StatusCode, nil, &TokenEndpointError{Provider: te.provider, Status: r.StatusCode, Code: code, Message: msg, Attempts: *attempts}
	}
	return r.StatusCode, data, nil
}
