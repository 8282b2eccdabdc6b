// Package client wires finauth for each provider: configuration (struct or environment),
// the token-endpoint calls, and New* functions that return a ready *http.Client.
//
//	hc, err := client.NewPismo(cfg)            // or client.PismoConfigFromEnv()
//	resp, err := hc.Get("https://sandbox.pismolabs.io/accounts/v1/accounts/123")
//	ctx = client.WithAccount(ctx, "123")       // an account-specific token for this request
//
// Errors are typed: [*ConfigError] lists every configuration problem by name at once,
// [*TokenEndpointError] carries the token endpoint's status and (redacted) message.
// Neither ever contains a key, a passphrase, a JWT or a token.
package client
