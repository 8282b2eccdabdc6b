// Package business authenticates calls to the Soldo Business API v2 (api.soldo.com, the API
// a company that uses Soldo for cards and expenses calls). It is not the PSD2 interface Soldo
// offers through Token.io: that one signs every request with a detached JWS, and is package
// [github.com/finauth/finauth/client/soldo].
//
// Standard authentication (every endpoint): an access token from POST {base}/oauth/authorize
// (form client_id, client_secret; the answer's expires_in is a string, 7200 seconds) sent as
// "Authorization: Bearer", and the static internal token sent as X-Soldo-Internal-Token.
// Tokens are cached, refreshed ahead of expiry, replaced once after a 401 and shared between
// replicas through a token store, as every finauth provider's.
//
// Advanced authentication (money movement, transactions, account changes) adds
// X-Soldo-Fingerprint, the lowercase hex SHA-512 of the request's field values concatenated
// in the order Soldo documents for the endpoint (ending with the internal token), and
// X-Soldo-Fingerprint-Signature, base64 of its SHA512withRSA signature with the RSA key whose
// public half was uploaded to Soldo. The orders finauth knows are [Endpoints]; add others
// with [WithEndpoints] or per request with [WithFingerprintOrder]. A request that needs a
// fingerprint (any method but GET and HEAD, or a transaction read) and matches no order
// fails before it is sent ([ErrFingerprintOrderUnknown]): a guessed fingerprint is never
// sent. A field's value is taken from the path segment of that name, else the query
// parameter, else the top-level member of the JSON body (a string's text, a number as
// written, true or false, "" for null or an absent field). The body is read once and sent
// byte for byte.
//
//	cfg, err := business.ConfigFromEnv()   // SOLDO_BUSINESS_* variables, or fill a Config
//	hc, err := business.NewClient(cfg)     // an *http.Client
//	resp, err := hc.Get(cfg.APIURL + "/business/v2/transactions?fromDate=2026-01-01&type=company")
//
// [WebhookVerifier] checks the webhooks Soldo sends (their fingerprint, and their signature
// when Soldo's public key is given).
//
// A Config prints, marshals and logs with its secrets redacted.
//
// # What Soldo's pages say, and what finauth decided where they are silent
//
// From developer.soldo.com (Authentication, Advanced authentication): OAuth 2.0 client
// credentials at /oauth/authorize; HTTPS only; the fingerprint is the SHA-512 of the values
// concatenated in the per-endpoint order, lowercase hex; the signature is SHA512withRSA, in
// base64, with the 2048-bit RSA key whose X.509 SubjectPublicKeyInfo PEM was uploaded in
// the web app. From public client code that runs against the API (recorded in finauth's
// PROTOCOLS notes): the orders of the table, expires_in as a string, the internal token as
// the order's last field. Decided here, where the pages finauth could read are silent: no
// grant_type in the token request (Soldo's page shows client_id and client_secret only); a
// JSON number is fingerprinted as written in the body, true and false as such, null as an
// empty string; a query parameter given twice, an object or array, or one field with two
// different values in the path, query and body is an error rather than a guess; an internal
// transfer is listed under both PUT and POST; a request Soldo's 401 refuses is replayed once
// with a new token (the 401 does not say which credential it refused). Webhooks: the
// X-Soldo-Fingerprint-Order and X-Soldo-Fingerprint headers are confirmed by a public SDK;
// X-Soldo-Fingerprint-Signature on webhooks is not confirmed by any page finauth could read,
// so it is checked only when Soldo's public key is given (WebhookVerifier.PublicKey).
package business
