package business

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The headers of advanced authentication.
const (
	HeaderInternalToken        = "X-Soldo-Internal-Token"
	HeaderFingerprint          = "X-Soldo-Fingerprint"
	HeaderFingerprintSignature = "X-Soldo-Fingerprint-Signature"
	// HeaderFingerprintOrder is sent by Soldo with a webhook: the comma-separated fields
	// its fingerprint covers.
	HeaderFingerprintOrder = "X-Soldo-Fingerprint-Order"
)

// TokenField is the name the fingerprint orders give the internal token: every order ends
// with it.
const TokenField = "token"

// Endpoint is one API endpoint's fingerprint order: the request's fields whose values,
// concatenated in this order, make the fingerprint (Soldo's "Fingerprint order" page).
type Endpoint struct {
	// Method is the HTTP method (GET, POST, PUT, DELETE).
	Method string
	// Path is the path pattern under the API base, with {name} for a path segment whose
	// value is the field name: "/business/v2/transactions/{id}".
	Path string
	// Fields are the field names in order; the last is TokenField. A field's value comes
	// from the path segment of that name, else the query parameter, else the top-level
	// member of the JSON body; an absent one is the empty string.
	Fields []string
}

// Endpoints returns the fingerprint orders finauth knows (see the package documentation
// for their sources); give others with WithEndpoints or, per request, WithFingerprintOrder.
func Endpoints() []Endpoint {
	out := make([]Endpoint, len(documented))
	for i, e := range documented {
		out[i] = Endpoint{Method: e.Method, Path: e.Path, Fields: slices.Clone(e.Fields)}
	}
	return out
}

// documented are the endpoints of the table. Sources: PROTOCOLS.md's "Soldo Business API"
// section (orders confirmed by public client code that runs against the API) and, for the
// internal transfer, a public SDK's fingerprint (amount, currency, fromWalletId,
// toWalletId, token). Soldo documents both PUT and POST for a transfer in different
// versions of its pages, so both are listed.
var documented = []Endpoint{
	{http.MethodGet, "/business/v2/ping/whoami", []string{TokenField}},
	{http.MethodGet, "/business/v2/transactions/{id}", []string{"id", TokenField}},
	{http.MethodGet, "/business/v2/transactions", []string{"type", "publicId", "customReferenceId", "groupId", "fromDate", "toDate",
		"dateType", "category", "status", "tagId", "expenseType", "expenseStatus", "text", TokenField}},
	{http.MethodPut, "/business/v2/wallets/internalTransfer/{fromWalletId}/{toWalletId}", []string{"amount", "currency", "fromWalletId", "toWalletId", TokenField}},
	{http.MethodPost, "/business/v2/wallets/internalTransfer/{fromWalletId}/{toWalletId}", []string{"amount", "currency", "fromWalletId", "toWalletId", TokenField}},
}

// ErrFingerprintOrderUnknown is wrapped by the error of a request that needs advanced
// authentication (a method other than GET and HEAD, or a transaction read) to an endpoint
// whose fingerprint order finauth does not know: nothing is sent, since a guessed
// fingerprint would be refused at best. Give the order with WithEndpoints or
// WithFingerprintOrder, or mark the request as standard with WithStandardAuthentication.
var ErrFingerprintOrderUnknown = errors.New("finauth: soldo business: the request needs advanced authentication and its endpoint's fingerprint order is unknown")

// ErrFingerprintFields is wrapped by the error of a request whose fields cannot make a
// fingerprint (a field given twice with different values, an object where a value is
// expected, a body that is not JSON): nothing is sent.
var ErrFingerprintFields = errors.New("finauth: soldo business: the request's fields cannot make a fingerprint")

// ErrNoFingerprintKey is wrapped by the error of a request that needs advanced
// authentication when the configuration has no private key.
var ErrNoFingerprintKey = errors.New("finauth: soldo business: the request needs advanced authentication (a fingerprint signature) and no private key is configured")

type orderKey struct{}
type standardKey struct{}

// WithFingerprintOrder returns a context whose requests are signed with this fingerprint
// order (field names, ending with "token"), whatever the endpoint table says: for an
// endpoint the table does not know.
func WithFingerprintOrder(ctx context.Context, fields ...string) context.Context {
	return context.WithValue(ctx, orderKey{}, slices.Clone(fields))
}

// WithStandardAuthentication returns a context whose requests carry standard
// authentication only (token and internal token), even for a method other than GET: for an
// endpoint that Soldo's "Fingerprint order" page does not list.
func WithStandardAuthentication(ctx context.Context) context.Context {
	return context.WithValue(ctx, standardKey{}, true)
}

// pattern is an Endpoint split into segments for matching.
type pattern struct {
	Endpoint
	segs []string
}

// table matches requests to endpoints: the documented ones, then the caller's (which win on
// the same method and pattern).
type table []pattern

func newTable(extra []Endpoint) (table, error) {
	var t table
	for _, e := range append(slices.Clone(documented), extra...) {
		if err := checkOrder(e.Fields); err != nil {
			return nil, fmt.Errorf("%s %s: %w", e.Method, e.Path, err)
		}
		if !strings.HasPrefix(e.Path, "/") {
			return nil, fmt.Errorf("%s %s: the path pattern must start with /", e.Method, e.Path)
		}
		p := pattern{Endpoint: Endpoint{Method: strings.ToUpper(e.Method), Path: e.Path, Fields: slices.Clone(e.Fields)}, segs: strings.Split(strings.Trim(e.Path, "/"), "/")}
		t = slices.DeleteFunc(t, func(q pattern) bool { return q.Method == p.Method && q.Path == p.Path })
		t = append(t, p)
	}
	return t, nil
}

