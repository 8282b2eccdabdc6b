// Package soldomock is a strict Soldo (Token.io-style) API for tests, importable like
// httptest: every request must carry "Authorization: Bearer <JWS>" whose protected header
// names the member, key, method, host, path and query the server received and whose payload
// is the exact body bytes; anything else is answered 401 with the field that was wrong.
package soldomock

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/finauth/finauth/integration/internal/mockhttp"
	"github.com/finauth/finauth/signer"
)

// Rejection reasons (the "error" of a 401 answer, and the counters' keys).
const (
	ReasonNoAuthorization = "missing_authorization"
	ReasonMalformed       = "malformed_jws"
	ReasonUnknownMember   = "unknown_member"
	ReasonUnknownKey      = "unknown_key"
	ReasonAlgorithm       = "alg"
	ReasonSignature       = "signature"
	ReasonType            = "typ"
	ReasonExpiry          = "exp"
	ReasonMethod          = "method"
	ReasonHost            = "host"
	ReasonPath            = "path"
	ReasonQuery           = "query"
	ReasonBody            = "body"
	ReasonReplay          = "replay"
)

// MaxTTL is how far ahead "exp" may be.
const MaxTTL = 60 * time.Second

// Config configures the mock.
type Config struct {
	// Members maps a member ID (mid) to its registered public keys, each with its KeyID.
	Members map[string][]*signer.PublicKey
	// Skew is the clock tolerance on exp; default 5s.
	Skew time.Duration
	// ReplayProtection refuses a signature seen before.
	ReplayProtection bool
	// MaxBody bounds the bodies read; default 10 MiB.
	MaxBody int64
	// Now is the server clock; default time.Now.
	Now func() time.Time
	// OnReject, when set, is told about every refused request.
	OnReject func(reason, message string)
}

// Echo is what a verified request is answered with.
type Echo struct {
	Method     string `json:"method"`
	Host       string `json:"host"`
	Path       string `json:"path"`
	Query      string `json:"query,omitempty"`
	BodySHA256 string `json:"body_sha256"`
	BodyLength int    `json:"body_length"`
	Member     string `json:"mid"`
	KeyID      string `json:"kid"`
	Algorithm  string `json:"alg"`
	Detached   bool   `json:"detached"`
	Signature  string `json:"signature"` // the JWS signature part, to tell attempts apart
}

// Rejection is the body of a 401.
type Rejection struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// Stats are the mock's counters.
type Stats struct {
	Verified   int
	Rejections map[string]int
}

// Mock is the Soldo mock as an http.Handler.
type Mock struct {
	cfg        Config
	verifiers  map[string]*signer.Verifier // mid + "\x00" + kid
	rejections *mockhttp.Rejections

	mu       sync.Mutex
	seen     map[string]time.Time // signature -> expiry, for replay protection
	verified int
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
	return &Server{Mock: m, Served: mockhttp.Serve(m, "", nil)}, nil
}

// New returns the Mock handler.
func New(cfg Config) (*Mock, error) {
	if len(cfg.Members) == 0 {
		return nil, errors.New("soldomock: Config.Members is required")
	}
	if cfg.Skew <= 0 {
		cfg.Skew = 5 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 10 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Mock{cfg: cfg, verifiers: map[string]*signer.Verifier{}, seen: map[string]time.Time{}, rejections: mockhttp.NewRejections(cfg.OnReject)}
	for mid, keys := range cfg.Members {
		for _, k := range keys {
			if k.KeyID() == "" {
				return nil, fmt.Errorf("soldomock: member %s has a key without KeyID", mid)
			}
			v, err := signer.NewVerifier(signer.NewKeySet(k), signer.VerifyOptions{Algorithms: algorithmsFor(k)})
			if err != nil {
				return nil, err
			}
			m.verifiers[mid+"\x00"+k.KeyID()] = v
		}
	}
	return m, nil
}

// algorithmsFor lists what Soldo accepts for a key: RS256/PS256 for RSA, ES256 for P-256,
// EdDSA for Ed25519.
func algorithmsFor(k *signer.PublicKey) []signer.Algorithm {
	switch a := k.Algorithm(); a {
	case signer.RS256, signer.PS256:
		return []signer.Algorithm{signer.RS256, signer.PS256}
	default:
		return []signer.Algorithm{a}
	}
}

// ServeHTTP verifies the request and echoes what it verified.
func (m *Mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, m.cfg.MaxBody+1))
	if err != nil || int64(len(body)) > m.cfg.MaxBody {
		m.reject(w, ReasonBody, "the body could not be read or is too large")
		return
	}
	echo, reason, msg := m.verify(r, body)
	if reason != "" {
		m.reject(w, reason, msg)
		return
	}
	m.mu.Lock()
	m.verified++
	m.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(echo)
}

// verify checks a request's signature and the header fields that bind it to the request,
// and returns what it verified or the reason to refuse it.
func (m *Mock) verify(r *http.Request, body []byte) (Echo, string, string) {
	token, u, v, reason, msg := m.identify(r)
	if reason != "" {
		return Echo{}, reason, msg
	}
	verified, reason, msg := verifySignature(v, token, u, body)
	if reason != "" {
		return Echo{}, reason, msg
	}
	exp, reason, msg := m.checkHeader(r, verified.Header)
	if reason != "" {
		return Echo{}, reason, msg
	}
	if m.replayed(u.Signature, exp) {
		return Echo{}, ReasonReplay, "this signature was already used"
	}
	sum := sha256.Sum256(body)
	mid, _ := u.HeaderString("mid")
	kid, _ := u.HeaderString("kid")
	return Echo{Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, BodySHA256: hex.EncodeToString(sum[:]), BodyLength: len(body),
		Member: mid, KeyID: kid, Algorithm: string(verified.Algorithm), Detached: u.Detached, Signature: u.Signature}, "", ""
}

