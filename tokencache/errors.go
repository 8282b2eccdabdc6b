package tokencache

import (
	"context"
	"fmt"
	"time"

	"github.com/finauth/finauth/internal/telemetry"
)

// Errors the cache returns (wrapped; test with errors.Is).
var (
	// ErrClosed: the cache was closed.
	ErrClosed = telemetry.Sentinel("finauth: tokencache: the cache is closed", "closed")
	// ErrEmptyToken: the fetch returned a token with no value.
	ErrEmptyToken = telemetry.Sentinel("finauth: tokencache: the fetch returned an empty token", "empty_token")
	// ErrExpiredToken: the fetch returned a token that had already expired.
	ErrExpiredToken = telemetry.Sentinel("finauth: tokencache: the fetch returned a token that has already expired (check the token endpoint's expires_in and this machine's clock)", "expired_token")
	// ErrNoFetch: the cache was made without a fetch function.
	ErrNoFetch = telemetry.Sentinel("finauth: tokencache: no fetch function; pass one to tokencache.New", "no_fetch")
	// ErrFetchPanic: the fetch panicked; the panic was recovered.
	ErrFetchPanic = telemetry.Sentinel("finauth: tokencache: the fetch panicked", "panic")
)

// PanicError reports a recovered panic in a FetchFunc. Its message names the panic value's
// type only (the value may hold a secret); Stack holds the goroutine stack for debugging.
type PanicError struct {
	ValueType string
	Stack     []byte
}

// Error says that the fetch panicked.
func (e *PanicError) Error() string {
	return ErrFetchPanic.Error() + " (panic value of type " + e.ValueType + "); this is a bug in the fetch function"
}

// TelemetryReason is "panic", the error's finauth.reason.
func (e *PanicError) TelemetryReason() string { return "panic" }

// Unwrap returns ErrFetchPanic.
func (e *PanicError) Unwrap() error { return ErrFetchPanic }

// ErrFetchTimeout is wrapped by the error waiters get when a fetch did not return within
// Options.FetchTimeout.
var ErrFetchTimeout = telemetry.Sentinel("finauth: tokencache: the fetch did not return in time", "timeout")

// FetchTimeoutError reports a fetch that did not return within Timeout (it may have ignored
// its context); the cache stopped waiting for it and will drop its result.
type FetchTimeoutError struct{ Timeout time.Duration }

// Error names the timeout.
func (e *FetchTimeoutError) Error() string {
	return fmt.Sprintf("%s (FetchTimeout %v): the token endpoint or the fetch function is too slow, or ignores its context", ErrFetchTimeout, e.Timeout)
}

// TelemetryReason is "timeout", the error's finauth.reason.
func (e *FetchTimeoutError) TelemetryReason() string { return "timeout" }

// Unwrap returns ErrFetchTimeout and context.DeadlineExceeded, so that errors.Is finds
// either.
func (e *FetchTimeoutError) Unwrap() []error {
	return []error{ErrFetchTimeout, context.DeadlineExceeded}
}
