// Package oauthmock is a strict OAuth 2.0 authorization server and resource server for the
// FAPI 2.0 building blocks: client-credentials tokens bound to a DPoP key (RFC 9449) and API
// requests signed as HTTP message signatures (RFC 9421, FAPI 2.0's request profile). It
// refuses, each with its own reason, what such a server must: a request without a proof, a
// proof replayed (its jti seen before), one of another method or URI, of another key than
// the token's, without the access token's hash, without the nonce it asked for; a message
// signature missing, not covering what the profile covers, not verifying, or over a body
// whose Content-Digest does not match.
//
// Like httptest, NewServer starts it on loopback; New gives the handler alone.
package oauthmock

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/finauth/finauth/integration/internal/mockhttp"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/signer/dpop"
	"github.com/finauth/finauth/signer/httpsig"
)

// TokenPath is where the token endpoint lives.
const TokenPath = "/oauth/token"

// Config configures the mock.
type Config struct {
	// Clients are the registered clients: client ID to secret (client_secret_basic or
	// client_secret_post). Required.
	Clients map[string]string
	// RequireDPoP refuses token requests without a DPoP proof; with a proof a token is
	// bound to its key (token_type DPoP) whatever this says.
	RequireDPoP bool
	// Nonces makes the server ask for a nonce (use_dpop_nonce) at the token endpoint and the
	// resource server, as RFC 9449 sections 8 and 9 describe.
	Nonces bool
	// SignatureKeys, when set, makes the resource server require FAPI 2.0 message
	// signatures on every request, verified with these keys (by keyid).
	SignatureKeys *signer.KeySet
	// TokenLifetime (default 1h); RevokeEvery revokes a token after its N-th API use (0:
	// never).
	TokenLifetime time.Duration
	RevokeEvery   int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// OnReject, when set, is told every refusal.
	OnReject func(reason, message string)
}

// Stats are the mock's counters.
type Stats struct {
	Tokens    int            // tokens issued
	DPoPBound int            // of them, bound to a DPoP key
	APICalls  map[int]int    // API answers by status
	Signed    int            // API requests whose message signature verified
	Refusals  map[string]int // refusals by reason
}

// Mock is the handler.
type Mock struct {
	cfg     Config
	rejects *mockhttp.Rejections

	mu     sync.Mutex
	tokens map[string]*token
	jtis   map[string]time.Time // DPoP proofs seen, until they could no longer be fresh
	nonce  string
	stats  Stats
}

type token struct {
	jkt     string // the DPoP key it is bound to; "" for a bearer token
	expires time.Time
	uses    int
	revoked bool
}

// Server is a Mock on loopback.
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
	if len(cfg.Clients) == 0 {
		return nil, fmt.Errorf("oauthmock: Config.Clients is required")
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Mock{cfg: cfg, tokens: map[string]*token{}, jtis: map[string]time.Time{},
		stats: Stats{APICalls: map[int]int{}}, rejects: mockhttp.NewRejections(cfg.OnReject)}
	m.RotateNonce()
	return m, nil
}

// RotateNonce makes the server ask for a new nonce: proofs with the old one are refused
// with use_dpop_nonce and the new one.
func (m *Mock) RotateNonce() {
	var b [12]byte
	rand.Read(b[:])
	m.mu.Lock()
	m.nonce = base64.RawURLEncoding.EncodeToString(b[:])
	m.mu.Unlock()
}

// RevokeAll revokes every token issued so far.
func (m *Mock) RevokeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tokens {
		t.revoked = true
	}
}

// Stats returns a copy of the counters.
func (m *Mock) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.APICalls = map[int]int{}
	for k, v := range m.stats.APICalls {
		s.APICalls[k] = v
	}
	s.Refusals = m.rejects.Counts()
	return s
}

