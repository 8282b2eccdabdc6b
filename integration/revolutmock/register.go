package revolutmock

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/finauth/finauth/integration/internal/mockhttp"
	"github.com/finauth/finauth/signer"
)

// Dynamic client registration, as Revolut's guide describes it: POST /register with a
// PS256 registration JWT (Content-Type application/jwt) over mutual TLS; GET, PUT and DELETE
// /register/{client_id} with a client-credentials token of the application (PUT also with
// the body's x-jws-signature). The registration JWT is verified with the key its kid names
// in the JWKS at the software statement's org_jwks_endpoint, fetched over HTTPS; that JWKS,
// as fetched and kept for Config.JWKSCacheTime, verifies the application's request objects
// and x-jws-signature from then on: a key rotation that signs with a key the kept JWKS does
// not hold yet is refused, as Revolut would.

// Registration paths.
const (
	RegisterPath          = "/register"
	DistinguishedNamePath = "/distinguished-name"
)

// Refusal reasons of /register.
const (
	ReasonSSA              = "software_statement"         // missing, not a JWT, not self-signed, no https org_jwks_endpoint
	ReasonJWKSFetch        = "jwks_fetch"                 // the JWKS could not be fetched or is not a JWKS
	ReasonX5C              = "x5c_missing"                // the signing key's JWK has no x5c
	ReasonKID              = "kid_unknown"                // the kid is not in the JWKS
	ReasonRegistrationJWT  = "registration_jwt"           // not PS256, no kid, not verifying, claims not JSON
	ReasonDN               = "tls_client_auth_dn"         // not the subject DN of the connection's certificate
	ReasonAudience         = "aud"                        // breaks ^[0-9a-zA-Z]{1,18}$
	ReasonAuthMethod       = "token_endpoint_auth_method" // not tls_client_auth
	ReasonTimes            = "iat_exp"                    // iat in the future, exp passed, or exp not after iat
	ReasonRegistrationAlgs = "signing_algs"               // id_token_signed_response_alg or request_object_signing_alg not PS256
	ReasonAppType          = "application_type"           // not web or mobile
)

// DefaultJWKSCacheTime is how long the mock keeps a JWKS it fetched.
const DefaultJWKSCacheTime = 5 * time.Minute

var audiencePattern = regexp.MustCompile(`^[0-9a-zA-Z]{1,18}$`)

// app is a registered application: the configured one (keys given) or one registered by
// DCR (keys from its JWKS URL, kept for JWKSCacheTime).
type app struct {
	id           string
	redirectURIs []string
	scopes       []string
	dn           string // "" for the configured application: any client certificate of the CA
	jwksURL      string
	answer       map[string]any

	mu      sync.Mutex
	ro, jws *signer.Verifier
	fetched time.Time
}

// verifiers returns the application's request-object and x-jws-signature verifiers,
// fetching its JWKS again once the kept one is older than the cache time.
func (m *Mock) verifiers(a *app) (ro, jws *signer.Verifier, problem string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.jwksURL != "" && (a.ro == nil || m.cfg.Now().Sub(a.fetched) >= m.cfg.JWKSCacheTime) {
		set, _, err := m.fetchJWKS(a.jwksURL)
		if err != nil {
			if a.ro == nil {
				return nil, nil, err.Error()
			}
		} else if a.ro, a.jws, err = verifiersOf(set); err != nil {
			return nil, nil, err.Error()
		} else {
			a.fetched = m.cfg.Now()
			m.mu.Lock()
			m.stats.JWKSFetches++
			m.mu.Unlock()
		}
	}
	return a.ro, a.jws, ""
}

func verifiersOf(set *signer.KeySet) (ro, jws *signer.Verifier, err error) {
	if ro, err = signer.NewVerifier(set, signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.PS256}}); err != nil {
		return nil, nil, err
	}
	jws, err = signer.NewVerifier(set, signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.PS256}, Critical: []string{TANHeader}})
	return ro, jws, err
}

