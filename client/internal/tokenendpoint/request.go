package tokenendpoint

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/finauth/finauth/signer"
)

// Request is one token request as a provider builds it: the parameters of its body, its
// headers and, when it carries a JWT signed for each attempt (a client assertion, Pismo's
// exchanged JWT), what that JWT is made of. The same value is what is sent ([Endpoint.Token],
// [Endpoint.Send]) and what names the client's tokens in a shared store
// ([Endpoint.Identity]), so that nothing that reaches a token request can be missing from
// the identity: there is no second list of fields to keep.
type Request struct {
	// Form holds the parameters of a form body (application/x-www-form-urlencoded).
	Form url.Values
	// JSON, when set, is the body instead: a JSON object (application/json).
	JSON map[string]any
	// Header holds extra request headers (Authorization for client_secret_basic).
	Header http.Header
	// JWT, when set, is signed afresh for every attempt, retries included (a client assertion
	// must have a new jti every time: servers refuse a replayed one), and put in the body
	// under JWT.Field.
	JWT *JWT
	// DPoP, when set, makes a DPoP proof (RFC 9449) for every attempt, in the DPoP header,
	// and learns the server's nonce (a 400 use_dpop_nonce is sent again once with it). Its
	// key's thumbprint is part of the identity: tokens bound to one key are never another's.
	DPoP Prover
	// Once marks a request that must not reach the server twice: a refresh grant, whose
	// refresh token a server may rotate on first use (and then treat a second use as theft).
	// It is sent again only when the first attempt surely did not reach the server (no
	// connection could be made), never after an answer was lost.
	Once bool
}

// Prover makes DPoP proofs (signer/dpop.Prover).
type Prover interface {
	Proof(method, url, accessToken string) (string, error)
	SetNonce(url, nonce string)
	Thumbprint() string
}

// String names the request's parameters and headers, never their values (client secrets,
// refresh tokens, authorization codes).
func (r Request) String() string {
	var names []string
	for k := range r.Form {
		names = append(names, k)
	}
	for k := range r.JSON {
		names = append(names, k)
	}
	for k := range r.Header {
		names = append(names, "header "+k)
	}
	if r.JWT != nil {
		names = append(names, r.JWT.Field+" (a JWT)")
	}
	if r.DPoP != nil {
		names = append(names, "header DPoP (a proof)")
	}
	slices.Sort(names)
	return "tokenendpoint.Request(" + strings.Join(names, ", ") + ")"
}

// Format keeps every fmt verb on String.
func (r Request) Format(f fmt.State, _ rune) { fmt.Fprint(f, r.String()) }

// LogValue keeps slog output on String.
func (r Request) LogValue() slog.Value { return slog.StringValue(r.String()) }

// JWT is a JWT a token request carries, signed for each attempt.
type JWT struct {
	// Field is the body parameter that carries it ("client_assertion", "token").
	Field string
	// Signer signs it; its header and its key's thumbprint are part of the identity.
	Signer *signer.Signer
	// Claims returns the claims of the JWT made at now with the unique ID id (a provider
	// whose JWT has no jti ignores it). It depends on nothing else: called with a fixed
	// instant, it gives the claims that name the client.
	Claims func(now time.Time, id string) any
}

// body makes the Content-Type and body of one attempt at now.
func (r Request) body(now time.Time) (contentType string, body []byte, err error) {
	form, obj := r.Form, r.JSON
	if r.JWT != nil {
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			return "", nil, err
		}
		jwt, err := r.JWT.Signer.SignJWT(r.JWT.Claims(now, base64.RawURLEncoding.EncodeToString(id[:])))
		if err != nil {
			return "", nil, fmt.Errorf("signing the JWT: %w", err)
		}
		if obj != nil {
			obj = maps.Clone(obj)
			obj[r.JWT.Field] = jwt
		} else {
			form = cloneValues(form)
			form.Set(r.JWT.Field, jwt)
		}
	}
	if obj != nil {
		b, err := json.Marshal(obj)
		return "application/json", b, err
	}
	return "application/x-www-form-urlencoded", []byte(form.Encode()), nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+1)
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// identityEpoch is the instant at which a request's JWT claims are taken for its identity:
// any fixed instant, so that the claims' lifetime (exp - iat) counts and the date does not.
var identityEpoch = time.Unix(0, 0)

// Identity names the client whose tokens reqs get, for a shared store (tokencache.Scope):
// the hex SHA-256 of a canonical encoding of everything that reaches the token requests,
// taken from the requests as they are sent: the provider, the token URL, the client
// certificates the token client presents (RFC 8705 binds tokens to them), and for each
// request its body parameters, headers (secrets included: only the hash leaves this
// function) and JWT (its protected header, its key's RFC 7638 thumbprint, and its claims
// at a fixed instant). Two configurations that would send different token requests get
// different identities, so a shared store never hands one's token to the other; a new key
// or secret costs one token request.
func (te *Endpoint) Identity(reqs ...Request) string {
	type jwtID struct {
		Field, Header, Key string
		Claims             any
	}
	type requestID struct {
		Form   url.Values
		JSON   map[string]any
		Header http.Header
		JWT    *jwtID
		DPoP   string // the DPoP key's thumbprint
	}
	id := struct {
		Provider, URL string
		Certificates  []string
		Requests      []requestID
	}{Provider: te.provider, URL: te.url, Certificates: te.certs}
	for _, r := range reqs {
		rid := requestID{Form: r.Form, JSON: r.JSON, Header: r.Header}
		if r.DPoP != nil {
			rid.DPoP = r.DPoP.Thumbprint()
		}
		if r.JWT != nil {
			rid.JWT = &jwtID{Field: r.JWT.Field, Header: r.JWT.Signer.JWTHeader(), Key: r.JWT.Signer.Public().Thumbprint(),
				Claims: r.JWT.Claims(identityEpoch, "")}
		}
		id.Requests = append(id.Requests, rid)
	}
	b, err := json.Marshal(id) // maps are written in key order: one encoding per request
	if err != nil {
		// A value json cannot encode (a channel in custom claims) never reaches a request
		// either: the body fails alike. Still, the identity must not merge two clients.
		b = fmt.Appendf(nil, "%#v", id)
	}
	sum := sha256.Sum256(b)
	return te.provider + ":" + hex.EncodeToString(sum[:])
}

// PresentsCertificates names the client certificates the token requests present, for the
// identity, when the provider knows them from its configuration: a token HTTP client whose
// transport is wrapped (the CLI's -v, otelhttp) cannot be looked into, and the same
// configuration must have the same identity whatever wraps its transport.
func (te *Endpoint) PresentsCertificates(c *tls.Config) { te.certs = certificatesOf(c) }

// clientCertificates are the SHA-256 of the client certificates hc presents, as far as its
// transport says (an *http.Transport's TLSClientConfig.Certificates; a certificate chosen
// by GetClientCertificate is named by that marker alone).
func clientCertificates(hc *http.Client) []string {
	t, ok := hc.Transport.(*http.Transport)
	if !ok || t.TLSClientConfig == nil {
		return nil
	}
	return certificatesOf(t.TLSClientConfig)
}

func certificatesOf(c *tls.Config) []string {
	var out []string
	for _, cert := range c.Certificates {
		if len(cert.Certificate) > 0 {
			sum := sha256.Sum256(cert.Certificate[0])
			out = append(out, hex.EncodeToString(sum[:]))
		}
	}
	if c.GetClientCertificate != nil {
		out = append(out, "GetClientCertificate")
	}
	return out
}
