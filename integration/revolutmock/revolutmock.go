// Package revolutmock is a strict Revolut Open Banking server for tests, importable like
// httptest: mutual TLS (a test CA; client certificates required), /token with the
// client_credentials, authorization_code and refresh_token grants, account-access and
// domestic-payment consents with idempotency, the consent authorisation endpoint that
// verifies the request object and redirects with a code, domestic payments that need the
// user token of their consent, x-jws-signature verification, fault injection and counters.
//
//	pki, _ := revolutmock.NewPKI()
//	m, _ := revolutmock.NewServer(revolutmock.Config{ClientID: "c1", Keys: keys, TAN: "example.com",
//		RedirectURIs: []string{"https://app.example/cb"}}, pki)
//	defer m.Close() // m.TokenURL(), m.URL, m.AuthURL()
package revolutmock

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/finauth/finauth/integration/internal/mockhttp"
	"github.com/finauth/finauth/signer"
)

// Paths.
const (
	TokenPath            = "/token"
	AuthorizePath        = "/ui/index.html"
	AccountConsentsPath  = "/account-access-consents"
	PaymentConsentsPath  = "/domestic-payment-consents"
	PaymentsPath         = "/domestic-payments"
	AccountsPath         = "/accounts"
	TANHeader            = "http://openbanking.org.uk/tan"
	maxIdempotencyKeyLen = 40
)

// Refusal reasons: the "error" of a refusal, and the counters' keys.
const (
	ReasonNoClientCert     = "no_client_certificate" // a request without the transport certificate
	ReasonBadRequest       = "bad_request"           // malformed form or JSON, a parameter missing
	ReasonClientID         = "client_id"             // unknown client_id
	ReasonGrantType        = "grant_type"            // not one of the three grants
	ReasonScope            = "scope"                 // not accounts or payments, or the wrong one
	ReasonCode             = "code"                  // unknown, used or expired authorization code
	ReasonRedirectURI      = "redirect_uri"          // not registered, or not the authorisation's
	ReasonRefreshToken     = "refresh_token"         // unknown refresh token (answered as invalid_grant)
	ReasonRefreshExpired   = "refresh_token_expired" // past refresh_token_expires_at (answered as invalid_grant)
	ReasonRefreshReused    = "refresh_token_reused"  // a rotated refresh token again (answered as invalid_grant)
	ReasonNoToken          = "missing_token"         // API call without a bearer token
	ReasonInvalidToken     = "invalid_token"         // unknown or expired token
	ReasonWrongToken       = "wrong_token"           // a client token where a user token is needed, or another consent's
	ReasonIdempotencyKey   = "idempotency_key"       // missing or longer than 40 characters
	ReasonIdempotencyReuse = "idempotency_reuse"     // the same key with another body
	ReasonJWS              = "x_jws_signature"       // missing, malformed, or not verifying
	ReasonFinancialID      = "x_fapi_financial_id"   // missing or wrong
	ReasonRequestObject    = "request_object"        // the authorisation's request object
	ReasonConsent          = "consent"               // unknown consent, or not in the state needed
	ReasonInjected401      = "injected_401"          // Fail401
	ReasonInjected503      = "injected_503"          // Fail503
	ReasonInjectedToken    = "injected_failure"      // FailTokens
)

// Config configures the mock.
type Config struct {
	// ClientID is an application registered from the start (with RedirectURIs and Keys,
	// all three or none); others register by DCR (POST /register).
	ClientID string
	// RedirectURIs are that application's registered redirect URIs.
	RedirectURIs []string
	// Keys verify that application's request objects and x-jws-signature (by kid; PS256).
	Keys *signer.KeySet
	// TAN is the tan x-jws-signature must carry. Required.
	TAN string
	// JWKSCacheTime is how long a JWKS fetched for a DCR-registered application is kept
	// (its request objects and x-jws-signature verify against it); default
	// DefaultJWKSCacheTime.
	JWKSCacheTime time.Duration
	// JWKSRoots are the roots trusted for the JWKS URLs fetched (HTTPS only); nil means the
	// system's (NewServer: the PKI's CA).
	JWKSRoots *x509.CertPool
	// Audience is the request object's required aud: the issuer of Revolut's OpenID
	// configuration, default https://oba-auth.revolut.com.
	Audience string
	// LegacyAudience is accepted as aud too: the issuer before Revolut's change of 23 March
	// 2026, which Revolut accepts during the change; default https://oba.revolut.com.
	LegacyAudience string
	// FinancialID, when set, must be every API call's x-fapi-financial-id.
	FinancialID string
	// TokenLifetime of access tokens; default 60 minutes, as Revolut's since 4 August 2025.
	TokenLifetime time.Duration
	// RefreshTokenLifetime is how long a consent's refresh tokens last from its authorisation
	// (refresh_token_expires_at, Unix seconds, in every answer carrying a refresh token);
	// default 180 days, as Revolut's in the EU. An expired one is refused with invalid_grant.
	RefreshTokenLifetime time.Duration
	// RotateRefreshTokens makes each refresh grant answer a new refresh token (with the
	// consent's same expiry) and retire the one it used; without it the refresh token is
	// kept and the answer carries none. Revolut does not document which it does. A retired
	// refresh token presented again is refused (invalid_grant), counted in
	// Stats.RefreshReuses, and revokes the consent's refresh tokens, as a server detecting
	// reuse does (RFC 9700 section 4.14.2): the consent is lost.
	RotateRefreshTokens bool
	// RefreshDelay makes each refresh grant wait before it is decided and answered; a
	// client that goes away meanwhile (a crash) is counted in Stats.RefreshAbandoned and its
	// grant is not committed, as a server that commits when it answers.
	RefreshDelay time.Duration
	// OnRefresh, when set, is told the remote address of each refresh grant as it starts
	// (before RefreshDelay): for tests that find and kill the renewing process.
	OnRefresh func(remoteAddr string)
	// Now is the server clock; default time.Now.
	Now func() time.Time
	// OnReject, when set, is told about every refusal.
	OnReject func(reason, message string)
}

