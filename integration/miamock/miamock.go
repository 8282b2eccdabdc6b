// Package miamock is a strict Mia-Platform client-credentials server for tests, importable
// like httptest: a client registry fed with public JWKs, a token endpoint that verifies
// every client assertion the way the real service refuses it (RFC 7523 private_key_jwt,
// or a client secret), opaque access tokens, an API that needs them, fault injection and
// counters.
//
//	m, _ := miamock.NewServer(miamock.Config{Issuer: "https://auth.example"})
//	m.Register("my-client", jwkJSON)
//	defer m.Close() // m.TokenURL(), m.URL
package miamock

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/finauth/finauth/integration/internal/mockhttp"
	"github.com/finauth/finauth/signer"
)

// TokenPath is where the token endpoint lives.
const TokenPath = "/oauth/token"

// AssertionType is the only client_assertion_type accepted.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Refusal reasons: the start of an error_description, and the counters' keys.
const (
	ReasonBadRequest      = "bad_request"               // not a form POST, or a parameter missing
	ReasonGrantType       = "grant_type"                // not client_credentials
	ReasonAssertionType   = "assertion_type"            // client_assertion_type is not the JWT bearer URN
	ReasonUnknownClient   = "unknown_client"            // client_id (or iss) not registered
	ReasonClientID        = "client_id"                 // client_id differs from the assertion's iss/sub
	ReasonAuthMethod      = "auth_method"               // token_endpoint_auth_method is not private_key_jwt
	ReasonSecretAlongside = "secret_alongside"          // a client secret sent with an assertion
	ReasonSecret          = "client_secret"             // wrong or missing client secret
	ReasonMalformed       = "malformed_jwt"             // not a compact JWS
	ReasonUnknownKey      = "unknown_key"               // kid not registered for the client
	ReasonAlgorithm       = "algorithm"                 // alg not the registered one
	ReasonSignature       = "signature"                 // does not verify
	ReasonIssuer          = "iss"                       // iss is not the client ID
	ReasonSubject         = "sub"                       // sub is not the client ID
	ReasonAudience        = "aud"                       // aud is not the issuer
	ReasonJTI             = "jti"                       // jti missing
	ReasonReplay          = "jti_replayed"              // jti seen before
	ReasonIssuedAt        = "iat"                       // iat missing or outside the skew
	ReasonExpiry          = "exp"                       // exp missing, past, or too far after iat
	ReasonInjected        = "injected_failure"          // FailTokens
	ReasonNoToken         = mockhttp.ReasonNoToken      // API call without a bearer token
	ReasonInvalidToken    = mockhttp.ReasonInvalidToken // unknown token
	ReasonExpiredToken    = mockhttp.ReasonExpiredToken // token past its lifetime
	ReasonRevokedToken    = mockhttp.ReasonRevokedToken // token revoked
	ReasonInjected401     = mockhttp.ReasonInjected401  // Fail401
	ReasonRegistration    = "invalid_registration"      // Register refused the JWK
)

// Config configures the mock.
type Config struct {
	// Issuer is the aud every assertion must carry (Mia-Platform's issuer). Required.
	Issuer string
	// Secrets are clients that authenticate with a secret (client_secret_basic or _post).
	Secrets map[string]string
	// Skew is how far iat may be from the server clock; default 60s.
	Skew time.Duration
	// MaxAssertionTTL is the longest exp - iat accepted; default 1h.
	MaxAssertionTTL time.Duration
	// TokenLifetime of issued access tokens; default 1h.
	TokenLifetime time.Duration
	// Now is the server clock; default time.Now.
	Now func() time.Time
	// OnReject, when set, is told about every refused token request or API call.
	OnReject func(reason, message string)
}

// Stats are the mock's counters.
type Stats struct {
	Tokens     int            // tokens issued
	Rejections map[string]int // token requests refused, by reason
	APICalls   map[int]int    // API answers by status
	APIDenials map[string]int // API refusals by reason
	Revoked    int            // tokens revoked (RevokeAll, Revoke, RevokeEvery)
}

