package transport_test

import (
	"errors"
	"net/http"
	"strings"
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
