// Package pismomock is a strict Pismo server for tests, importable like httptest: a token
// endpoint that verifies every JWT the way Pismo would refuse it, opaque access tokens,
// API routes that need them, fault injection and counters.
//
//	m, _ := pismomock.NewServer(pismomock.Config{Keys: keys, Issuer: "...", ...})
//	defer m.Close()
//	// m.TokenURL(), m.URL
package pismomock

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/finauth/finauth/integration/internal/mockhttp"
	"github.com/finauth/finauth/signer"
)

// TokenPath is where Pismo's token endpoint lives.
const TokenPath = "/passport/v1/oauth2/token"

// Shape is the response shape of the token endpoint.
type Shape int

const (
	// AccessTokenCreated (the default): {"access_token", "refresh_token", "expires_in":
	// "<string>"} with 201. A public Pismo client library (udhos/oidcpismo) accepts only
	// this, which suggests it is what the real endpoint answers.
	AccessTokenCreated Shape = iota
	// Documented: the same body with 200, as Pismo's documentation shows it.
	Documented
	// TokenCreated: {"token", "expires_in": <number>} with 201, as another client reads it.
	TokenCreated
)

// Rejection reasons, used in answers and counters.
const (
	ReasonBadRequest      = "bad_request"               // body is not {"token": "..."}
	ReasonMalformedJWT    = "malformed_jwt"             // not a compact JWS
	ReasonAlgorithm       = "algorithm"                 // alg is not RS256
	ReasonUnknownKey      = "unknown_key"               // kid not registered
	ReasonSignature       = "signature"                 // does not verify
	ReasonIssuer          = "iss"                       // iss differs
	ReasonSubject         = "sub"                       // sub differs
	ReasonAudience        = "aud"                       // aud differs
	ReasonAudienceNotStr  = "aud_not_string"            // aud is an array or not a string
	ReasonTenant          = "tenant_id"                 // tenant_id differs
	ReasonGroup           = "pismo.group"               // pismo.group differs or missing
	ReasonIssuedAt        = "iat"                       // iat missing or outside the skew
	ReasonExpiry          = "exp"                       // exp missing, not after iat, or more than 3600 s after it
	ReasonNoAccount       = "uid"                       // neither uid nor external_account_id
	ReasonInjectedFailure = "injected_failure"          // FailTokens fault
	ReasonNoToken         = mockhttp.ReasonNoToken      // API call without a bearer token
	ReasonInvalidToken    = mockhttp.ReasonInvalidToken // unknown token
	ReasonExpiredToken    = mockhttp.ReasonExpiredToken // token past its lifetime
	ReasonRevokedToken    = mockhttp.ReasonRevokedToken // token revoked
	ReasonInjected401     = mockhttp.ReasonInjected401  // Fail401 fault
	ReasonWrongAccount    = "wrong_account"             // /accounts/{id} with another account's token
)

// Config configures the mock. Keys and the claim values are required.
type Config struct {
	Keys                                       *signer.KeySet
	Issuer, Subject, Audience, TenantID, Group string
	// Skew is how far iat may be from the server's clock; default 60s.
	Skew time.Duration
	// TokenLifetime of issued access tokens; default 1h.
	TokenLifetime time.Duration
	// Shape of token answers; default AccessTokenCreated.
	Shape Shape
	// Now is the server clock; default time.Now.
	Now func() time.Time
	// OnReject, when set, is told about every refused token request or API call.
	OnReject func(reason, message string)

	// Clients are the OAuth 2.0 clients of OAuth2Path: client ID (the server key) to its
	// secret. None: the endpoint refuses every client.
	Clients map[string]string
	// ServerKeys are the legacy logins of BasicPath: server key to its secret key.
	ServerKeys map[string]string
	// BasicSecretField is the member of the legacy login that carries the secret key:
	// "secret_key" (default, as Pismo's page shows the login) or "server_secret". A login
	// that sends it under the other name is refused for that reason (ReasonBadLogin).
	BasicSecretField string
	// Scopes are the permission groups OAuth 2.0 tokens may have; default DefaultScopes.
	Scopes []string
	// Accounts are the accounts an OAuth 2.0 or legacy token may be for (uid, account_id);
	// nil: any.
	Accounts []string
}

