package transport_test

import (
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/finauth/finauth/transport"
)

func TestSigning_RefusesOtherOriginsAndReportsSignErrors(t *testing.T) {
	t.Parallel()
	srv := newAPI(t)
	other := newAPI(t)
	boom := errors.New("hsm offline")
	calls := 0
	s := &transport.Signing{Origins: mustOrigins(t, srv.URL), Sign: func(req *http.Request, body io.Reader) (string, error) {
		calls++
		b, _ := io.ReadAll(body)
		if string(b) == "fail" {
			return "", boom
		}
		return "Bearer sig-over-" + string(b), nil
	}}
	body := &closeTracker{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, other.URL+"/x", body)
	if _, err := s.RoundTrip(req); !errors.Is(err, transport.ErrOriginNotAllowed) || !body.closed.Load() || calls != 0 {
		t.Fatalf("foreign origin: %v", err)
	}
	body = &closeTracker{Reader: strings.NewReader("fail")}
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/x", body)
	if _, err := s.RoundTrip(req); !errors.Is(err, transport.ErrSign) || !errors.Is(err, boom) || !body.closed.Load() {
		t.Fatalf("sign error: %v", err)
	}
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/x", strings.NewReader("payload"))
	resp, err := s.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := srv.requests(); len(got) != 1 || got[0].auth != "Bearer sig-over-payload" || got[0].bodySHA != sha([]byte("payload")) {
		t.Fatalf("%+v", got)
	}
	if len(other.requests()) != 0 {
		t.Fatal("the foreign origin got a request")
	}
}

// Open Banking's layout: the signature in its own header (x-jws-signature), only on requests
// that have a body, beside the caller's Authorization, which stays as it is.
func TestSigning_OtherHeaderAndOnlyTheRequestsItApplies(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	s := &transport.Signing{Base: srv.Client().Transport, Origins: mustOrigins(t, srv.URL), Header: "x-jws-signature",
		Applies: func(r *http.Request) bool { return r.Body != nil && r.Body != http.NoBody },
		Sign: func(_ *http.Request, body io.Reader) (string, error) {
			b, _ := io.ReadAll(body)
			return "sig-over-" + string(b), nil
		}}
	for _, body := range []string{`{"amount":"1.00"}`, ""} {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/payments", rd)
		req.Header.Set("Authorization", "Bearer user-token")
		resp, err := s.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if len(seen) != 2 || seen[0].Get("X-Jws-Signature") != `sig-over-{"amount":"1.00"}` || seen[0].Get("Authorization") != "Bearer user-token" ||
		seen[1].Get("X-Jws-Signature") != "" || seen[1].Get("Authorization") != "Bearer user-token" {
		t.Fatalf("%v", seen)
	}
}

// MaxBodyBytes = math.MaxInt64 means no limit: bodies without GetBody are signed and sent
// (limit + 1 overflowed and refused every body).
func TestSigning_MaxInt64MeansNoLimit(t *testing.T) {
	t.Parallel()
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	}))
	t.Cleanup(srv.Close)
	origins := mustOrigins(t, srv.URL)
	sign := func(*http.Request, io.Reader) (string, error) { return "sig", nil }
	for name, rt := range map[string]http.RoundTripper{
		"signing": &transport.Signing{Base: srv.Client().Transport, Sign: sign, Origins: origins, MaxBodyBytes: math.MaxInt64},
		"bearer":  &transport.Bearer{Base: srv.Client().Transport, Tokens: &tokens{}, Origins: origins, MaxBodyBytes: math.MaxInt64},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/x", io.NopCloser(strings.NewReader("a body")))
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if got.Load() != "a body" {
			t.Fatalf("%s: the server got %q", name, got.Load())
		}
	}
}
