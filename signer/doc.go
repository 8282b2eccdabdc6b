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
// The package knows nothing of HTTP. Errors are typed ([KeyDataError], [KeyAlgorithmError],
// [VerifyError]) and wrap sentinels for errors.Is; none of them carries key material, a
// passphrase or a token.
package signer
