package transport_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/finauth/finauth/transport"
)

func TestNewOrigins(t *testing.T) {
	t.Parallel()
	o, err := transport.NewOrigins([]string{"https://API.example.com/v1", "http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:5", "http://app.localhost:7"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for u, want := range map[string]bool{
		"https://api.example.com:443/other": true,
		"https://api.example.com:8443/":     false,
		"http://api.example.com/":           false,
		"http://127.0.0.1:8080/x":           true,
		"http://127.0.0.1:8081/x":           false,
		"http://[::1]:5/":                   true,
		"http://LOCALHOST:9/":               true,
		"http://app.localhost:7/":           true,
		"HTTPS://Api.Example.COM/":          true,
		"https://api.example.com./":         false,
		"https://api.example.co/":           false,
		"http://[::1]:6/":                   false,
		"http://localhost:90/":              false,
	} {
		t.Run(u, func(t *testing.T) {
			req, _ := http.NewRequest("GET", u, nil)
			if got := o.Allows(req.URL); got != want {
				t.Errorf("%s: %v", u, got)
			}
		})
	}
}

func TestNewOrigins_PlainHTTPOnlyForLoopbackOrWhenAllowed(t *testing.T) {
	t.Parallel()
	for _, remote := range []string{"http://api.example.com", "http://10.0.0.1:8080", "http://localhost.example.com"} {
		t.Run(remote, func(t *testing.T) {
			if _, err := transport.NewOrigins([]string{remote}, false); !errors.Is(err, transport.ErrInsecureOrigin) {
				t.Fatalf("plain http to a remote host: %v", err)
			}
			if _, err := transport.NewOrigins([]string{remote}, true); err != nil {
				t.Fatalf("explicitly allowed: %v", err)
			}
		})
	}
}

func TestNewOrigins_RefusesWhatIsNotAnOriginAndHidesPasswords(t *testing.T) {
	t.Parallel()
	for _, bad := range [][]string{nil, {""}, {"api.example.com"}, {"ftp://x"}, {"ftp://svc:hunter2@files.example"}} {
		t.Run(strings.Join(bad, ","), func(t *testing.T) {
			_, err := transport.NewOrigins(bad, false)
			if err == nil {
				t.Fatalf("%q accepted", bad)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the password shows: %v", err)
			}
		})
	}
}

// A token or signature never goes out with a Host header naming another origin than the
// URL (a Host-routing front would deliver it to that host's backend): such a request is
// refused with an *OriginError naming the Host, and nothing is sent; a Host that names the
// allowed origin (another case, the default port) is fine.
func TestRoundTrippers_AForeignHostHeaderGetsNoCredentials(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	origins := mustOrigins(t, srv.URL)
	u, _ := url.Parse(srv.URL)
	for name, rt := range map[string]http.RoundTripper{
		"bearer":  &transport.Bearer{Base: srv.Client().Transport, Tokens: &tokens{}, Origins: origins},
		"signing": &transport.Signing{Base: srv.Client().Transport, Sign: func(*http.Request, io.Reader) (string, error) { return "sig", nil }, Origins: origins},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
		req.Host = "evil.example"
		_, err := rt.RoundTrip(req)
		var oe *transport.OriginError
		if !errors.As(err, &oe) || !strings.Contains(err.Error(), "evil.example") {
			t.Errorf("%s: %v", name, err)
		}
		req.Host = strings.ToUpper(u.Host)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s, the allowed host in capitals: %v", name, err)
		}
		resp.Body.Close()
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("%d requests reached the server, want 2 (the allowed hosts only)", n)
	}
}

// Issue 31 (3): a URL whose password holds a "/" parses, but net/url reads the start of the
// password as the port ("http://svc:12/pw@host" is host "svc:12"): the refusal shows the URL
// through the one redactor, never the host net/url read.
func TestNewOrigins_RefusalsShowNoPartOfAPassword(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"http://svc:4711/Zq+x@api.example.com", "http://svc:4711?Zq#x@api.example.com/", "ftp://svc:4711/Zq@api.example.com"} {
		_, err := transport.NewOrigins([]string{raw}, false)
		if err == nil {
			t.Fatalf("%s: accepted", raw)
		}
		if strings.Contains(err.Error(), "4711") || strings.Contains(err.Error(), "Zq") {
			t.Errorf("%s: the refusal shows part of the password: %v", raw, err)
		}
	}
}
