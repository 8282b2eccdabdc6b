// Package client holds what every provider package shares; the providers themselves live
// one package each below it ([github.com/finauth/finauth/client/pismo],
// [github.com/finauth/finauth/client/soldo]) and this package names none of them.
//
//   - Configuration: [Problems] collects every problem of a configuration, by field and
//     environment variable, into one [*ConfigError]; [Env] reads variables; [KeySource]
//     loads a private key in any format package signer reads.
//   - Secrets: [Secret] is a string that shows "[redacted]" in fmt, encoding/json and
//     log/slog; [Redacted] and its forms ([FormatRedacted], [MarshalRedacted],
//     [LogValueRedacted]) print a whole configuration with URL passwords hidden as net/http
//     hides them (svc:***), so no provider keeps a list of its fields by hand.
//   - Token endpoints: [TokenEndpoint] posts over go-retryablehttp with jittered backoff,
//     Retry-After and a deadline per attempt; [ParseTokenResponse] reads RFC 6749 answers and
//     their known quirks; refusals are [*TokenEndpointError].
//   - Transport: [Settings] are the options every provider honours (base transport, token
//     HTTP client, logger, clock), [DefaultTransport] the tuned http.Transport.
//
// No error of this package ever contains a key, a passphrase, a JWT or a token.
package client
