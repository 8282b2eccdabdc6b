// Package revolut is the Revolut Open Banking client: the configuration (REVOLUT_* variables,
// REVOLUT_ENV for Revolut's published URLs), the PS256 request object that authorises a
// consent (the example of Revolut's documentation, "JSON Web Tokens", reproduced byte for byte by a golden test),
// the consent authorisation URL, and the x-jws-signature of payment requests (a detached JWS
// of the exact body with the tan in "crit"; the older Open Banking profile with
// WithLegacyJWS). Signer.JWSSignature is a transport.SignFunc: transport.Signing with
// Header "x-jws-signature" sends it, the body handling being the one Soldo's signing uses.
//
// [NewTransport] composes everything for API calls: idempotency keys, x-fapi-financial-id,
// retries, the bearer token (client credentials per scope; the user's token WithConsent,
// from ExchangeCode and refreshed with its refresh token) and x-jws-signature, over mutual
// TLS with the transport certificate.
package revolut