// Mock is the server as an http.Handler.
type Mock struct {
	// Faults: FailTokens, SetLatency, Fail401.
	mockhttp.Faults

	cfg        Config
	rejections *mockhttp.Rejections
	apiDenials *mockhttp.Rejections

	mu          sync.Mutex
	clients     map[string]*signer.Verifier    // client ID -> verifier of its registered keys
	kids        map[string]map[string]bool     // client ID -> registered kids
	keys        map[string][]*signer.PublicKey // client ID -> registered keys
	jtis        map[string]time.Time           // jti -> exp, for replay refusal
	tokens      map[string]*issued
	tokenCount  int
	apiCalls    map[int]int
	revoked     int
	revokeEvery int
	uses        int
}

type issued struct {
	mockhttp.Grant
	client string
}

// grant is the Grant of an issued token, nil for none (Judge's lookup). m.mu is held.
func (m *Mock) grant(tok string) *mockhttp.Grant {
	if t := m.tokens[tok]; t != nil {
		return &t.Grant
	}
	return nil
}

// Server is a Mock on a loopback port.
type Server struct {
	*Mock
	mockhttp.Served
}

// NewServer starts a Mock on loopback.
func NewServer(cfg Config) (*Server, error) {
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Server{Mock: m, Served: mockhttp.Serve(m, TokenPath, nil)}, nil
}

// New returns the Mock handler.
func New(cfg Config) (*Mock, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("miamock: Config.Issuer is required (the aud every assertion must carry)")
	}
	if cfg.Skew <= 0 {
		cfg.Skew = time.Minute
	}
	if cfg.MaxAssertionTTL <= 0 {
		cfg.MaxAssertionTTL = time.Hour
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Mock{cfg: cfg, rejections: mockhttp.NewRejections(cfg.OnReject), apiDenials: mockhttp.NewRejections(cfg.OnReject),
		clients: map[string]*signer.Verifier{}, kids: map[string]map[string]bool{}, keys: map[string][]*signer.PublicKey{}, jtis: map[string]time.Time{},
		tokens: map[string]*issued{}, apiCalls: map[int]int{}}, nil
}

// RegistrationError says why Register refused a JWK.
type RegistrationError struct{ Reason string }

// Error names the problem.
func (e *RegistrationError) Error() string { return "miamock: JWK refused: " + e.Reason }

// Register adds a public JWK (or a JWKS) to clientID's keys, as the real registry does:
// every key must have "use": "sig", an "alg" and a "kid", no private members, and an RSA
// modulus of at least 2048 bits.
func (m *Mock) Register(clientID string, jwk []byte) error {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	raws := []json.RawMessage{jwk}
	if json.Unmarshal(jwk, &set) == nil && set.Keys != nil {
		raws = set.Keys
	}
	var keys []*signer.PublicKey
	for _, raw := range raws {
		var members map[string]any
		if err := json.Unmarshal(raw, &members); err != nil {
			return &RegistrationError{"not a JSON object"}
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			if _, ok := members[private]; ok {
				return &RegistrationError{fmt.Sprintf("it carries the private member %q: register the public key only", private)}
			}
		}
		for _, need := range []string{"use", "alg", "kid"} {
			if s, _ := members[need].(string); s == "" {
				return &RegistrationError{fmt.Sprintf("%q is missing", need)}
			}
		}
		if members["use"] != "sig" {
			return &RegistrationError{`"use" must be "sig"`}
		}
		set, err := signer.ParsePublicKeys(raw)
		if err != nil {
			return &RegistrationError{err.Error()}
		}
		k := set.Keys()[0]
		if rk, ok := k.Key().(*rsa.PublicKey); ok && rk.N.BitLen() < 2048 {
			return &RegistrationError{fmt.Sprintf("the RSA modulus has %d bits, fewer than 2048", rk.N.BitLen())}
		}
		keys = append(keys, k)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kids[clientID] == nil {
		m.kids[clientID] = map[string]bool{}
	}
	all := append(m.keys[clientID], keys...)
	var algs []signer.Algorithm
	for _, k := range all {
		m.kids[clientID][k.KeyID()] = true
		algs = append(algs, k.Algorithm())
	}
	v, err := signer.NewVerifier(signer.NewKeySet(all...), signer.VerifyOptions{Algorithms: algs})
	if err != nil {
		return &RegistrationError{err.Error()}
	}
	m.clients[clientID], m.keys[clientID] = v, all
	return nil
}

// ServeHTTP routes the token endpoint and the API.
func (m *Mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !m.Delay(r) {
		return
	}
	if r.URL.Path == TokenPath {
		m.token(w, r)
		return
	}
	m.api(w, r)
}

// refuse answers an RFC 6749 section 5.2 error whose description starts with the reason.
func (m *Mock) refuse(w http.ResponseWriter, status int, code, reason, msg string) {
	m.rejections.Count(reason, msg)
	mockhttp.WriteJSON(w, status, map[string]string{"error": code, "error_description": reason + ": " + msg})
}

func (m *Mock) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		m.refuse(w, http.StatusBadRequest, "invalid_request", ReasonBadRequest, "POST a form (application/x-www-form-urlencoded)")
		return
	}
	if status, ra, fail := m.TokenFailure(); fail {
		mockhttp.SetRetryAfter(w, ra)
		m.refuse(w, status, "temporarily_unavailable", ReasonInjected, "injected failure")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	form, perr := url.ParseQuery(string(body))
	if err != nil || perr != nil {
		m.refuse(w, http.StatusBadRequest, "invalid_request", ReasonBadRequest, "the body is not a form")
		return
	}
	if form.Get("grant_type") != "client_credentials" {
		m.refuse(w, http.StatusBadRequest, "unsupported_grant_type", ReasonGrantType, "grant_type must be client_credentials")
		return
	}
	client, reason, msg := m.authenticate(r, form)
	if reason != "" {
		m.refuse(w, http.StatusUnauthorized, "invalid_client", reason, msg)
		return
	}
	tok := newOpaque()
	now := m.cfg.Now()
	m.mu.Lock()
	m.tokens[tok] = &issued{client: client, Grant: mockhttp.Grant{Expires: now.Add(m.cfg.TokenLifetime)}}
	m.tokenCount++
	m.mu.Unlock()
	mockhttp.WriteJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(m.cfg.TokenLifetime / time.Second)})
}

