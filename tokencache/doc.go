// Package tokencache holds access tokens by key and fetches new ones through a function
// you give it. It knows nothing of HTTP or JOSE; the bearer transports sit on it.
//
// A cached token moves through three states:
//
//	fresh   -> served from memory with atomic loads only (no lock, no allocation, no clock read)
//	stale   -> inside the refresh window: still served, and one background refresh starts
//	expired -> inside the safety margin before Expiry: callers wait for one fetch per key
//
// State changes are driven by timers set when a token is stored, not by reading the clock
// on every call. Waiters for a fetch each honour their own context, while the fetch runs on
// a detached context with its own timeout, so one impatient caller cannot fail it for the
// others. [Cache.Invalidate] drops a token only if it is still the one a server rejected,
// so a storm of 401s costs one fetch. A refresh that fails while the token is still usable
// keeps serving it and retries with jittered exponential backoff; a failure with no usable
// token is remembered briefly so a dead endpoint is not hammered.
package tokencache
