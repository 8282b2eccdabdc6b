// Package mockhttp is the HTTP plumbing the strict mocks share: JSON answers, counting
// refusals by reason, and serving a mock on a listener.
package mockhttp

import (
	"crypto/tls"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Refusal is the body of a refused request: the reason (a mock's Reason constant) and a
// message saying what to fix.
type Refusal struct {
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

// Rejections counts a mock's refusals by reason and tells its OnReject hook. Safe for
// concurrent use.
type Rejections struct {
	hook   func(reason, message string)
	mu     sync.Mutex
	counts map[string]int
}

// NewRejections returns a counter calling hook (may be nil) on every refusal.
func NewRejections(hook func(reason, message string)) *Rejections {
	return &Rejections{hook: hook, counts: map[string]int{}}
}

// Count records a refusal without answering (for a refusal the caller answers itself).
func (r *Rejections) Count(reason, message string) {
	r.mu.Lock()
	r.counts[reason]++
	r.mu.Unlock()
	if r.hook != nil {
		r.hook(reason, message)
	}
}

// Refuse records a refusal and answers status with {"error": reason, "message": message}.
func (r *Rejections) Refuse(w http.ResponseWriter, status int, reason, message string) {
	r.Count(reason, message)
	WriteJSON(w, status, Refusal{Error: reason, Message: message})
}

// Counts returns a copy of the counts by reason.
func (r *Rejections) Counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.counts)
}

// Served is a mock on a loopback port, as every mock package's Server embeds it: the
// httptest server (URL, Client, Close) and the URL of the mock's token endpoint.
type Served struct {
	*httptest.Server
	tokenPath string
}

// Serve starts h on a loopback port, over TLS with tc when tc is not nil; tokenPath is the
// path of its token endpoint ("" for a mock without one).
func Serve(h http.Handler, tokenPath string, tc *tls.Config) Served {
	srv := httptest.NewUnstartedServer(h)
	if tc == nil {
		srv.Start()
	} else {
		srv.TLS = tc
		srv.StartTLS()
	}
	return Served{Server: srv, tokenPath: tokenPath}
}

// TokenURL is the token endpoint's URL.
func (s Served) TokenURL() string { return s.URL + s.tokenPath }

// ListenTLS is Listen over TLS with tc (plain HTTP when tc is nil).
func ListenTLS(addr string, h http.Handler, tc *tls.Config) (*http.Server, net.Addr, error) {
	if tc == nil {
		return Listen(addr, h)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tc}
	go srv.Serve(tls.NewListener(l, tc))
	return srv, l.Addr(), nil
}

// Listen serves h on addr (":8081", "127.0.0.1:0", ...) until the returned server is shut
// down, and returns the address it really listens on.
func Listen(addr string, h http.Handler) (*http.Server, net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return srv, l.Addr(), nil
}

// The reasons an API call's bearer token is refused, the same in every mock.
const (
	ReasonNoToken      = "missing_token" // no bearer token
	ReasonInvalidToken = "invalid_token" // a token the mock did not issue
	ReasonExpiredToken = "expired_token" // past its lifetime
	ReasonRevokedToken = "revoked_token" // revoked
	ReasonInjected401  = "injected_401"  // a Fail401 fault
)

// Grant is what a mock keeps of an access token it issued (its own record embeds it).
type Grant struct {
	Expires time.Time
	Revoked bool
	Uses    int // successful API calls made with it
}

// Live reports whether the token can still be used at now.
func (g *Grant) Live(now time.Time) bool { return !g.Revoked && now.Before(g.Expires) }

// Judge reads r's bearer token and says why the call is refused (one of the reasons above),
// or "" when it may go on: grant finds the token's Grant (nil: not issued), inject401 says
// whether an injected 401 is due (asked only of a call that sent a token). The caller holds
// whatever lock grant needs.
func Judge(r *http.Request, now time.Time, grant func(token string) *Grant, inject401 func() bool) (token, reason string) {
	token, sent := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var g *Grant
	if sent && token != "" {
		g = grant(token)
	}
	switch {
	case !sent || token == "":
		return token, ReasonNoToken
	case inject401():
		return token, ReasonInjected401
	case g == nil:
		return token, ReasonInvalidToken
	case g.Revoked:
		return token, ReasonRevokedToken
	case !now.Before(g.Expires):
		return token, ReasonExpiredToken
	}
	return token, ""
}
