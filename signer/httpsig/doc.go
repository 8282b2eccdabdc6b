// Package httpsig signs and verifies HTTP messages as RFC 9421 (HTTP Message Signatures)
// defines them, with Content-Digest (RFC 9530), and FAPI 2.0's message-signing profile for
// requests (FAPI2Request).
//
// A [Signer] signs with any key of the signer package (a file, pkcs11:, awskms:); its
// SignHeaders is a transport.SignHeadersFunc, so that transport.Signing carries it: every
// attempt is signed afresh over the body bytes actually sent. Put that transport below
// (closer to the network than) the ones that set Authorization and DPoP: a profile covering
// "authorization" refuses a request without it ([ErrNoAuthorization]).
//
// A [Verifier] checks signatures for servers, mocks and tests; [VerifyContentDigest] checks a
// body against its Content-Digest. RFC 9421's Appendix B examples are golden tests.
package httpsig