// Stats are the mock's counters.
type Stats struct {
	Tokens     map[string]int // tokens issued, by grant
	Consents   int            // consents created (an idempotent repeat is not counted)
	Payments   int            // payments created
	Repeats    int            // idempotent repeats answered with the first result
	Authorised int            // consents authorised through the authorisation endpoint
	Rejections map[string]int // refusals by reason
	// RefreshReuses counts retired (rotated) refresh tokens presented again.
	RefreshReuses int
	// RefreshAbandoned counts refresh grants whose client went away during RefreshDelay.
	RefreshAbandoned int
	// Registered counts applications registered by DCR; JWKSFetches the JWKS fetched for them.
	Registered, JWKSFetches int
}

type consent struct {
	id, kind, status string // kind: "accounts" or "payments"
	code             string
	token            string // the user token issued for it
}

// Request is what the mock saw of a request, for tests.
type Request struct {
	Method, Path, IdempotencyKey, JWS string
}

// refreshToken is a refresh token the mock issued.
type refreshToken struct {
	consent string
	expires time.Time
	retired bool // rotated: presenting it again is a reuse
}

type token struct {
	client  string
	scope   string // accounts, payments, or "user"
	consent string
	expires time.Time
}

type idem struct {
	bodySHA string
	status  int
	answer  any
}

// Mock is the server as an http.Handler.
type Mock struct {
	mockhttp.Faults

	cfg        Config
	rejects    *mockhttp.Rejections
	jwksClient *http.Client

	mu       sync.Mutex
	tokens   map[string]*token
	refresh  map[string]*refreshToken
	codes    map[string]*consent
	consents map[string]*consent
	idem     map[string]*idem // idempotency key -> first answer
	apps     map[string]*app  // client ID -> application
	issued   map[string]int
	stats    Stats
	fail503  int
	seen     []Request
	idTokens *signer.Signer // signs the id_tokens of code exchanges
	// nextClientID, when set, is the client ID the next registration answers (IssueClientID).
	nextClientID string
}

// IssueClientID makes the next registration answer id as its client ID, whatever it holds:
// for tests of what a client does with a hostile or broken registration endpoint's answer.
func (m *Mock) IssueClientID(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextClientID = id
}

const maxSeen = 10_000

func (m *Mock) log(r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.seen) < maxSeen {
		m.seen = append(m.seen, Request{r.Method, r.URL.Path, r.Header.Get("x-idempotency-key"), r.Header.Get("x-jws-signature")})
	}
}

// Requests returns the requests seen so far (the first 10,000).
func (m *Mock) Requests() []Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Request(nil), m.seen...)
}

