// Package revolut is the Revolut Open Banking client: the configuration (REVOLUT_* variables,
// REVOLUT_ENV for Revolut's published URLs), the PS256 request object that authorises a
// consent (the seed revolut-json-web-tokens.md, reproduced byte for byte by a golden test),
// the consent authorisation URL, and the x-jws-signature of payment requests (a detached JWS
// of the exact body with the tan in "crit"; the older Open Banking profile with
// WithLegacyJWS). Signer.JWSSignature is a transport.SignFunc: transport.Signing with
// Header "x-jws-signature" sends it, the body handling being the one Soldo's signing uses.
//
// Still to come (issue 10): tokens over mutual TLS (client credentials per scope, the
// authorization-code exchange and refresh tokens), idempotency keys, WithConsent, the
// client that composes them, the strict mock and the CLI commands.
package revolut