// fetchJWKS gets a JWKS over HTTPS; raw is each key's JSON by kid.
func (m *Mock) fetchJWKS(u string) (*signer.KeySet, map[string]json.RawMessage, error) {
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "https" || pu.Host == "" {
		return nil, nil, fmt.Errorf("org_jwks_endpoint %q must be an https URL", u)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := m.jwksClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching the JWKS at %s: %v", u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("the JWKS at %s answered %d", u, resp.StatusCode)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Keys) == 0 {
		return nil, nil, fmt.Errorf("%s is not a JWKS with keys", u)
	}
	raw := map[string]json.RawMessage{}
	for _, k := range doc.Keys {
		var kid struct {
			KID string `json:"kid"`
		}
		json.Unmarshal(k, &kid)
		raw[kid.KID] = k
	}
	set, err := signer.ParsePublicKeys(data)
	if err != nil {
		return nil, nil, fmt.Errorf("the JWKS at %s: %v", u, err)
	}
	return set, raw, nil
}

// app returns the application of a client ID.
func (m *Mock) app(id string) *app {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.apps[id]
}

// peerDN is the subject DN of the connection's client certificate, as Go writes it
// (RFC 2253 order).
func peerDN(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].Subject.String()
}

// distinguishedName answers the DN of the connection's certificate, as Revolut's
// /distinguished-name does.
func (m *Mock) distinguishedName(w http.ResponseWriter, r *http.Request) {
	mockhttp.WriteJSON(w, http.StatusOK, map[string]string{"tls_client_auth_dn": peerDN(r)})
}

type registrationClaims struct {
	Iss                      string   `json:"iss"`
	Iat                      *int64   `json:"iat"`
	Exp                      *int64   `json:"exp"`
	Aud                      any      `json:"aud"`
	Scope                    any      `json:"scope"`
	RedirectURIs             []string `json:"redirect_uris"`
	TokenEndpointAuthMethod  string   `json:"token_endpoint_auth_method"`
	ApplicationType          string   `json:"application_type"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg"`
	RequestObjectSigningAlg  string   `json:"request_object_signing_alg"`
	TLSClientAuthDN          string   `json:"tls_client_auth_dn"`
	SoftwareStatement        string   `json:"software_statement"`
}

// registration is a registration JWT that passed every rule: its claims, scopes, JWKS URL
// and the verifiers of that JWKS as fetched.
type registration struct {
	claims  registrationClaims
	scopes  []string
	jwksURL string
	ro, jws *signer.Verifier
}

