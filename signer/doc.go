// Package signer loads and generates keys and signs and verifies JOSE objects for finauth.
//
// Keys come in every form users hold them: PEM (PKCS#1, PKCS#8, SEC1, encrypted PKCS#8,
// legacy encrypted PEM, OpenSSH), DER, JWK/JWKS and Google service-account files
// ([ParseKey], [LoadKeyFile], [ParsePublicKeys]); any [crypto.Signer] (a KMS or HSM key)
// works through [NewKey]. [GenerateKey] makes new ones, [Key.MarshalPKCS8PEM] and
// [PublicKey.MarshalPEM] write them, and a [PublicKey] or [KeySet] marshals to a public
// JWK or JWKS whose kid defaults to the RFC 7638 thumbprint.
//
// A [Signer] makes compact JWTs ([Signer.SignJWT]), detached JWSs with caller-ordered
// protected headers ([Signer.SignDetached], RFC 7515 Appendix F) and unencoded-payload
// JWSs ([Signer.SignUnencodedDetached], RFC 7797), streaming large payloads into the hash.
// A [Verifier] checks them strictly for the CLI and the mock servers.
//
// # What go-jose does, and what is written here
//
// go-jose (github.com/go-jose/go-jose/v4) parses and writes JWKs and JWKSs and computes RFC
// 7638 thumbprints. The JWS signing and verification are this package's own, for needs
// go-jose's API cannot meet:
//
//   - Open Banking's x-jws-signature puts "http://openbanking.org.uk/tan" (and, in the older
//     profile, .../iat and .../iss) in "crit". go-jose refuses every "crit" parameter but
//     "b64" and has no hook for a parameter the caller checks itself, so it cannot verify a
//     single Revolut signature; [VerifyOptions.Critical] is that hook.
//   - The Soldo and Open Banking headers are byte-exact, in a documented member order
//     ([Header]); go-jose writes its own order and re-encodes the header.
//   - Strictness go-jose does not have: non-canonical base64url (non-zero trailing bits) is
//     refused, so one signature has one encoding; a header member given twice is refused
//     instead of the last one winning; the errors name what was wrong ([VerifyError]).
//   - Detached payloads are streamed into the hash (a 1 MiB body is not copied).
//
// The signature primitives are the standard library's (crypto/ecdsa, crypto/rsa,
// crypto/ed25519). TestVerifier_AgreesWithGoJOSE checks that for every token go-jose can
// verify, the two agree: whatever go-jose refuses, the Verifier refuses too.
//
// The package knows nothing of HTTP. Errors are typed ([KeyDataError], [KeyAlgorithmError],
// [VerifyError]) and wrap sentinels for errors.Is; none of them carries key material, a
// passphrase or a token.
package signer
