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
// public half was uploaded to Soldo. The orders are Soldo's own, generated from its OpenAPI
// description ([Endpoints], [OpenAPIVersion]); add others with [WithEndpoints] or per
// request with [WithFingerprintOrder]. A request to an endpoint the description lists
// without an order goes out with standard authentication; one whose order cannot be applied,
// or to an endpoint the description does not have that looks like it needs a fingerprint
// (any method but GET and HEAD, or a transaction read), fails before it is sent
// ([ErrFingerprintOrderUnknown]): a guessed fingerprint is never sent. A field's value is
// taken from the path segment of that name, else the query parameter, else the body: a form
// field, or a member of the JSON body (a dotted name through nested objects; a string's
// text, a number as written, true or false, "" for null or an absent field). The body is
// read once and sent byte for byte.
//
//	cfg, err := business.ConfigFromEnv()   // SOLDO_BUSINESS_* variables, or fill a Config
//	hc, err := business.NewClient(cfg)     // an *http.Client
//	resp, err := hc.Get(cfg.APIURL + "/business/v2/transactions?type=company&fromDate=2026-01-01")
//
// [WebhookVerifier] checks the webhooks Soldo sends: their fingerprint and its signature
// with Soldo's public key.
//
// A Config prints, marshals and logs with its secrets redacted.
//
// # What Soldo says, and what finauth decided where it is silent
//
// From developer.soldo.com (Authentication, Advanced authentication, Errors) and the OpenAPI
// description behind it (version 5.56.0): OAuth 2.0 client credentials at /oauth/authorize,
// a form of client_id and client_secret; HTTPS only; the fingerprint is the SHA-512 of the
// values concatenated in each operation's "fingerprint-order", lowercase hex; the signature
// is SHA512withRSA, in base64, with the 2048-bit RSA key whose X.509 SubjectPublicKeyInfo PEM
// was uploaded in the web app; a wrong fingerprint or signature is answered 400
// INVALID_FINGERPRINT or INVALID_FINGERPRINT_SIGNATURE; errors are {"error_code",
// "message"} (the token endpoint's {"error", "error_description"}); webhooks carry
// X-Soldo-Fingerprint, X-Soldo-Fingerprint-Order and X-Soldo-Fingerprint-Signature, the last
// to be verified with Soldo's public key. From public client code: expires_in is a string,
// the order's "token" is the internal token. Decided here, where Soldo is silent: no
// grant_type in the token request; a JSON number is fingerprinted as written in the body,
// true and false as such, null as an empty string; a query or form parameter given twice, an
// object or array, or one field with two different values in the path, query and body is an
// error rather than a guess; a path parameter the order names differently (the order of PUT
// /online-ads/{onlineAdId} says "id") takes the order's name; the orders that join arrays
// (join(...), "(joined)") or lack the token are left out until Soldo defines them; a
// webhook's camelCase order name (walletId) is looked up as written, else in snake_case
// (wallet_id), as the data objects are written.
package business