// New returns the mock as an http.Handler (serve it with TLS requiring client certificates:
// NewServer does).
func New(cfg Config) (*Mock, error) {
	var problems []string
	hasKeys := cfg.Keys != nil && len(cfg.Keys.Keys()) > 0
	if cfg.ClientID != "" || len(cfg.RedirectURIs) > 0 || hasKeys {
		if cfg.ClientID == "" {
			problems = append(problems, "ClientID is required with RedirectURIs and Keys")
		}
		if len(cfg.RedirectURIs) == 0 {
			problems = append(problems, "RedirectURIs is required with ClientID")
		}
		if !hasKeys {
			problems = append(problems, "Keys is required with ClientID: the application's public signing key(s) with their kid")
		}
	}
	if cfg.TAN == "" {
		problems = append(problems, "TAN is required: the root domain of the application's JWKS URL")
	}
	if len(problems) > 0 {
		return nil, errors.New("revolutmock: " + strings.Join(problems, "; "))
	}
	if cfg.Audience == "" {
		cfg.Audience = "https://oba-auth.revolut.com"
	}
	if cfg.LegacyAudience == "" {
		cfg.LegacyAudience = "https://oba.revolut.com"
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.RefreshTokenLifetime <= 0 {
		cfg.RefreshTokenLifetime = 180 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.JWKSCacheTime <= 0 {
		cfg.JWKSCacheTime = DefaultJWKSCacheTime
	}
	m := &Mock{cfg: cfg, rejects: mockhttp.NewRejections(cfg.OnReject), jwksClient: jwksHTTPClient(cfg.JWKSRoots),
		tokens: map[string]*token{}, refresh: map[string]*refreshToken{}, codes: map[string]*consent{},
		consents: map[string]*consent{}, idem: map[string]*idem{}, issued: map[string]int{}, apps: map[string]*app{}}
	idKey, err := signer.GenerateKey(signer.PS256)
	if err != nil {
		return nil, fmt.Errorf("revolutmock: %w", err)
	}
	if m.idTokens, err = signer.New(idKey, signer.Options{Algorithm: signer.PS256, KeyID: "revolutmock-id", Type: "JWT"}); err != nil {
		return nil, fmt.Errorf("revolutmock: %w", err)
	}
	if cfg.ClientID != "" {
		ro, jws, err := verifiersOf(cfg.Keys)
		if err != nil {
			return nil, fmt.Errorf("revolutmock: %w", err)
		}
		m.apps[cfg.ClientID] = &app{id: cfg.ClientID, redirectURIs: cfg.RedirectURIs, ro: ro, jws: jws}
	}
	return m, nil
}

// Server is a Mock on a loopback TLS port.
type Server struct {
	*Mock
	mockhttp.Served
	PKI *PKI
}

// NewServer serves a Mock over TLS on loopback with pki's server certificate, requiring
// client certificates signed by its CA.
func NewServer(cfg Config, pki *PKI) (*Server, error) {
	if cfg.JWKSRoots == nil {
		cfg.JWKSRoots = pki.CertPool()
	}
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Server{Mock: m, Served: mockhttp.Serve(m, TokenPath, pki.ServerTLS()), PKI: pki}, nil
}

// AuthURL is the consent authorisation endpoint.
func (s *Server) AuthURL() string { return s.URL + AuthorizePath }

// SetTokenLifetime changes the lifetime of the tokens issued from now on.
func (m *Mock) SetTokenLifetime(d time.Duration) {
	m.mu.Lock()
	m.cfg.TokenLifetime = d
	m.mu.Unlock()
}

// Fail503 makes the next n API calls answer 503.
func (m *Mock) Fail503(n int) {
	m.mu.Lock()
	m.fail503 = n
	m.mu.Unlock()
}

// Stats returns the counters.
func (m *Mock) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Tokens = map[string]int{}
	for k, v := range m.issued {
		s.Tokens[k] = v
	}
	s.Rejections = m.rejects.Counts()
	return s
}

func randomID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (m *Mock) refuse(w http.ResponseWriter, status int, reason, format string, args ...any) {
	m.rejects.Refuse(w, status, reason, fmt.Sprintf(format, args...))
}

// ServeHTTP routes.
func (m *Mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if !m.Delay(r) {
		return
	}
	m.log(r)
	if r.URL.Path != AuthorizePath && (r.TLS == nil || len(r.TLS.PeerCertificates) == 0) {
		m.refuse(w, http.StatusUnauthorized, ReasonNoClientCert, "present the transport certificate (mutual TLS)")
		return
	}
	switch {
	case r.URL.Path == TokenPath && r.Method == http.MethodPost:
		m.token(w, r)
	case r.URL.Path == RegisterPath && r.Method == http.MethodPost:
		m.register(w, r)
	case strings.HasPrefix(r.URL.Path, RegisterPath+"/"):
		m.registration(w, r)
	case r.URL.Path == DistinguishedNamePath && r.Method == http.MethodGet:
		m.distinguishedName(w, r)
	case r.URL.Path == AuthorizePath && r.Method == http.MethodGet:
		m.authorize(w, r)
	case r.URL.Path == AccountConsentsPath && r.Method == http.MethodPost:
		m.createConsent(w, r, "accounts")
	case r.URL.Path == PaymentConsentsPath && r.Method == http.MethodPost:
		m.createConsent(w, r, "payments")
	case r.URL.Path == PaymentsPath && r.Method == http.MethodPost:
		m.createPayment(w, r)
	case r.URL.Path == AccountsPath && r.Method == http.MethodGet:
		m.accounts(w, r)
	default:
		m.refuse(w, http.StatusNotFound, ReasonBadRequest, "no route %s %s", r.Method, r.URL.Path)
	}
}

// RevokeRefreshTokens revokes every refresh token of the consent, as a user withdrawing it
// in their app: its renewals are refused with invalid_grant from now on.
func (m *Mock) RevokeRefreshTokens(consentID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, rt := range m.refresh {
		if rt.consent == consentID {
			delete(m.refresh, k)
		}
	}
}

// idToken is the id_token of a code exchange for client's authorisation of consent.
func (m *Mock) idToken(client, consent string, now time.Time) string {
	tok, err := m.idTokens.SignJWT(map[string]any{"iss": m.cfg.Audience, "sub": consent, "aud": client,
		"openbanking_intent_id": consent, "iat": now.Unix(), "exp": now.Add(m.cfg.TokenLifetime).Unix()})
	if err != nil {
		return ""
	}
	return tok
}