// ServeHTTP serves the token endpoint and the API.
func (m *Mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz":
		w.WriteHeader(http.StatusOK)
	case r.URL.Path == "/_mock/stats":
		mockhttp.WriteJSON(w, http.StatusOK, m.Stats())
	case r.URL.Path == TokenPath:
		m.token(w, r)
	default:
		m.api(w, r)
	}
}

// requestURL is the URL a request was sent to, as the client saw it.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}

// refuse answers an OAuth error (RFC 6749 section 5.2, RFC 9449 section 7) and counts it.
func (m *Mock) refuse(w http.ResponseWriter, status int, reason, description string) {
	m.rejects.Count(reason, description)
	mockhttp.WriteJSON(w, status, map[string]string{"error": reason, "error_description": description})
}

// proof checks r's DPoP proof: its claims, its jti never seen, the nonce when asked for.
// It returns the proof, or writes the refusal (at the token endpoint a 400; at the resource
// server a 401 with the DPoP challenge) and returns nil.
func (m *Mock) proof(w http.ResponseWriter, r *http.Request, accessToken, jkt string, status int) *dpop.Proof {
	m.mu.Lock()
	nonce := ""
	if m.cfg.Nonces {
		nonce = m.nonce
	}
	m.mu.Unlock()
	values := r.Header.Values("DPoP")
	if len(values) > 1 {
		m.challenge(w, status, "invalid_dpop_proof", "more than one DPoP header", "")
		return nil
	}
	p, err := dpop.Verify(r.Header.Get("DPoP"), dpop.VerifyOptions{Method: r.Method, URL: requestURL(r), AccessToken: accessToken,
		Thumbprint: jkt, Nonce: nonce, Now: m.cfg.Now})
	if err != nil {
		var e *dpop.Error
		reason := "invalid_dpop_proof"
		if errors.As(err, &e) && e.Reason == "use_dpop_nonce" {
			m.challenge(w, status, "use_dpop_nonce", err.Error(), nonce)
			return nil
		}
		if errors.As(err, &e) {
			reason = "invalid_dpop_proof:" + e.Reason
		}
		m.challenge(w, status, reason, err.Error(), "")
		return nil
	}
	m.mu.Lock()
	now := m.cfg.Now()
	for jti, until := range m.jtis {
		if now.After(until) {
			delete(m.jtis, jti)
		}
	}
	_, seen := m.jtis[p.JTI]
	if !seen {
		m.jtis[p.JTI] = p.IAT.Add(2 * time.Minute) // past the 60 s a proof is fresh, either way
	}
	m.mu.Unlock()
	if seen {
		m.challenge(w, status, "invalid_dpop_proof:jti_replayed", "a DPoP proof's jti was used before (a replayed proof)", "")
		return nil
	}
	return p
}

// challenge refuses a DPoP request: at the resource server (401) with WWW-Authenticate:
// DPoP error=..., and the nonce to use when one is asked for.
func (m *Mock) challenge(w http.ResponseWriter, status int, reason, description, nonce string) {
	if nonce != "" {
		w.Header().Set("DPoP-Nonce", nonce)
	}
	code, _, _ := strings.Cut(reason, ":")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`DPoP error=%q, error_description=%q, algs="ES256 PS256 RS256 EdDSA"`, code, strings.ReplaceAll(description, `"`, "'")))
	}
	m.refuse(w, status, reason, description)
}