// DefaultScopes are Pismo's permission groups the mock knows by default.
var DefaultScopes = []string{"pismo-v1:accounts:rw", "pismo-v1:cards:rw", "pismo-v1:bankaccounts:rw", "pismo-v1:payments:rw", "pismo-v1:transactions:ro"}

// Stats are the mock's counters.
type Stats struct {
	Exchanges  int            // tokens issued
	Rejections map[string]int // token requests refused, by reason
	APICalls   map[int]int    // API answers by status
	APIDenials map[string]int // API refusals by reason
	Revoked    int            // tokens revoked after RevokeEvery uses
}

// Mock is the Pismo mock as an http.Handler; Server wraps it in a loopback server.
type Mock struct {
	cfg        Config
	verifier   *signer.Verifier
	rejections *mockhttp.Rejections // token requests refused
	apiDenials *mockhttp.Rejections // API calls refused

	// Faults: FailTokens, SetLatency, Fail401.
	mockhttp.Faults

	mu          sync.Mutex
	tokens      map[string]*issued
	stats       Stats
	revokeEvery int
}

type issued struct {
	mockhttp.Grant
	tenant, uid, external string
	scopes                []string // OAuth 2.0 tokens: the permission groups; nil: every path
}

// grant is the Grant of an issued token, nil for none (Judge's lookup). m.mu is held.
func (m *Mock) grant(tok string) *mockhttp.Grant {
	if t := m.tokens[tok]; t != nil {
		return &t.Grant
	}
	return nil
}

// Server is a Mock listening on loopback.
type Server struct {
	*Mock
	mockhttp.Served
}

// NewServer starts a Mock on a loopback port.
func NewServer(cfg Config) (*Server, error) {
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Server{Mock: m, Served: mockhttp.Serve(m, TokenPath, nil)}, nil
}

// New returns the Mock handler.
func New(cfg Config) (*Mock, error) {
	if cfg.Keys == nil || cfg.Keys.Len() == 0 {
		return nil, errors.New("pismomock: Config.Keys is required")
	}
	for name, v := range map[string]string{"Issuer": cfg.Issuer, "Subject": cfg.Subject, "Audience": cfg.Audience, "TenantID": cfg.TenantID, "Group": cfg.Group} {
		if v == "" {
			return nil, fmt.Errorf("pismomock: Config.%s is required", name)
		}
	}
	if cfg.Skew <= 0 {
		cfg.Skew = time.Minute
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Scopes == nil {
		cfg.Scopes = DefaultScopes
	}
	v, err := signer.NewVerifier(cfg.Keys, signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.RS256}})
	if err != nil {
		return nil, err
	}
	return &Mock{cfg: cfg, verifier: v, tokens: map[string]*issued{},
		rejections: mockhttp.NewRejections(cfg.OnReject), apiDenials: mockhttp.NewRejections(cfg.OnReject),
		stats: Stats{APICalls: map[int]int{}}}, nil
}

// ServeHTTP routes the token endpoint and the API.
func (m *Mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !m.Delay(r) {
		return
	}
	switch r.URL.Path {
	case TokenPath:
		m.token(w, r)
		return
	case OAuth2Path:
		m.oauth2(w, r)
		return
	case BasicPath:
		m.basic(w, r)
		return
	}
	m.api(w, r)
}

