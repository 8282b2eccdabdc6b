// Package tokencache holds access tokens by key and fetches new ones through a function
// you give it. It knows nothing of HTTP or JOSE; the bearer transports sit on it.
//
// A cached token moves through three states:
//
//	fresh   -> served from memory with atomic loads only (no lock, no allocation, no clock read);
//	           through a [Handle], without even the key lookup
//	stale   -> inside the refresh window: still served, and one background refresh starts
//	expired -> inside the safety margin before Expiry: callers wait for one fetch per key
//
// State changes are driven by timers set when a token is stored, not by reading the clock
// on every call. Waiters for a fetch each honour their own context, while the fetch runs on
// a detached context with its own timeout, so one impatient caller cannot fail it for the
// others. [Cache.Invalidate] drops a token only if it is still the one a server rejected,
// so a storm of 401s costs one fetch. A refresh that fails while the token is still usable
// keeps serving it and retries with jittered exponential backoff; a failure with no usable
// token is remembered briefly so a dead endpoint is not hammered. At most
// [Options.MaxConcurrentFetches] fetches run at once across all keys
// (golang.org/x/sync/semaphore): a cold start over thousands of accounts queues its
// token-endpoint calls instead of opening them all together.
//
// # Why not golang.org/x/sync/singleflight
//
// Each key has its own flight (flight.go) rather than a singleflight.Group, because the
// cache's rules do not fit singleflight's shape:
//
//   - Joining or starting a fetch is decided under the entry's lock together with the
//     entry's state: a usable token (take it), a remembered failure (return it), a pending
//     backoff retry (cancel it and fetch now), an evicted entry (use the new one).
//     singleflight has its own lock and map, so between a caller's check and its DoChan the
//     previous flight can store a fresh token and end, and the caller starts a second,
//     needless fetch; closing that window needs the entry's lock again inside the function.
//   - A waiter must leave on its own context without cancelling the fetch. Group.Do cannot
//     be left; Group.DoChan can, but allocates a channel per waiter: the 1,000 goroutines of
//     BenchmarkExpiryStorm would make 1,000 channels per storm where one flight makes one.
//   - Waiters are released only after the result is stored and the stale/expiry timers are
//     set, and a background refresh that fails while the old token is usable must hand the
//     waiters the old token (stale-if-error) while scheduling a retry: both are the
//     flight's finish step (Cache.finish), which a singleflight function could do only by
//     taking the same entry lock.
//   - One Group serialises the joins of every key on one mutex; per-entry locks do not.
//
// The semaphore, by contrast, is exactly golang.org/x/sync's: fetches queue for a slot.
package tokencache