// token is the token endpoint: client_credentials with a client secret, and a DPoP proof
// when one is sent (or required).
func (m *Mock) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		m.refuse(w, http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("grant_type") != "client_credentials" {
		m.refuse(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if want, ok := m.cfg.Clients[id]; !ok || secret != want {
		m.refuse(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	jkt := ""
	if r.Header.Get("DPoP") != "" || m.cfg.RequireDPoP {
		p := m.proof(w, r, "", "", http.StatusBadRequest)
		if p == nil {
			return
		}
		jkt = p.Thumbprint
	}
	var b [24]byte
	rand.Read(b[:])
	value := base64.RawURLEncoding.EncodeToString(b[:])
	m.mu.Lock()
	m.tokens[value] = &token{jkt: jkt, expires: m.cfg.Now().Add(m.cfg.TokenLifetime)}
	m.stats.Tokens++
	typ := "Bearer"
	if jkt != "" {
		m.stats.DPoPBound++
		typ = "DPoP"
	}
	m.mu.Unlock()
	mockhttp.WriteJSON(w, http.StatusOK, map[string]any{"access_token": value, "token_type": typ, "expires_in": int(m.cfg.TokenLifetime.Seconds())})
}

// api is the resource server: the token (and its DPoP proof, for a bound one), then the
// message signature when signatures are required.
func (m *Mock) api(w http.ResponseWriter, r *http.Request) {
	status := m.judge(w, r)
	m.mu.Lock()
	m.stats.APICalls[status]++
	m.mu.Unlock()
}

func (m *Mock) judge(w http.ResponseWriter, r *http.Request) int {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	scheme, value, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	m.mu.Lock()
	t := m.tokens[value]
	live := t != nil && !t.revoked && m.cfg.Now().Before(t.expires)
	m.mu.Unlock()
	switch {
	case !live:
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token", Bearer error="invalid_token"`)
		m.refuse(w, http.StatusUnauthorized, "invalid_token", "unknown, expired or revoked token")
		return http.StatusUnauthorized
	case t.jkt != "" && !strings.EqualFold(scheme, "DPoP"):
		m.challenge(w, http.StatusUnauthorized, "invalid_token:dpop_bound_token_as_bearer", "a DPoP-bound token must be sent with the DPoP scheme and a proof", "")
		return http.StatusUnauthorized
	case t.jkt == "" && !strings.EqualFold(scheme, "Bearer"):
		m.refuse(w, http.StatusUnauthorized, "invalid_token", "a bearer token with another scheme")
		return http.StatusUnauthorized
	}
	if t.jkt != "" && m.proof(w, r, value, t.jkt, http.StatusUnauthorized) == nil {
		return http.StatusUnauthorized
	}
	if m.cfg.SignatureKeys != nil {
		required := []string{"@method", "@target-uri", "authorization"}
		if len(body) > 0 {
			required = append(required, "content-digest")
		}
		if r.Header.Get("DPoP") != "" {
			required = append(required, "dpop")
		}
		v := &httpsig.Verifier{Key: func(kid string) (crypto.PublicKey, httpsig.Algorithm, error) {
			for _, k := range m.cfg.SignatureKeys.Keys() {
				if k.KeyID() == kid {
					return k.Key(), "", nil
				}
			}
			return nil, "", fmt.Errorf("no registered key")
		}, Tag: "fapi-2-request", Required: required, MaxAge: time.Minute, Now: m.cfg.Now}
		if _, err := v.Verify(httpsig.ServerRequest(r)); err != nil {
			var e *httpsig.VerifyError
			reason := "invalid_signature"
			if errors.As(err, &e) {
				reason += ":" + e.Reason
			}
			m.refuse(w, http.StatusUnauthorized, reason, err.Error())
			return http.StatusUnauthorized
		}
		if len(body) > 0 {
			if err := httpsig.VerifyContentDigest(r.Header.Get("Content-Digest"), body); err != nil {
				m.refuse(w, http.StatusBadRequest, "invalid_signature:content_digest", err.Error())
				return http.StatusBadRequest
			}
		}
		m.mu.Lock()
		m.stats.Signed++
		m.mu.Unlock()
	}
	m.mu.Lock()
	t.uses++
	if m.cfg.RevokeEvery > 0 && t.uses >= m.cfg.RevokeEvery {
		t.revoked = true
	}
	m.mu.Unlock()
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	mockhttp.WriteJSON(w, status, map[string]any{"method": r.Method, "path": r.URL.Path, "bound": t.jkt != ""})
	return status
}