func (m *Mock) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		m.rejections.Refuse(w, http.StatusMethodNotAllowed, ReasonBadRequest, "POST only")
		return
	}
	if status, ra, fail := m.TokenFailure(); fail {
		mockhttp.SetRetryAfter(w, ra)
		m.rejections.Refuse(w, status, ReasonInjectedFailure, "injected failure")
		return
	}
	var req struct {
		Token string `json:"token"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil || json.Unmarshal(body, &req) != nil || req.Token == "" {
		m.rejections.Refuse(w, http.StatusBadRequest, ReasonBadRequest, `the body must be {"token":"<jwt>"}`)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		m.rejections.Refuse(w, http.StatusBadRequest, ReasonBadRequest, "Content-Type must be application/json")
		return
	}
	claims, status, reason, msg := m.check(req.Token)
	if reason != "" {
		m.rejections.Refuse(w, status, reason, msg)
		return
	}
	now := m.cfg.Now()
	tok := newOpaque()
	m.mu.Lock()
	m.tokens[tok] = &issued{tenant: claims.TenantID, uid: claims.UID, external: claims.ExternalAccountID, Grant: mockhttp.Grant{Expires: now.Add(m.cfg.TokenLifetime)}}
	m.stats.Exchanges++
	m.mu.Unlock()
	secs := int(m.cfg.TokenLifetime / time.Second)
	switch m.cfg.Shape {
	case TokenCreated:
		mockhttp.WriteJSON(w, http.StatusCreated, map[string]any{"token": tok, "expires_in": secs})
	case Documented:
		mockhttp.WriteJSON(w, http.StatusOK, map[string]any{"access_token": tok, "refresh_token": newOpaque(), "expires_in": strconv.Itoa(secs)})
	default:
		mockhttp.WriteJSON(w, http.StatusCreated, map[string]any{"access_token": tok, "refresh_token": newOpaque(), "expires_in": strconv.Itoa(secs)})
	}
}

// claims are the JWT claims the mock reads; raw fields keep their JSON types for the checks.
type claims struct {
	Iss, Sub, TenantID, UID, ExternalAccountID string
}

// check verifies a JWT strictly and returns its claims or the reason to refuse it.
func (m *Mock) check(jwt string) (claims, int, string, string) {
	v, err := m.verifier.Verify(jwt)
	if err != nil {
		switch {
		case errors.Is(err, signer.ErrUnknownKeyID):
			return claims{}, 401, ReasonUnknownKey, "the JWT's kid is not a registered key"
		case errors.Is(err, signer.ErrAlgNone), errors.Is(err, signer.ErrAlgHMAC), errors.Is(err, signer.ErrAlgNotAllowed):
			return claims{}, 401, ReasonAlgorithm, "the JWT must be signed with RS256 by the registered key"
		case errors.Is(err, signer.ErrInvalidSignature):
			return claims{}, 401, ReasonSignature, "the JWT signature does not verify with the registered public key"
		}
		return claims{}, 400, ReasonMalformedJWT, "the token is not a well-formed JWT"
	}
	var raw map[string]json.RawMessage
	if err := v.Claims(&raw); err != nil {
		return claims{}, 400, ReasonMalformedJWT, "the JWT payload is not a JSON object"
	}
	str := func(name string) (string, bool) {
		var s string
		r, ok := raw[name]
		if !ok || json.Unmarshal(r, &s) != nil {
			return "", false
		}
		return s, true
	}
	num := func(name string) (int64, bool) {
		var n json.Number
		r, ok := raw[name]
		if !ok || json.Unmarshal(r, &n) != nil {
			return 0, false
		}
		i, err := n.Int64()
		return i, err == nil
	}
	var c claims
	var ok bool
	if c.Iss, ok = str("iss"); !ok || c.Iss != m.cfg.Issuer {
		return c, 400, ReasonIssuer, "iss must be the issuer provided by Pismo"
	}
	if c.Sub, ok = str("sub"); !ok || c.Sub != m.cfg.Subject {
		return c, 400, ReasonSubject, "sub must be the subject provided by Pismo"
	}
	aud, isStr := str("aud")
	if !isStr {
		return c, 400, ReasonAudienceNotStr, "aud must be a single string, not an array"
	}
	if aud != m.cfg.Audience {
		return c, 400, ReasonAudience, "aud must be the audience provided by Pismo"
	}
	if c.TenantID, ok = str("tenant_id"); !ok || c.TenantID != m.cfg.TenantID {
		return c, 400, ReasonTenant, "tenant_id must be your tenant (org) ID"
	}
	var p struct {
		Group string `json:"group"`
	}
	if json.Unmarshal(raw["pismo"], &p) != nil || p.Group != m.cfg.Group {
		return c, 400, ReasonGroup, "pismo.group must be the group granted to you"
	}
	now := m.cfg.Now().Unix()
	iat, ok := num("iat")
	if !ok || math.Abs(float64(iat-now)) > m.cfg.Skew.Seconds() {
		return c, 400, ReasonIssuedAt, "iat must be now (Unix seconds) within the allowed clock skew"
	}
	exp, ok := num("exp")
	if !ok || exp <= iat || exp-iat > 3600 {
		return c, 400, ReasonExpiry, "exp must be after iat and at most 3600 seconds after it"
	}
	c.UID, _ = str("uid")
	c.ExternalAccountID, _ = str("external_account_id")
	if c.UID == "" && c.ExternalAccountID == "" {
		return c, 400, ReasonNoAccount, "uid (or external_account_id) is required"
	}
	return c, 0, "", ""
}

// api serves every path but the token endpoint: it needs a valid token, and
// /accounts/{id}... needs that account's token. It echoes what it received.
func (m *Mock) api(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	sum := sha256.Sum256(body)
	now := m.cfg.Now()
	m.mu.Lock()
	tok, reason := mockhttp.Judge(r, now, m.grant, m.Take401)
	status, t := http.StatusOK, m.tokens[tok]
	if reason != "" {
		status = http.StatusUnauthorized
	}
	if status == http.StatusOK {
		if id, ok := accountOf(r.URL.Path); ok && t.uid != id && t.external != id {
			status, reason = http.StatusForbidden, ReasonWrongAccount
		}
	}
	if status == http.StatusOK && t.scopes != nil && !covers(t.scopes, r.URL.Path) {
		status, reason = http.StatusForbidden, ReasonInsufficientScope
	}
	if status == http.StatusOK {
		if t.Uses++; m.revokeEvery > 0 && t.Uses >= m.revokeEvery {
			t.Revoked = true // this use is answered; the next gets 401
			m.stats.Revoked++
		}
	}
	m.stats.APICalls[status]++
	var uid, external string
	if t != nil {
		uid, external = t.uid, t.external
	}
	m.mu.Unlock()
	if reason != "" {
		m.apiDenials.Refuse(w, status, reason, "API call refused ("+r.Method+" "+r.URL.Path+")")
		return
	}
	mockhttp.WriteJSON(w, http.StatusOK, Echo{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, BodySHA256: hex.EncodeToString(sum[:]), UID: uid, ExternalAccountID: external})
}

// Echo is what an API route answers: what it received and whose token it was.
type Echo struct {
	Method            string `json:"method"`
	Path              string `json:"path"`
	Query             string `json:"query,omitempty"`
	BodySHA256        string `json:"body_sha256"`
	UID               string `json:"uid,omitempty"`
	ExternalAccountID string `json:"external_account_id,omitempty"`
}

// accountOf returns the {id} of /accounts/{id}..., also under a version prefix.
func accountOf(path string) (string, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "accounts" && parts[i+1] != "" {
			return parts[i+1], true
		}
	}
	return "", false
}

// RevokeAll revokes every token issued so far (they get 401 from now on) and returns how
// many of them were still live.
func (m *Mock) RevokeAll() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	n := 0
	for _, t := range m.tokens {
		if t.Live(now) {
			n++
		}
		t.Revoked = true
	}
	return n
}

// RevokeEvery revokes each token after its n-th successful API use (a token then lives n
// uses, however many clients share it); 0 turns it off.
func (m *Mock) RevokeEvery(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revokeEvery = n
}

// Revoke revokes one token.
func (m *Mock) Revoke(token string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.tokens[token]; ok && !t.Revoked {
		t.Revoked = true
		return true
	}
	return false
}

// Stats returns a copy of the counters.
func (m *Mock) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Exchanges: m.stats.Exchanges, Rejections: m.rejections.Counts(), APICalls: map[int]int{}, APIDenials: m.apiDenials.Counts(), Revoked: m.stats.Revoked}
	for k, v := range m.stats.APICalls {
		s.APICalls[k] = v
	}
	return s
}

func newOpaque() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "pismo_" + hex.EncodeToString(b)
}
