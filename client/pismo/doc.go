// Package pismo calls Pismo's APIs with access tokens handled for you: it mints the RS256
// JWT Pismo documents (tenant, account and group claims), exchanges it for an access token,
// caches the token until shortly before it expires (refreshing ahead, in the background),
// and on a 401 refreshes once for every request that saw it and replays them.
//
//	cfg, err := pismo.ConfigFromEnv()          // PISMO_* variables, or fill a pismo.Config
//	hc, err := pismo.NewClient(cfg)            // an *http.Client
//	resp, err := hc.Get("https://sandbox.pismolabs.io/cards/v1/cards")
//	ctx = pismo.WithAccount(ctx, "123")        // an account-specific token for one request
//
// Errors are typed: [client.ConfigError] lists every configuration problem by name at
// once, [client.TokenEndpointError] carries Pismo's status and (redacted) reason. Neither
// ever contains a key, a passphrase, a JWT or a token, and a Config prints, marshals and
// logs with its secrets and URL passwords redacted.
package pismo
