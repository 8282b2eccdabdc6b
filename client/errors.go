package client

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/finauth/finauth/internal/problems"
	"github.com/finauth/finauth/internal/telemetry"
)

// ConfigError lists every problem found in a configuration, so that all can be fixed at
// once: Provider names what was configured ("Pismo", "redisstore") and Problems holds one
// [Problem] per field. Every provider's ConfigFromEnv, Validate and constructor returns it,
// and so does tokencache/redisstore (the same type). It wraps [ErrConfig].
type ConfigError = problems.ConfigError

// Problem is one configuration problem: Field (e.g. "TokenURL"), Env, its environment
// variable (e.g. "PISMO_TOKEN_URL"), and Reason, what is wrong and what to do. It never
// holds a secret value.
type Problem = problems.Problem

// ErrConfig is wrapped by every *ConfigError.
var ErrConfig = problems.ErrConfig

// ErrTokenExchange is wrapped by every error of a token-endpoint call.
var ErrTokenExchange = errors.New("finauth: token exchange failed")

// ErrTokenResponse is wrapped when a token endpoint's success answer cannot be used.
var ErrTokenResponse = telemetry.Sentinel("finauth: unusable token response", "bad_response")

// TokenEndpointError is a token endpoint's refusal (a 4xx, or a 429/5xx after the
// retries). Message is the provider's body, at most 512 bytes, with anything that looks like a
// token or JWT redacted; Code is its "error"/"code" field when it has one.
type TokenEndpointError struct {
	Provider string
	// URL is the token endpoint that answered, without credentials or query: a refusal
	// from the wrong endpoint (a path that is not the token endpoint's) shows here.
	URL      string
	Status   int
	Code     string
	Message  string
	Attempts int
	// RetryAfter is the server's Retry-After when it asked for a longer wait than the
	// exchange had left (the call then failed at once instead of waiting in vain).
	RetryAfter time.Duration
}

// Error names the status and the provider's message.
func (e *TokenEndpointError) Error() string {
	where := ""
	if e.URL != "" {
		where = " " + e.URL
	}
	s := fmt.Sprintf("%s: %s token endpoint%s answered %d %s", ErrTokenExchange, e.Provider, where, e.Status, http.StatusText(e.Status))
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (Retry-After %v is longer than the exchange had left: raise ExchangeOptions.TotalTimeout to wait that long)", e.RetryAfter)
	}
	return s
}

// Unwrap returns ErrTokenExchange.
func (e *TokenEndpointError) Unwrap() error { return ErrTokenExchange }

// TelemetryReason is the refusal's finauth.reason in finauth's metrics and spans: its OAuth
// error code when it is a standard one (invalid_client, invalid_grant, ...), else
// status_NNN.
func (e *TokenEndpointError) TelemetryReason() string {
	return telemetry.TokenEndpointReason(e.Status, e.Code)
}