// checkOrder reports what is wrong with a fingerprint order.
func checkOrder(fields []string) error {
	if len(fields) == 0 || fields[len(fields)-1] != TokenField {
		return fmt.Errorf(`%w: a fingerprint order ends with %q (the internal token), as every order of Soldo's "Fingerprint order" page does`, ErrFingerprintFields, TokenField)
	}
	for _, f := range fields {
		if f == "" {
			return fmt.Errorf("%w: an empty field name in the fingerprint order", ErrFingerprintFields)
		}
	}
	return nil
}

// match returns the endpoint of method and path and its path parameters.
func (t table) match(method, path string) (*pattern, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(t) - 1; i >= 0; i-- {
		p := &t[i]
		if p.Method != method || len(p.segs) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for j, s := range p.segs {
			if len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' {
				params[s[1:len(s)-1]] = segs[j]
			} else if s != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return p, params
		}
	}
	return nil, nil
}

// plan is what a request needs: nil fields for standard authentication only.
type plan struct {
	fields []string
	params map[string]string
}

// needsAdvanced says whether a request to an endpoint the table does not know must carry a
// fingerprint: Soldo asks it of money movement, account changes and transactions.
func needsAdvanced(method, path string) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return true
	}
	return strings.Contains(path, "/transactions")
}

// planFor decides the authentication of req.
func (t table) planFor(req *http.Request) (plan, error) {
	ctx := req.Context()
	path := req.URL.EscapedPath()
	if fields, ok := ctx.Value(orderKey{}).([]string); ok {
		if err := checkOrder(fields); err != nil {
			return plan{}, err
		}
		_, params := t.match(req.Method, path)
		return plan{fields: fields, params: params}, nil
	}
	if std, _ := ctx.Value(standardKey{}).(bool); std {
		return plan{}, nil
	}
	if p, params := t.match(req.Method, path); p != nil {
		return plan{fields: p.Fields, params: params}, nil
	}
	if needsAdvanced(req.Method, path) {
		return plan{}, fmt.Errorf("%w: %s %s: copy its order from Soldo's \"Fingerprint order\" page into business.WithEndpoints(business.Endpoint{Method, Path, Fields}) or, per request, business.WithFingerprintOrder(ctx, fields...) (CLI: --fingerprint-order a,b,token); if the page does not list the endpoint, send it with business.WithStandardAuthentication(ctx) (CLI: --standard-auth)",
			ErrFingerprintOrderUnknown, req.Method, path)
	}
	return plan{}, nil
}

// maxBody bounds the JSON body read for its fields.
const maxBody = 10 << 20

// values gathers the fingerprint's values of fields (in order) from a request's path
// parameters, query and JSON body; token is the internal token. An absent field is the
// empty string. A field given in two places with different values, twice in the query, or
// as a JSON object or array is an error wrapping ErrFingerprintFields.
func values(fields []string, params map[string]string, query map[string][]string, body []byte, token string) ([]string, error) {
	members, err := jsonMembers(body)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(fields))
	for i, f := range fields {
		if f == TokenField && i == len(fields)-1 {
			out[i] = token
			continue
		}
		var found []string
		if v, ok := params[f]; ok {
			found = append(found, unescapePath(v))
		}
		if q, ok := query[f]; ok {
			if len(q) > 1 {
				return nil, fmt.Errorf("%w: the query parameter %q is given %d times (a fingerprint covers one value)", ErrFingerprintFields, f, len(q))
			}
			found = append(found, q[0])
		}
		if raw, ok := members[f]; ok {
			v, err := scalar(f, raw)
			if err != nil {
				return nil, err
			}
			found = append(found, v)
		}
		for _, v := range found[min(1, len(found)):] {
			if v != found[0] {
				return nil, fmt.Errorf("%w: the field %q has different values in the path, query or body", ErrFingerprintFields, f)
			}
		}
		if len(found) > 0 {
			out[i] = found[0]
		}
	}
	return out, nil
}

// jsonMembers reads the top-level members of a JSON object body (none for an empty body).
func jsonMembers(body []byte) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return nil, fmt.Errorf("%w: the body is not a JSON object, so its fields cannot be read", ErrFingerprintFields)
	}
	return members, nil
}

// scalar is a JSON value as the fingerprint writes it: a string's text, a number as it is
// written in the body, true or false, and "" for null.
func scalar(name string, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: the field %q is not a valid JSON string", ErrFingerprintFields, name)
		}
		return s, nil
	case raw[0] == '{' || raw[0] == '[':
		return "", fmt.Errorf("%w: the field %q is a JSON object or array, not a value", ErrFingerprintFields, name)
	}
	return string(raw), nil
}

// unescapePath decodes a path segment's percent-escapes (the fingerprint covers the value,
// not its encoding); a malformed escape is kept as written.
func unescapePath(s string) string {
	if v, err := url.PathUnescape(s); err == nil {
		return v
	}
	return s
}

// Fingerprint is Soldo's X-Soldo-Fingerprint: the lowercase hex SHA-512 of the values
// concatenated with no separator (the last being the internal token).
func Fingerprint(values ...string) string {
	h := sha512.New()
	for _, v := range values {
		io.WriteString(h, v)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SignFingerprint is Soldo's X-Soldo-Fingerprint-Signature: base64 of the RSA PKCS#1 v1.5
// SHA-512 signature ("SHA512withRSA") of the fingerprint's hex string, made with key (an RSA
// key; any crypto.Signer, an HSM's or a KMS's included).
func SignFingerprint(key crypto.Signer, fingerprint string) (string, error) {
	sum := sha512.Sum512([]byte(fingerprint))
	sig, err := key.Sign(rand.Reader, sum[:], crypto.SHA512)
	if err != nil {
		return "", fmt.Errorf("finauth: soldo business: signing the fingerprint: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}
