// Package soldobizmock is a strict stand-in for the Soldo Business API v2, for tests,
// importable like httptest: the token endpoint (POST /oauth/authorize, a form of client_id
// and client_secret, answering expires_in as a string as Soldo does), an API whose every
// call needs the bearer token and the internal token, and whose advanced endpoints check
// the fingerprint of the request's fields (in the order the mock knows for each endpoint,
// written here from Soldo's pages and independently of the client's table) and its
// SHA512withRSA signature with the uploaded public key. It refuses what Soldo refuses, each
// refusal with its own reason, and counts.
//
//	m, _ := soldobizmock.NewServer(soldobizmock.Config{ClientID: "c", ClientSecret: "s",
//		InternalToken: "it", PublicKey: &key.PublicKey})
//	defer m.Close() // m.URL is the API base, m.TokenURL() its token endpoint
package soldobizmock

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/finauth/finauth/integration/internal/mockhttp"
)

// TokenPath is where the token endpoint lives.
const TokenPath = "/oauth/authorize"

// The reasons a request is refused: the error code of the answer, and the counters' keys.
const (
	ReasonBadRequest     = "bad_request"          // the token request is not a form POST
	ReasonGrantType      = "grant_type"           // a grant_type other than client_credentials
	ReasonClient         = "invalid_client"       // unknown client_id or wrong client_secret
	ReasonInjected       = "injected_failure"     // FailTokens
	ReasonInternalToken  = "internal_token"       // X-Soldo-Internal-Token missing or wrong
	ReasonNoFingerprint  = "missing_fingerprint"  // an advanced endpoint without the two headers (400 INVALID_FINGERPRINT)
	ReasonFingerprint    = "fingerprint_mismatch" // the fingerprint does not match the fields in the endpoint's order (400 INVALID_FINGERPRINT)
	ReasonSignature      = "signature_invalid"    // the signature does not verify with the uploaded key (400 INVALID_FINGERPRINT_SIGNATURE)
	ReasonContentType    = "content_type"         // a body of another type than the endpoint takes (415)
	ReasonNotFound       = "not_found"            // an endpoint the mock does not serve
	ReasonNoToken        = mockhttp.ReasonNoToken
	ReasonInvalidToken   = mockhttp.ReasonInvalidToken
	ReasonExpiredToken   = mockhttp.ReasonExpiredToken
	ReasonRevokedToken   = mockhttp.ReasonRevokedToken
	ReasonInjected401    = mockhttp.ReasonInjected401
	ReasonBadTransaction = "bad_request_body" // a transfer whose body is not the JSON object it needs
)

// Config configures the mock.
type Config struct {
	// ClientID, ClientSecret and InternalToken are the API credentials. Required.
	ClientID, ClientSecret, InternalToken string
	// PublicKey is the uploaded key that verifies fingerprint signatures. Required.
	PublicKey *rsa.PublicKey
	// TokenLifetime of issued tokens; default 2h (Soldo's 7200 s).
	TokenLifetime time.Duration
	// Now is the server clock; default time.Now.
	Now func() time.Time
}

// Stats are the mock's counters.
type Stats struct {
	Tokens     int            // tokens issued
	Rejections map[string]int // token requests refused, by reason
	APICalls   map[int]int    // API answers by status
	APIDenials map[string]int // API refusals by reason
	Verified   int            // fingerprints and signatures verified
	Revoked    int            // tokens revoked
	Transfers  int            // internal transfers made
}