// identify reads the JWS of the Authorization header, without verifying it, and finds the
// verifier of its member and key.
func (m *Mock) identify(r *http.Request) (string, *signer.Unverified, *signer.Verifier, string, string) {
	auth := r.Header.Values("Authorization")
	if len(auth) != 1 || !strings.HasPrefix(auth[0], "Bearer ") {
		return "", nil, nil, ReasonNoAuthorization, "exactly one Authorization: Bearer <jws> header is required"
	}
	token := strings.TrimPrefix(auth[0], "Bearer ")
	u, err := signer.DecodeUnverified(token)
	if err != nil {
		return "", nil, nil, ReasonMalformed, "the JWS must be three dot-separated parts with a base64url JSON header"
	}
	mid, _ := u.HeaderString("mid")
	kid, _ := u.HeaderString("kid")
	if _, ok := m.cfg.Members[mid]; !ok {
		return "", nil, nil, ReasonUnknownMember, "mid is not a registered member"
	}
	v := m.verifiers[mid+"\x00"+kid]
	if v == nil {
		return "", nil, nil, ReasonUnknownKey, "kid is not a key registered for this member"
	}
	return token, u, v, "", ""
}

// verifySignature checks the signature over the header and the exact body received
// (detached), or over the header and the payload, which must be the body (attached).
func verifySignature(v *signer.Verifier, token string, u *signer.Unverified, body []byte) (*signer.Verified, string, string) {
	var verified *signer.Verified
	var err error
	if u.Detached {
		verified, err = v.VerifyDetached(token, body)
	} else {
		verified, err = v.Verify(token)
	}
	switch {
	case errors.Is(err, signer.ErrAlgNone), errors.Is(err, signer.ErrAlgHMAC), errors.Is(err, signer.ErrAlgNotAllowed):
		return nil, ReasonAlgorithm, "alg is not allowed for this key"
	case errors.Is(err, signer.ErrInvalidSignature):
		return nil, ReasonSignature, "the signature does not verify over the header and the exact body bytes received"
	case err != nil:
		return nil, ReasonMalformed, "the JWS is malformed"
	case !u.Detached && string(verified.Payload) != string(body):
		return nil, ReasonBody, "the JWS payload differs from the request body"
	}
	return verified, "", ""
}

// checkHeader checks typ, exp, and that method, host, path and query name the request
// received; it returns exp in Unix milliseconds.
func (m *Mock) checkHeader(r *http.Request, h map[string]json.RawMessage) (int64, string, string) {
	if str(h["typ"]) != "jwt" {
		return 0, ReasonType, `typ must be "jwt"`
	}
	exp, ok := millis(h["exp"])
	now := m.cfg.Now()
	if !ok {
		return 0, ReasonExpiry, "exp must be Unix milliseconds (a number or a string of digits)"
	}
	if t := time.UnixMilli(exp); !t.After(now.Add(-m.cfg.Skew)) {
		return 0, ReasonExpiry, "exp is in the past"
	} else if t.After(now.Add(MaxTTL + m.cfg.Skew)) {
		return 0, ReasonExpiry, "exp is more than 60 s ahead (is it in seconds instead of milliseconds?)"
	}
	method := str(h["method"])
	if method != strings.ToUpper(r.Method) || method != strings.ToUpper(method) {
		return 0, ReasonMethod, "method must be the request's method, upper case"
	}
	if str(h["host"]) != r.Host {
		return 0, ReasonHost, "host must be the Host the request was sent to"
	}
	if str(h["path"]) != r.URL.Path {
		return 0, ReasonPath, "path must be the request's path, decoded (not URL-encoded)"
	}
	q, hasQuery := h["query"]
	if (hasQuery && str(q) != r.URL.RawQuery) || (!hasQuery && r.URL.RawQuery != "") {
		return 0, ReasonQuery, "query must be the raw query string as sent, without '?'"
	}
	return exp, "", ""
}

// replayed reports whether replay protection is on and the signature was seen before; it
// remembers the signature until exp (Unix milliseconds).
func (m *Mock) replayed(signature string, exp int64) bool {
	if !m.cfg.ReplayProtection {
		return false
	}
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for sig, until := range m.seen {
		if now.After(until.Add(m.cfg.Skew)) {
			delete(m.seen, sig)
		}
	}
	_, seen := m.seen[signature]
	m.seen[signature] = time.UnixMilli(exp)
	return seen
}

func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// millis reads exp as a JSON number or a string of digits.
func millis(raw json.RawMessage) (int64, bool) {
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

func (m *Mock) reject(w http.ResponseWriter, reason, msg string) {
	m.rejections.Refuse(w, http.StatusUnauthorized, reason, msg)
}

// Stats returns a copy of the counters.
func (m *Mock) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Verified: m.verified, Rejections: m.rejections.Counts()}
}