// authenticate checks the client's credentials: a secret, or a client assertion.
func (m *Mock) authenticate(r *http.Request, form url.Values) (client, reason, msg string) {
	basicID, basicSecret, hasBasic := r.BasicAuth()
	secret := form.Get("client_secret")
	if form.Get("client_assertion") == "" && form.Get("client_assertion_type") == "" {
		id := form.Get("client_id")
		if hasBasic {
			id, _ = url.QueryUnescape(basicID)
			secret, _ = url.QueryUnescape(basicSecret)
		}
		want, ok := m.cfg.Secrets[id]
		if !ok || secret == "" || secret != want {
			return "", ReasonSecret, "the client secret is missing or wrong for this client_id"
		}
		return id, "", ""
	}
	if secret != "" || hasBasic {
		return "", ReasonSecretAlongside, "a client secret was sent with a client assertion: authenticate one way only"
	}
	if form.Get("client_assertion_type") != AssertionType {
		return "", ReasonAssertionType, "client_assertion_type must be " + AssertionType
	}
	if am := form.Get("token_endpoint_auth_method"); am != "" && am != "private_key_jwt" {
		return "", ReasonAuthMethod, "token_endpoint_auth_method must be private_key_jwt"
	}
	return m.verifyAssertion(form.Get("client_assertion"), form.Get("client_id"))
}

// verifyAssertion checks a client assertion strictly (RFC 7523 section 3).
func (m *Mock) verifyAssertion(jwt, clientID string) (string, string, string) {
	u, err := signer.DecodeUnverified(jwt)
	if err != nil || u.Detached {
		return "", ReasonMalformed, "client_assertion is not a compact JWT"
	}
	var c struct {
		Iss, Sub, Jti string
		Aud           json.RawMessage
		Iat, Exp      json.Number
	}
	if json.Unmarshal(u.Payload, &c) != nil {
		return "", ReasonMalformed, "the assertion's payload is not a JSON object"
	}
	if clientID == "" {
		clientID = c.Iss
	}
	m.mu.Lock()
	v, kids := m.clients[clientID], m.kids[clientID]
	m.mu.Unlock()
	if v == nil {
		return "", ReasonUnknownClient, "client_id is not registered"
	}
	if kid, _ := u.HeaderString("kid"); !kids[kid] {
		return "", ReasonUnknownKey, "the assertion's kid is not a key registered for this client"
	}
	if _, err := v.Verify(jwt); err != nil {
		switch {
		case errors.Is(err, signer.ErrAlgNone), errors.Is(err, signer.ErrAlgHMAC), errors.Is(err, signer.ErrAlgNotAllowed):
			return "", ReasonAlgorithm, "alg is not the registered key's algorithm"
		case errors.Is(err, signer.ErrInvalidSignature):
			return "", ReasonSignature, "the signature does not verify with the registered public key"
		}
		return "", ReasonMalformed, "the assertion is not a valid JWS"
	}
	var aud string
	if c.Iss != clientID {
		return "", ReasonIssuer, "iss must be the client ID"
	}
	if c.Sub != clientID {
		return "", ReasonSubject, "sub must be the client ID"
	}
	if json.Unmarshal(c.Aud, &aud) != nil || aud != m.cfg.Issuer {
		return "", ReasonAudience, "aud must be the service's issuer"
	}
	return m.checkTimesAndJTI(c.Jti, c.Iat, c.Exp, clientID)
}