// Mock is the server as an http.Handler.
type Mock struct {
	// Faults: FailTokens, SetLatency, Fail401.
	mockhttp.Faults
	cfg        Config
	rejections *mockhttp.Rejections
	apiDenials *mockhttp.Rejections

	mu          sync.Mutex
	tokens      map[string]*mockhttp.Grant
	tokenCount  int
	apiCalls    map[int]int
	verified    int
	revoked     int
	revokeEvery int
	uses        int
	transfers   int
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
	if cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.InternalToken == "" || cfg.PublicKey == nil {
		return nil, errors.New("soldobizmock: Config needs ClientID, ClientSecret, InternalToken and PublicKey")
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = 2 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Mock{cfg: cfg, rejections: mockhttp.NewRejections(nil), apiDenials: mockhttp.NewRejections(nil),
		tokens: map[string]*mockhttp.Grant{}, apiCalls: map[int]int{}}, nil
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

// token is POST /oauth/authorize.
func (m *Mock) token(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, code, reason, msg string) {
		m.rejections.Count(reason, msg)
		mockhttp.WriteJSON(w, status, map[string]string{"error": code, "error_description": reason + ": " + msg})
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		refuse(http.StatusBadRequest, "invalid_request", ReasonBadRequest, "POST a form (application/x-www-form-urlencoded)")
		return
	}
	if status, ra, fail := m.TokenFailure(); fail {
		mockhttp.SetRetryAfter(w, ra)
		refuse(status, "temporarily_unavailable", ReasonInjected, "injected failure")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	form, perr := url.ParseQuery(string(body))
	switch {
	case err != nil || perr != nil:
		refuse(http.StatusBadRequest, "invalid_request", ReasonBadRequest, "the body is not a form")
		return
	case form.Has("grant_type") && form.Get("grant_type") != "client_credentials":
		refuse(http.StatusBadRequest, "unsupported_grant_type", ReasonGrantType, "grant_type, when sent, must be client_credentials")
		return
	case !equal(form.Get("client_id"), m.cfg.ClientID) || !equal(form.Get("client_secret"), m.cfg.ClientSecret) || len(form["client_id"]) != 1 || len(form["client_secret"]) != 1:
		refuse(http.StatusUnauthorized, "invalid_client", ReasonClient, "Bad client credentials")
		return
	}
	tok, refresh := opaque(), opaque()
	m.mu.Lock()
	m.tokens[tok] = &mockhttp.Grant{Expires: m.cfg.Now().Add(m.cfg.TokenLifetime)}
	m.tokenCount++
	m.mu.Unlock()
	mockhttp.WriteJSON(w, http.StatusOK, map[string]string{"refresh_token": refresh, "token_type": "bearer", "access_token": tok,
		"expires_in": fmt.Sprint(int(m.cfg.TokenLifetime / time.Second))})
}

// route is an endpoint the mock serves: its fingerprint order (nil: standard only) and its
// answer.
type route struct {
	method string
	segs   []string
	order  []string
	body   string // the content type of its body; "" none
	answer func(m *Mock, params map[string]string, q url.Values, body map[string]any) (int, any)
}

// routes are the endpoints, with their orders as Soldo's OpenAPI description (version
// 5.56.0, behind developer.soldo.com) gives them, and the body type each takes.
var routes = []route{
	{"GET", split("/business/v2/ping/whoami"), nil, "", func(m *Mock, _ map[string]string, _ url.Values, _ map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"id": m.cfg.ClientID, "scopes": []string{"transaction_read", "wallet_write"}}
	}},
	{"GET", split("/business/v2/transactions/{transactionId}"), []string{"transactionId", "token"}, "", func(_ *Mock, p map[string]string, _ url.Values, _ map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"id": p["transactionId"], "status": "Settled", "amount": 12.5, "amount_currency": "EUR"}
	}},
	{"GET", split("/business/v2/transactions"), []string{"type", "publicId", "customReferenceId", "groupId", "fromDate", "toDate", "dateType",
		"category", "status", "tagId", "metadataId", "text", "expenseType", "expenseStatus", "requiredInformation", "token"}, "", func(_ *Mock, _ map[string]string, q url.Values, _ map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"total": 1, "pages": 1, "page_size": 50, "current_page": 0, "results_size": 1,
			"results": []any{map[string]any{"id": "tx-1", "type": q.Get("type"), "status": q.Get("status")}}}
	}},
	{"GET", split("/business/v2/wallets"), nil, "", func(*Mock, map[string]string, url.Values, map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"total": 1, "results": []any{map[string]any{"id": "w-1", "currency_code": "EUR"}}}
	}},
	{"PUT", split("/business/v2/wallets/internalTransfer/{fromWalletId}/{toWalletId}"), []string{"amount", "currencyCode", "fromWalletId", "toWalletId", "token"},
		"application/x-www-form-urlencoded", transfer},
	{"POST", split("/business/v2/cards"), []string{"request_timestamp", "owner_type", "owner_public_id", "wallet_id", "address_id", "vehicle_id", "preset_id", "token"},
		"application/json", func(_ *Mock, _ map[string]string, _ url.Values, b map[string]any) (int, any) {
			return http.StatusOK, map[string]any{"id": "card-1", "wallet_id": b["wallet_id"], "status": "Normal"}
		}},
	{"POST", split("/business/v2/transactions/mileage-reimbursements"), []string{"request_timestamp", "date", "owner_id", "mileage.vehicle_id",
		"mileage.reimbursement_rate", "mileage.distance", "mileage.round_trip", "token"}, "application/json", func(_ *Mock, _ map[string]string, _ url.Values, b map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"id": "mr-1", "owner_id": b["owner_id"]}
	}},
}

