// Package soldo signs every request to Soldo's API the Token.io way: a JWS whose protected
// header names the request (method, host, decoded path, raw query, member and key IDs, an
// expiry in Unix milliseconds) and whose payload is the exact body bytes, detached by
// default, sent as "Authorization: Bearer <jws>". Every attempt is signed afresh (retries,
// same-origin redirects); requests to other origins are refused and redirects there go out
// unsigned.
//
//	cfg, err := soldo.ConfigFromEnv()      // SOLDO_* variables, or fill a soldo.Config
//	hc, err := soldo.NewClient(cfg)        // an *http.Client
//	resp, err := hc.Post("https://api.soldo.example/banks/iron/consents", "application/json", body)
//
// A Config prints, marshals and logs with its secrets and URL passwords redacted.
package soldo
