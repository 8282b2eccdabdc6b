package tokencache

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors the cache returns (wrapped; test with errors.Is).
var (
	// ErrClosed: the cache was closed.
	ErrClosed = errors.New("finauth: tokencache: the cache is closed")
	// ErrEmptyToken: the fetch returned a token with no value.
	ErrEmptyToken = errors.New("finauth: tokencache: the fetch returned an empty token")
	// ErrExpiredToken: the fetch returned a token that had already expired.
	ErrExpiredToken = errors.New("finauth: tokencache: the fetch returned a token that has already expired (check the token endpoint's expires_in and this machine's clock)")
	// ErrNoFetch: the cache was made without a fetch function.
	ErrNoFetch = errors.New("finauth: tokencache: no fetch function; pass one to tokencache.New")
	// ErrFetchPanic: the fetch panicked; the panic was recovered.
	ErrFetchPanic = errors.New("finauth: tokencache: the fetch panicked")
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

// Unwrap returns ErrFetchPanic.
func (e *PanicError) Unwrap() error { return ErrFetchPanic }

// ErrFetchTimeout is wrapped by the error waiters get when a fetch did not return within
// Options.FetchTimeout.
var ErrFetchTimeout = errors.New("finauth: tokencache: the fetch did not return in time")

// FetchTimeoutError reports a fetch that did not return within Timeout (it may have ignored
// its context); the cache stopped waiting for it and will drop its result.
type FetchTimeoutError struct{ Timeout time.Duration }

// Error names the timeout.
func (e *FetchTimeoutError) Error() string {
	return fmt.Sprintf("%s (FetchTimeout %v): the token endpoint or the fetch function is too slow, or ignores its context", ErrFetchTimeout, e.Timeout)
}

// Unwrap returns ErrFetchTimeout and context.DeadlineExceeded, so that errors.Is finds
// either.
func (e *FetchTimeoutError) Unwrap() []error {
	return []error{ErrFetchTimeout, context.DeadlineExceeded}
}