// checkRegistration verifies a registration JWT sent on r's connection: every rule of
// Revolut's guide. It returns the registration, or the reason and what is wrong.
func (m *Mock) checkRegistration(r *http.Request, jwt string) (reg *registration, reason, msg string) {
	var c registrationClaims
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, ReasonRegistrationJWT, "the body must be a compact JWT"
	}
	var hdr struct {
		Alg, Kid string
	}
	if hb, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil || json.Unmarshal(hb, &hdr) != nil {
		return nil, ReasonRegistrationJWT, "the JWT header is not base64url JSON"
	}
	if hdr.Alg != "PS256" || hdr.Kid == "" {
		return nil, ReasonRegistrationJWT, `the JWT header must be {"kid": ..., "alg": "PS256"}`
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(pb, &c) != nil {
		return nil, ReasonRegistrationJWT, "the JWT claims are not a base64url JSON object"
	}
	// The software statement: self-signed (alg none), naming the JWKS.
	ssa := strings.Split(c.SoftwareStatement, ".")
	if len(ssa) != 3 {
		return nil, ReasonSSA, "software_statement must be a JWT"
	}
	var sh struct{ Alg string }
	var sp struct {
		JWKS, OrgName, ClientName string
	}
	shb, err1 := base64.RawURLEncoding.DecodeString(ssa[0])
	spb, err2 := base64.RawURLEncoding.DecodeString(ssa[1])
	var spm map[string]any
	if err1 != nil || err2 != nil || json.Unmarshal(shb, &sh) != nil || json.Unmarshal(spb, &spm) != nil {
		return nil, ReasonSSA, "the software statement's header and payload must be base64url JSON"
	}
	sp.JWKS, _ = spm["org_jwks_endpoint"].(string)
	sp.OrgName, _ = spm["org_name"].(string)
	sp.ClientName, _ = spm["software_client_name"].(string)
	switch {
	case sh.Alg != "none" || ssa[2] != "":
		return nil, ReasonSSA, `this mock takes self-signed software statements only (header {"alg":"none"}, no signature), as Revolut's sandbox`
	case sp.JWKS == "":
		return nil, ReasonSSA, "the software statement has no org_jwks_endpoint"
	case sp.OrgName == "" && sp.ClientName == "":
		return nil, ReasonSSA, "the software statement needs org_name or software_client_name"
	}
	set, raw, err := m.fetchJWKS(sp.JWKS)
	if err != nil {
		return nil, ReasonJWKSFetch, err.Error()
	}
	k, ok := raw[hdr.Kid]
	if !ok {
		return nil, ReasonKID, fmt.Sprintf("kid %q is not in the JWKS at %s", hdr.Kid, sp.JWKS)
	}
	var x5c struct {
		X5C []string `json:"x5c"`
	}
	if json.Unmarshal(k, &x5c) != nil || len(x5c.X5C) == 0 {
		return nil, ReasonX5C, fmt.Sprintf("the JWK of kid %q has no x5c: Revolut needs the signing certificate chain", hdr.Kid)
	}
	ro, jws, err := verifiersOf(set)
	if err != nil {
		return nil, ReasonJWKSFetch, err.Error()
	}
	if _, err := ro.Verify(jwt); err != nil {
		return nil, ReasonRegistrationJWT, "the registration JWT does not verify with its kid's key: " + err.Error()
	}
	now := m.cfg.Now().Unix()
	scope, _ := c.Scope.(string)
	if list, ok := c.Scope.([]any); ok { // the form before 23 March 2026
		for _, s := range list {
			v, _ := s.(string)
			scope += " " + v
		}
	}
	aud, _ := c.Aud.(string)
	switch {
	case c.Iat == nil || c.Exp == nil:
		return nil, ReasonTimes, "iat and exp are required"
	case *c.Iat > now+60:
		return nil, ReasonTimes, "iat is in the future"
	case *c.Exp <= now:
		return nil, ReasonTimes, "the registration JWT has expired (exp)"
	case *c.Exp <= *c.Iat:
		return nil, ReasonTimes, "exp must be after iat"
	case !audiencePattern.MatchString(aud):
		return nil, ReasonAudience, "aud must match ^[0-9a-zA-Z]{1,18}$ (Revolut suggests revolut)"
	case !slices.Contains(strings.Fields(scope), "openid"):
		return nil, ReasonScope, "scope must include openid"
	case c.TokenEndpointAuthMethod != "tls_client_auth":
		return nil, ReasonAuthMethod, "token_endpoint_auth_method must be tls_client_auth (the only one supported)"
	case c.IDTokenSignedResponseAlg != "PS256" || c.RequestObjectSigningAlg != "PS256":
		return nil, ReasonRegistrationAlgs, "id_token_signed_response_alg and request_object_signing_alg must be PS256"
	case c.ApplicationType != "web" && c.ApplicationType != "mobile":
		return nil, ReasonAppType, "application_type must be web or mobile"
	case c.TLSClientAuthDN != peerDN(r):
		return nil, ReasonDN, fmt.Sprintf("tls_client_auth_dn %q is not the subject DN of this connection's certificate (GET %s says which)", c.TLSClientAuthDN, DistinguishedNamePath)
	case len(c.RedirectURIs) == 0:
		return nil, ReasonRedirectURI, "redirect_uris must list at least one URI"
	}
	for _, u := range c.RedirectURIs {
		if pu, err := url.Parse(u); err != nil || pu.Scheme == "" || pu.Host == "" {
			return nil, ReasonRedirectURI, fmt.Sprintf("redirect URI %q is not absolute", u)
		}
	}
	return &registration{claims: c, scopes: strings.Fields(scope), jwksURL: sp.JWKS, ro: ro, jws: jws}, "", ""
}