func transfer(m *Mock, p map[string]string, _ url.Values, body map[string]any) (int, any) {
	amount, err := strconv.ParseFloat(fmt.Sprint(body["amount"]), 64)
	if err != nil || amount <= 0 || body["currencyCode"] == nil {
		return http.StatusBadRequest, map[string]string{"error_code": ReasonBadTransaction, "message": "amount (a positive number) and currencyCode are required"}
	}
	m.mu.Lock()
	m.transfers++
	m.mu.Unlock()
	return http.StatusOK, map[string]any{"amount": amount, "currency": body["currencyCode"], "from_wallet": map[string]any{"id": p["fromWalletId"]},
		"to_wallet": map[string]any{"id": p["toWalletId"]}, "datetime": time.Now().UTC().Format(time.RFC3339)}
}

func split(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

// find returns the route of r and its path parameters.
func find(method, path string) (*route, map[string]string) {
	segs := split(path)
	for i := range routes {
		rt := &routes[i]
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		params, ok := map[string]string{}, true
		for j, s := range rt.segs {
			if strings.HasPrefix(s, "{") {
				params[strings.Trim(s, "{}")] = segs[j]
			} else if s != segs[j] {
				ok = false
			}
		}
		if ok {
			return rt, params
		}
	}
	return nil, nil
}

func (m *Mock) api(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	refuse := func(status int, reason, msg string) {
		m.mu.Lock()
		m.apiCalls[status]++
		m.mu.Unlock()
		m.apiDenials.Count(reason, msg)
		mockhttp.WriteJSON(w, status, map[string]string{"error_code": reason, "message": msg})
	}
	now := m.cfg.Now()
	m.mu.Lock()
	_, reason := mockhttp.Judge(r, now, func(t string) *mockhttp.Grant { return m.tokens[t] }, m.Take401)
	m.mu.Unlock()
	if reason != "" {
		refuse(http.StatusUnauthorized, reason, "the access token is refused ("+r.Method+" "+r.URL.Path+")")
		return
	}
	if !equal(r.Header.Get("X-Soldo-Internal-Token"), m.cfg.InternalToken) {
		refuse(http.StatusUnauthorized, ReasonInternalToken, "X-Soldo-Internal-Token is missing or wrong")
		return
	}
	rt, params := find(r.Method, r.URL.EscapedPath())
	if rt == nil {
		refuse(http.StatusNotFound, ReasonNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
		return
	}
	members := map[string]any{}
	if len(strings.TrimSpace(string(body))) > 0 || rt.body != "" {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch {
		case ct != rt.body:
			refuse(http.StatusUnsupportedMediaType, ReasonContentType, fmt.Sprintf("this endpoint takes %s, not %q", rt.body, ct))
			return
		case ct == "application/x-www-form-urlencoded":
			form, err := url.ParseQuery(string(body))
			if err != nil {
				refuse(http.StatusBadRequest, ReasonBadTransaction, "the body is not a form")
				return
			}
			for k := range form {
				members[k] = form.Get(k)
			}
		default:
			d := json.NewDecoder(strings.NewReader(string(body)))
			d.UseNumber()
			if err := d.Decode(&members); err != nil {
				refuse(http.StatusBadRequest, ReasonBadTransaction, "the body is not a JSON object")
				return
			}
		}
	}
	if rt.order != nil {
		if reason, msg := m.checkFingerprint(r, rt.order, params, members); reason != "" {
			code := "INVALID_FINGERPRINT" // Soldo's error codes, answered 400
			if reason == ReasonSignature {
				code = "INVALID_FINGERPRINT_SIGNATURE"
			}
			m.mu.Lock()
			m.apiCalls[http.StatusBadRequest]++
			m.mu.Unlock()
			m.apiDenials.Count(reason, msg)
			mockhttp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error_code": code, "message": msg})
			return
		}
	}
	m.mu.Lock()
	revoke := false
	if m.uses++; m.revokeEvery > 0 && m.uses%m.revokeEvery == 0 {
		revoke = true
	}
	m.mu.Unlock()
	if revoke {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		m.mu.Lock()
		if g := m.tokens[tok]; g != nil && !g.Revoked {
			g.Revoked = true
			m.revoked++
		}
		m.mu.Unlock()
		refuse(http.StatusUnauthorized, ReasonRevokedToken, "the access token was revoked")
		return
	}
	status, ans := rt.answer(m, params, r.URL.Query(), plain(members))
	m.mu.Lock()
	m.apiCalls[status]++
	m.mu.Unlock()
	mockhttp.WriteJSON(w, status, ans)
}

// checkFingerprint recomputes the fingerprint of the request's fields in order and
// verifies the signature with the uploaded key.
func (m *Mock) checkFingerprint(r *http.Request, order []string, params map[string]string, members map[string]any) (reason, msg string) {
	fp, sig := r.Header.Get("X-Soldo-Fingerprint"), r.Header.Get("X-Soldo-Fingerprint-Signature")
	if fp == "" || sig == "" {
		return ReasonNoFingerprint, "this endpoint needs advanced authentication: X-Soldo-Fingerprint and X-Soldo-Fingerprint-Signature"
	}
	var s strings.Builder
	q := r.URL.Query()
	for _, f := range order {
		switch {
		case f == "token":
			s.WriteString(m.cfg.InternalToken)
		case params[f] != "":
			v, _ := url.PathUnescape(params[f])
			s.WriteString(v)
		case q.Has(f):
			s.WriteString(q.Get(f))
		case lookup(members, f) != nil:
			switch v := lookup(members, f).(type) {
			case string:
				s.WriteString(v)
			case json.Number:
				s.WriteString(v.String())
			default:
				s.WriteString(fmt.Sprint(v))
			}
		}
	}
	sum := sha512.Sum512([]byte(s.String()))
	if want := hex.EncodeToString(sum[:]); fp != want { // lowercase hex, exactly
		return ReasonFingerprint, "X-Soldo-Fingerprint does not match the request's fields in the endpoint's order"
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	h := sha512.Sum512([]byte(fp))
	if err != nil || rsa.VerifyPKCS1v15(m.cfg.PublicKey, crypto.SHA512, h[:], raw) != nil {
		return ReasonSignature, "X-Soldo-Fingerprint-Signature does not verify with the uploaded public key"
	}
	m.mu.Lock()
	m.verified++
	m.mu.Unlock()
	return "", ""
}

// lookup finds a field of the body, a dotted name through nested objects.
func lookup(members map[string]any, name string) any {
	if v, ok := members[name]; ok {
		return v
	}
	first, rest, ok := strings.Cut(name, ".")
	if inner, isObj := members[first].(map[string]any); ok && isObj {
		return lookup(inner, rest)
	}
	return nil
}

// plain turns json.Numbers into float64 for the answers.
func plain(members map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range members {
		if n, ok := v.(json.Number); ok {
			f, _ := n.Float64()
			v = f
		}
		out[k] = v
	}
	return out
}

// RevokeEvery revokes the token of every n-th API use (answering that use 401); 0 turns it
// off.
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
	for _, g := range m.tokens {
		if g.Live(now) {
			g.Revoked = true
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
	calls := map[int]int{}
	for k, v := range m.apiCalls {
		calls[k] = v
	}
	return Stats{Tokens: m.tokenCount, Rejections: m.rejections.Counts(), APICalls: calls, APIDenials: m.apiDenials.Counts(),
		Verified: m.verified, Revoked: m.revoked, Transfers: m.transfers}
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func opaque() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}