func (m *Mock) checkTimesAndJTI(jti string, iatN, expN json.Number, clientID string) (string, string, string) {
	now := m.cfg.Now()
	iat, err1 := iatN.Int64()
	exp, err2 := expN.Int64()
	if err1 != nil || math.Abs(float64(iat-now.Unix())) > m.cfg.Skew.Seconds() {
		return "", ReasonIssuedAt, "iat must be now (Unix seconds) within the allowed skew"
	}
	if err2 != nil || exp <= now.Unix()-int64(m.cfg.Skew.Seconds()) || exp <= iat || exp-iat > int64(m.cfg.MaxAssertionTTL.Seconds()) {
		return "", ReasonExpiry, "exp must be in the future, after iat, and at most " + m.cfg.MaxAssertionTTL.String() + " after it"
	}
	if jti == "" {
		return "", ReasonJTI, "jti is required"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for j, until := range m.jtis {
		if now.After(until.Add(m.cfg.Skew)) {
			delete(m.jtis, j)
		}
	}
	if _, seen := m.jtis[jti]; seen {
		return "", ReasonReplay, "this jti was already used: every assertion needs a new one"
	}
	m.jtis[jti] = time.Unix(exp, 0)
	return clientID, "", ""
}

// api serves every path but the token endpoint: it needs a valid token and echoes what it
// received.
func (m *Mock) api(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	sum := sha256.Sum256(body)
	now := m.cfg.Now()
	m.mu.Lock()
	tok, reason := mockhttp.Judge(r, now, m.grant, m.Take401)
	status, t := http.StatusOK, m.tokens[tok]
	if reason != "" {
		status = http.StatusUnauthorized
	} else if m.uses++; m.revokeEvery > 0 && m.uses%m.revokeEvery == 0 {
		t.Revoked = true
		m.revoked++
		status, reason = http.StatusUnauthorized, ReasonRevokedToken
	}
	m.apiCalls[status]++
	client := ""
	if t != nil {
		client = t.client
	}
	m.mu.Unlock()
	if reason != "" {
		m.apiDenials.Refuse(w, status, reason, "API call refused ("+r.Method+" "+r.URL.Path+")")
		return
	}
	mockhttp.WriteJSON(w, http.StatusOK, Echo{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, BodySHA256: hex.EncodeToString(sum[:]), ClientID: client})
}

// Echo is what an API route answers.
type Echo struct {
	Method     string `json:"method"`
	Path       string `json:"path"`
	Query      string `json:"query,omitempty"`
	BodySHA256 string `json:"body_sha256"`
	ClientID   string `json:"client_id"`
}

// RevokeEvery revokes the token of every n-th successful API use (answering that use 401);
// 0 turns it off.
func (m *Mock) RevokeEvery(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revokeEvery = n
}

// RevokeAll revokes every live token and returns how many.
func (m *Mock) RevokeAll() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	now, n := m.cfg.Now(), 0
	for _, t := range m.tokens {
		if t.Live(now) {
			t.Revoked = true
			n++
		}
	}
	m.revoked += n
	return n
}

// Stats returns a copy of the counters.
func (m *Mock) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Tokens: m.tokenCount, Rejections: m.rejections.Counts(), APICalls: map[int]int{}, APIDenials: m.apiDenials.Counts(), Revoked: m.revoked}
	for k, v := range m.apiCalls {
		s.APICalls[k] = v
	}
	return s
}

func newOpaque() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "mia_" + hex.EncodeToString(b)
}
