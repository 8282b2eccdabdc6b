// Package clientcredentials calls an API with OAuth 2.0 client-credentials tokens
// (RFC 6749 section 4.4), the client authenticating with a signed client assertion
// (private_key_jwt, RFC 7523 / RFC 7521) or a client secret (client_secret_basic,
// client_secret_post). Tokens are cached per scope set, refreshed ahead of expiry in the
// background, and replaced once for everyone after a 401.
//
// Mia-Platform's client-credentials service is a profile of it: [MiaConfigFromEnv] reads
// MIA_* variables and sets what that service expects (the assertion's audience is its
// issuer, token_endpoint_auth_method=private_key_jwt).
//
//	cfg, err := clientcredentials.MiaConfigFromEnv() // or fill a clientcredentials.Config
//	hc, err := clientcredentials.NewClient(cfg)
//	resp, err := hc.Get("https://api.example.com/orders")
//
// Every HTTP attempt at the token endpoint, retries included, carries a fresh assertion
// with a new jti, since servers refuse a replayed one. Errors are typed: a
// [client.ConfigError] names every configuration problem by variable, a
// [client.TokenEndpointError] carries the RFC 6749 error code. No error, log line or
// formatted Config shows a key, a secret, an assertion or a token.
package clientcredentials
