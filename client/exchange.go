package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// ErrTokenExchange is wrapped by every error of a token-endpoint call.
var ErrTokenExchange = errors.New("finauth: client: token exchange failed")

// maxTokenResponse bounds what is read of any token-endpoint response.
const maxTokenResponse = 1 << 20

// maxErrorMessage bounds the provider message kept in a TokenEndpointError.
const maxErrorMessage = 512

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
	// AttemptTimeout bounds one attempt; default 10s.
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

// tokenEndpoint posts to a token URL through go-retryablehttp: connection errors, 429 and
// 5xx other than 501 are retried with jittered backoff (Retry-After honoured); any other
// status is final.
type tokenEndpoint struct {
	provider string
	url      string
	opts     ExchangeOptions
	client   *retryablehttp.Client
}

func newTokenEndpoint(provider, url string, hc *http.Client, opts ExchangeOptions, logger *slog.Logger) *tokenEndpoint {
	opts = opts.withDefaults()
	rc := retryablehttp.NewClient()
	rc.HTTPClient = hc
	rc.Logger = nil // retryablehttp logs to stderr by default; we log through slog
	rc.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, attempt int) {
		if n, ok := req.Context().Value(attemptsKey{}).(*int); ok {
			*n = attempt + 1
		}
		if attempt > 0 && logger != nil {
			logger.Info("finauth: client: retrying the token endpoint", "provider", provider, "attempt", attempt+1)
		}
	}
	rc.RetryMax = opts.MaxAttempts - 1
	rc.RetryWaitMin, rc.RetryWaitMax = opts.RetryWaitMin, opts.RetryWaitMax
	rc.CheckRetry = retryablehttp.DefaultRetryPolicy
	rc.Backoff = backoff
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return &tokenEndpoint{provider: provider, url: url, opts: opts, client: rc}
}

// backoff honours Retry-After on 429 and 503, and otherwise waits a jittered exponential
// time: uniformly between min and min*2^attempt, never above max.
func backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			return d
		}
	}
	ceiling := max
	if attempt < 30 && min<<attempt < max {
		ceiling = min << attempt
	}
	return min + time.Duration(rand.Int64N(int64(ceiling-min)+1))
}

// retryAfter parses a Retry-After value: seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// attemptsKey carries a counter of attempts through the request context.
type attemptsKey struct{}

// post sends body (JSON or form) and returns the response body of a 2xx answer.
func (te *tokenEndpoint) post(ctx context.Context, contentType string, body []byte) (status int, resp []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, te.opts.TotalTimeout)
	defer cancel()
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, te.url, body)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s: building the request: %v", ErrTokenExchange, te.provider, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "finauth")
	attempts := new(int)
	req = req.WithContext(context.WithValue(ctx, attemptsKey{}, attempts))
	r, err := te.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s token endpoint %s unreachable after %d attempt(s): %w", ErrTokenExchange, te.provider, te.url, *attempts, err)
	}
	defer r.Body.Close()
	data, err := io.ReadAll(io.LimitReader(r.Body, maxTokenResponse+1))
	if err != nil {
		return r.StatusCode, nil, fmt.Errorf("%w: %s: reading the token response: %v", ErrTokenExchange, te.provider, err)
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

// providerMessage extracts "error"/"code" and a message from an error body, redacted and
// bounded.
func providerMessage(body []byte) (code, msg string) {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"error", "code", "errorCode"} {
			if s, ok := m[k].(string); ok {
				code = redactTokens(s)
				break
			}
		}
		for _, k := range []string{"error_description", "message", "msg", "detail", "reason"} {
			if s, ok := m[k].(string); ok {
				msg = s
				break
			}
		}
	}
	if msg == "" && code == "" {
		msg = string(body)
	}
	msg = redactTokens(strings.ToValidUTF8(msg, "?"))
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage] + "..."
	}
	return code, strings.TrimSpace(msg)
}

var (
	jwtLike   = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)
	tokenLike = regexp.MustCompile(`[A-Za-z0-9_\-+/=.~]{32,}`)
)

// redactTokens replaces JWTs and long opaque strings (tokens, keys) with [redacted].
func redactTokens(s string) string {
	s = jwtLike.ReplaceAllString(s, "[redacted]")
	return tokenLike.ReplaceAllString(s, "[redacted]")
}

// tokenResponse is the body of a token endpoint's success. Provider quirks are resolved in
// parseTokenResponse.
type tokenResponse struct {
	AccessToken  string          `json:"access_token"`
	Token        string          `json:"token"`
	RefreshToken string          `json:"refresh_token"`
	TokenType    string          `json:"token_type"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
}

// ErrTokenResponse is wrapped when a token endpoint's success answer cannot be used.
var ErrTokenResponse = errors.New("finauth: client: unusable token response")

// parseTokenResponse reads a token answer tolerantly, the one place for wire quirks:
//   - Pismo documents {"access_token", "expires_in": "3600"} (a string) with 200, while a
//     public Pismo client reads "token" with 201: either name is taken;
//   - expires_in may be a number or a string of digits;
//   - with no usable expires_in, an access token that is itself a JWT gives its "exp";
//     otherwise the answer is an error (a token without a lifetime cannot be refreshed ahead).
func parseTokenResponse(provider string, data []byte, now time.Time) (value, tokenType, refresh string, expiry time.Time, err error) {
	var r tokenResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return "", "", "", time.Time{}, fmt.Errorf("%w: %s: the body is not JSON", ErrTokenResponse, provider)
	}
	value = r.AccessToken
	if value == "" {
		value = r.Token
	}
	if value == "" {
		return "", "", "", time.Time{}, fmt.Errorf(`%w: %s: no "access_token" (or "token") in the answer`, ErrTokenResponse, provider)
	}
	if secs, ok := expiresIn(r.ExpiresIn); ok {
		expiry = now.Add(time.Duration(secs) * time.Second)
	} else if exp, ok := jwtExpiry(value); ok && exp.After(now) {
		expiry = exp
	} else {
		return "", "", "", time.Time{}, fmt.Errorf(`%w: %s: "expires_in" is missing or not a positive number, and the access token is not a JWT with "exp"`, ErrTokenResponse, provider)
	}
	return value, r.TokenType, r.RefreshToken, expiry, nil
}

func expiresIn(raw json.RawMessage) (int64, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != f || f < 1 || f > 1<<40 {
			return 0, false
		}
		n = int64(f)
	}
	if n <= 0 || n > 1<<40 {
		return 0, false
	}
	return n, true
}

// jwtExpiry reads "exp" from a JWT without verifying it (it is the server's own token; we
// only need to know when to refresh).
func jwtExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	if d.Decode(&c) != nil {
		return time.Time{}, false
	}
	n, err := c.Exp.Int64()
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}