// accept checks the registration JWT in body, refusing it with its reason.
func (m *Mock) accept(w http.ResponseWriter, r *http.Request, body []byte) (*registration, bool) {
	reg, reason, msg := m.checkRegistration(r, strings.TrimSpace(string(body)))
	if reason != "" {
		m.refuse(w, http.StatusBadRequest, reason, "%s", msg)
		return nil, false
	}
	return reg, true
}

// register serves POST /register.
func (m *Mock) register(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/jwt") {
		m.refuse(w, http.StatusBadRequest, ReasonBadRequest, "Content-Type must be application/jwt, not %q", ct)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	reg, ok := m.accept(w, r, body)
	if !ok {
		return
	}
	id := randomID("client-")
	m.mu.Lock()
	if m.nextClientID != "" {
		id, m.nextClientID = m.nextClientID, ""
	}
	m.mu.Unlock()
	a := &app{id: id, redirectURIs: reg.claims.RedirectURIs, scopes: reg.scopes, dn: reg.claims.TLSClientAuthDN,
		jwksURL: reg.jwksURL, ro: reg.ro, jws: reg.jws, fetched: m.cfg.Now()}
	a.answer = registrationAnswer(a, reg.claims)
	m.mu.Lock()
	m.apps[a.id] = a
	m.stats.Registered++
	m.stats.JWKSFetches++
	m.mu.Unlock()
	mockhttp.WriteJSON(w, http.StatusCreated, a.answer)
}

func registrationAnswer(a *app, c registrationClaims) map[string]any {
	return map[string]any{
		"client_id": a.id, "iss": c.Iss, "iat": c.Iat, "exp": c.Exp, "application_type": c.ApplicationType,
		"token_endpoint_auth_method": c.TokenEndpointAuthMethod, "tls_client_auth_dn": c.TLSClientAuthDN,
		"id_token_signed_response_alg": c.IDTokenSignedResponseAlg, "request_object_signing_alg": c.RequestObjectSigningAlg,
		"redirect_uris": c.RedirectURIs, "scope": a.scopes, "org_jwks_endpoint": a.jwksURL, "software_statement": c.SoftwareStatement,
	}
}

// registration serves GET, PUT and DELETE /register/{client_id}: the application's own
// client-credentials token (any scope), on a connection with its certificate.
func (m *Mock) registration(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, RegisterPath+"/")
	a := m.app(id)
	t, ok := m.bearer(w, r)
	if !ok {
		return
	}
	if a == nil || t.client != id || t.scope == "user" {
		m.refuse(w, http.StatusForbidden, ReasonWrongToken, "a client-credentials token of the application %s is needed", id)
		return
	}
	switch r.Method {
	case http.MethodGet:
		m.mu.Lock()
		ans := a.answer
		m.mu.Unlock()
		mockhttp.WriteJSON(w, http.StatusOK, ans)
	case http.MethodDelete:
		m.mu.Lock()
		delete(m.apps, id)
		m.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if reason := m.verifyJWSFor(a, r.Header.Get("x-jws-signature"), body); reason != "" {
			m.refuse(w, http.StatusBadRequest, ReasonJWS, "%s", reason)
			return
		}
		reg, ok := m.accept(w, r, body)
		if !ok {
			return
		}
		a.mu.Lock()
		a.ro, a.jws, a.fetched = reg.ro, reg.jws, m.cfg.Now()
		a.mu.Unlock()
		m.mu.Lock()
		a.redirectURIs, a.scopes, a.jwksURL = reg.claims.RedirectURIs, reg.scopes, reg.jwksURL
		a.answer = registrationAnswer(a, reg.claims)
		ans := a.answer
		m.mu.Unlock()
		mockhttp.WriteJSON(w, http.StatusOK, ans)
	default:
		m.refuse(w, http.StatusMethodNotAllowed, ReasonBadRequest, "use GET, PUT or DELETE on %s/{client_id}", RegisterPath)
	}
}

// jwksHTTPClient fetches JWKS over HTTPS trusting roots (nil: the system's).
func jwksHTTPClient(roots *x509.CertPool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t, Timeout: 10 * time.Second}
}
