// Package client holds the public types every provider package shares; the providers
// themselves live one package each below it ([github.com/finauth/finauth/client/pismo],
// [github.com/finauth/finauth/client/soldo],
// [github.com/finauth/finauth/client/clientcredentials] and
// [github.com/finauth/finauth/client/revolut]), and this package names none of them.
//
//   - Errors you branch on: [*ConfigError] lists every problem of a configuration at once,
//     each a [Problem] naming its field and environment variable; [*TokenEndpointError] is
//     a token endpoint's refusal with its status and (redacted) reason.
//   - [Secret] is a string that shows "[redacted]" in fmt, encoding/json and log/slog: the
//     type of every secret field of every configuration.
//   - [ExchangeOptions] bound the token-endpoint calls of a configuration.
//   - [DefaultTransport] is the tuned http.Transport the providers use by default.
//
// No error of this package ever contains a key, a passphrase, a JWT or a token.
package client
