package main

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strconv"
	"sync"
)

// StatsPath serves each mock's counters as JSON, on the mock's own address.
const StatsPath = "/_mock/stats"

// mockStats is what GET /_mock/stats answers.
type mockStats struct {
	Mock string `json:"mock"`
	// TokensIssued counts the tokens the mock issued; TokensByKind splits them (by grant,
	// method) where the mock has kinds.
	TokensIssued int            `json:"tokens_issued"`
	TokensByKind map[string]int `json:"tokens_by_kind,omitempty"`
	// SignaturesVerified counts the request signatures a signing mock (Soldo) accepted.
	SignaturesVerified int `json:"signatures_verified,omitempty"`
	// Refusals counts refused requests by reason (token and API requests alike).
	Refusals map[string]int `json:"refusals"`
	// APIAnswers counts the answers to everything but the token endpoints, by status.
	APIAnswers map[string]int `json:"api_answers"`
}

// counted is a mock's handler with /healthz, GET /_mock/stats and a count of its API
// answers by status (tokenPaths are not API calls).
type counted struct {
	name       string
	h          http.Handler
	stats      func() mockStats // the mock's own counters; nil: none
	tokenPaths map[string]bool

	mu      sync.Mutex
	answers map[string]int
}

// withStats wraps a mock's handler.
func withStats(name string, h http.Handler, stats func() mockStats, tokenPaths ...string) *counted {
	c := &counted{name: name, h: h, stats: stats, tokenPaths: map[string]bool{}, answers: map[string]int{}}
	for _, p := range tokenPaths {
		c.tokenPaths[p] = true
	}
	return c
}

func (c *counted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz":
		io.WriteString(w, "ok\n")
		return
	case r.URL.Path == StatsPath && r.Method == http.MethodGet:
		var s mockStats
		if c.stats != nil {
			s = c.stats()
		}
		s.Mock = c.name
		if s.Refusals == nil {
			s.Refusals = map[string]int{}
		}
		c.mu.Lock()
		s.APIAnswers = maps.Clone(c.answers)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
		return
	case c.tokenPaths[r.URL.Path]:
		c.h.ServeHTTP(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	c.h.ServeHTTP(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	c.mu.Lock()
	c.answers[strconv.Itoa(sw.status)]++
	c.mu.Unlock()
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// merged adds b's counts to a's.
func merged(a, b map[string]int) map[string]int {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]int{}
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}
