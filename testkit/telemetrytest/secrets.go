package telemetrytest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Secrets collects every secret a test's flows send or receive (tokens, refresh tokens,
// JWTs, signatures, client secrets, codes, account IDs), so that a test can check that none
// of them reached the telemetry.
type Secrets struct {
	mu  sync.Mutex
	set map[string]bool
}

// secretFields are the request and response members that hold secrets.
var secretFields = []string{"access_token", "refresh_token", "id_token", "token", "client_secret", "client_secret_string",
	"client_assertion", "code", "secret_key", "password", "request"}

// Add records values (shorter than 6 characters are too common to search for).
func (s *Secrets) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = map[string]bool{}
	}
	for _, v := range values {
		if v = strings.TrimSpace(v); len(v) >= 6 {
			s.set[v] = true
		}
	}
}

// Len is how many secrets were recorded.
func (s *Secrets) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.set)
}

// Transport records the secrets of every request through base (its Authorization,
// x-jws-signature, DPoP proof, RFC 9421 Signature and the secret members of its body) and of
// every answer's body.
func (s *Secrets) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return capture{s: s, base: base}
}

type capture struct {
	s    *Secrets
	base http.RoundTripper
}

func (c capture) RoundTrip(req *http.Request) (*http.Response, error) {
	if a := req.Header.Get("Authorization"); a != "" {
		_, v, _ := strings.Cut(a, " ")
		c.s.Add(a, v)
	}
	c.s.Add(req.Header.Get("x-jws-signature"), req.Header.Get("DPoP"), req.Header.Get("Signature"))
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		c.s.body(b)
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	resp, err := c.base.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.s.body(b)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// body records the secret members of a JSON or form body.
func (s *Secrets) body(b []byte) {
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		for _, f := range secretFields {
			if v, ok := m[f].(string); ok {
				s.Add(v)
			}
		}
		return
	}
	if form, err := url.ParseQuery(string(b)); err == nil {
		for _, f := range secretFields {
			s.Add(form.Get(f))
		}
	}
}

// AssertAbsent fails the test for each secret found in text.
func (s *Secrets) AssertAbsent(t testing.TB, text string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for v := range s.set {
		if strings.Contains(text, v) {
			t.Errorf("a secret (%d characters, starting %.4q) is in the telemetry", len(v), v)
		}
	}
}
