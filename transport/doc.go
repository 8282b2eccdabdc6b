// Package transport holds finauth's http.RoundTrippers. The package knows no provider.
//
//   - [Bearer] puts a cached token (from a [TokenSource] such as a tokencache.Cache) on each
//     request and, on a 401, invalidates it once for everyone, gets a new one and replays the
//     request with the same body bytes.
//   - [Signing] signs every attempt of every request with a [SignFunc] (a detached JWS over
//     the method, host, path, query and exact body bytes, for instance) and sends the result
//     as the Authorization header (or another, such as x-jws-signature).
//   - [Idempotency] gives each logical POST one idempotency key, kept across retries,
//     redirects and replays, so that a request sent again is never made twice.
//
// Bearer and Signing send credentials only to an allow-list of origins ([Origins]): a request to another
// origin, or whose Host header names another origin than its URL, is refused with an
// [*OriginError] before anything is sent, a redirect there goes out
// without credentials, and plain http is accepted only for loopback hosts unless allowed
// explicitly. Bodies without GetBody are captured in memory up to a limit
// ([DefaultMaxBodyBytes]) so that they can be sent, signed or replayed again.
//
// Every RoundTripper here keeps net/http's contract: it never modifies the caller's
// request (it sends a copy) and it closes the request body on every path, errors included.
package transport
