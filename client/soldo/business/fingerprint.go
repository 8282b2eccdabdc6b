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
	"mime"
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

// Endpoints returns the fingerprint orders finauth knows: every operation of Soldo's OpenAPI
// description (the version OpenAPIVersion returns) that carries one, but the few whose order
// joins arrays. Give others with WithEndpoints or, per request, WithFingerprintOrder.
func Endpoints() []Endpoint {
	out := make([]Endpoint, len(documented))
	for i, e := range documented {
		out[i] = Endpoint{Method: e.Method, Path: e.Path, Fields: slices.Clone(e.Fields)}
	}
	return out
}

//go:generate go run ./internal/genorders soldo-business-api-v20.json
//
// orders.go holds the table: documented (the fingerprinted operations of Soldo's OpenAPI
// description, the one behind developer.soldo.com), standard (its operations without a
// fingerprint) and leftOut (fingerprinted operations whose order joins arrays in a way the
// description does not define). Regenerate it from a newer description with the command
// above.

// OpenAPIVersion is the version of Soldo's OpenAPI description the table of fingerprint
// orders was made from.
func OpenAPIVersion() string { return openAPIVersion }

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

// pattern is an operation of the table, split into segments for matching: Fields nil for
// one with standard authentication only, leftOut the reason an order cannot be applied.
type pattern struct {
	Endpoint
	leftOut, order string
	segs           []string
	literals       int  // segments that are not parameters: the more, the more specific
	user           bool // given with WithEndpoints: wins over the description
}

// table matches requests to operations, grouped by method and number of path segments so
// that a request compares itself with the few operations of its shape, not all of them.
type table struct {
	by map[shape][]pattern
}

type shape struct {
	method string
	segs   int
}

func (t *table) add(p pattern) {
	k := shape{p.Method, len(p.segs)}
	t.by[k] = append(t.by[k], p)
}

func newPattern(e Endpoint) pattern {
	p := pattern{Endpoint: Endpoint{Method: strings.ToUpper(e.Method), Path: e.Path, Fields: slices.Clone(e.Fields)}, segs: strings.Split(strings.Trim(e.Path, "/"), "/")}
	for _, s := range p.segs {
		if !isParam(s) {
			p.literals++
		}
	}
	return p
}

func isParam(seg string) bool { return len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' }

func newTable(extra []Endpoint) (table, error) {
	t := table{by: map[shape][]pattern{}}
	for _, e := range documented {
		t.add(newPattern(e))
	}
	for _, e := range standard {
		t.add(newPattern(Endpoint{Method: e.Method, Path: e.Path}))
	}
	for _, e := range leftOut {
		p := newPattern(Endpoint{Method: e.Method, Path: e.Path})
		p.leftOut, p.order = e.Reason, e.Order
		t.add(p)
	}
	for _, e := range extra {
		if err := checkOrder(e.Fields); err != nil {
			return table{}, fmt.Errorf("%s %s: %w", e.Method, e.Path, err)
		}
		if !strings.HasPrefix(e.Path, "/") {
			return table{}, fmt.Errorf("%s %s: the path pattern must start with /", e.Method, e.Path)
		}
		p := newPattern(e)
		p.user = true
		t.add(p)
	}
	return t, nil
}

// checkOrder reports what is wrong with a fingerprint order.
func checkOrder(fields []string) error {
	if len(fields) == 0 || fields[len(fields)-1] != TokenField {
		return fmt.Errorf(`%w: a fingerprint order ends with %q (the internal token), as Soldo's orders do`, ErrFingerprintFields, TokenField)
	}
	for _, f := range fields {
		if f == "" {
			return fmt.Errorf("%w: an empty field name in the fingerprint order", ErrFingerprintFields)
		}
	}
	return nil
}

// match returns the operation of method and path (one given with WithEndpoints first, then
// the most specific) and its path parameters.
func (t table) match(method, path string) (*pattern, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best *pattern
	candidates := t.by[shape{method, len(segs)}]
	for i := range candidates {
		p := &candidates[i]
		if !p.fits(segs) {
			continue
		}
		if best == nil || p.user && !best.user || p.user == best.user && p.literals > best.literals {
			best = p
		}
	}
	if best == nil {
		return nil, nil
	}
	params := map[string]string{}
	for j, s := range best.segs {
		if isParam(s) {
			params[s[1:len(s)-1]] = segs[j]
		}
	}
	return best, params
}

func (p *pattern) fits(segs []string) bool {
	for j, s := range p.segs {
		if !isParam(s) && s != segs[j] {
			return false
		}
	}
	return true
}

// plan is what a request needs: nil fields for standard authentication only.
type plan struct {
	fields []string
	params map[string]string
}

// needsAdvanced says whether a request to an endpoint the table does not know (one newer
// than the description) must carry a fingerprint: Soldo asks it of money movement, account
// changes and transactions.
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
		if p.leftOut != "" {
			return plan{}, fmt.Errorf("%w: %s %s: Soldo's order for it, %q, %s: give the fields it stands for with business.WithFingerprintOrder(ctx, fields...) (CLI: --fingerprint-order a,b,token)",
				ErrFingerprintOrderUnknown, req.Method, path, p.order, p.leftOut)
		}
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
// parameters, query and body (a JSON object, or a form when contentType says so); token is
// the internal token. A dotted name ("mileage.vehicle_id") is looked up in nested JSON
// objects. An absent field is the empty string. A field given in two places with different
// values, twice in the query or the form, or as a JSON object or array is an error wrapping
// ErrFingerprintFields.
func values(fields []string, params map[string]string, query map[string][]string, body []byte, contentType, token string) ([]string, error) {
	lookup, err := bodyFields(body, contentType)
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
		if v, ok, err := lookup(f); err != nil {
			return nil, err
		} else if ok {
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

// bodyFields returns the lookup of a body's fields: a form's, or a JSON object's.
func bodyFields(body []byte, contentType string) (func(string) (string, bool, error), error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return func(string) (string, bool, error) { return "", false, nil }, nil
	}
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("%w: the form body cannot be read: %v", ErrFingerprintFields, err)
		}
		return func(name string) (string, bool, error) {
			v, ok := form[name]
			if ok && len(v) > 1 {
				return "", false, fmt.Errorf("%w: the form field %q is given %d times (a fingerprint covers one value)", ErrFingerprintFields, name, len(v))
			}
			if !ok {
				return "", false, nil
			}
			return v[0], true, nil
		}, nil
	}
	members, err := jsonMembers(body)
	if err != nil {
		return nil, err
	}
	return func(name string) (string, bool, error) {
		raw, ok := members[name]
		if !ok && strings.Contains(name, ".") {
			raw, ok = nested(members, name)
		}
		if !ok {
			return "", false, nil
		}
		v, err := scalar(name, raw)
		return v, err == nil, err
	}, nil
}

// nested looks a dotted name up through JSON objects.
func nested(members map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	first, rest, _ := strings.Cut(name, ".")
	raw, ok := members[first]
	if !ok {
		return nil, false
	}
	var inner map[string]json.RawMessage
	if json.Unmarshal(raw, &inner) != nil || inner == nil {
		return nil, false
	}
	if v, ok := inner[rest]; ok {
		return v, true
	}
	if strings.Contains(rest, ".") {
		return nested(inner, rest)
	}
	return nil, false
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
