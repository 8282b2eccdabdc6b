package transport

import (
	"net/url"
	"slices"
	"testing"
)

// Allows compares without building strings; it must agree with the normalized form that
// NewOrigins lists (and errors show).
func TestOrigins_AllowsAgreesWithTheNormalizedForm(t *testing.T) {
	o, err := NewOrigins([]string{"https://API.example.com", "http://127.0.0.1", "https://[2001:DB8::1]:8443", "http://localhost:8080/x"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{
		"https://api.example.com", "https://api.example.com:443", "HTTPS://API.EXAMPLE.COM:443/a",
		"http://api.example.com", "https://api.example.com:80", "http://127.0.0.1:80/", "http://127.0.0.1",
		"http://127.0.0.1:8080", "https://[2001:db8::1]:8443/", "https://[2001:db8::1]/", "http://LOCALHOST:8080",
		"http://localhost", "ws://localhost:8080", "https://api.example.com:0443",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := o.Allows(u), slices.Contains(o.List(), Origin(u)); got != want {
			t.Errorf("%s: Allows %v, normalized form listed %v", raw, got, want)
		}
	}
	u := &url.URL{Scheme: "https", Host: "API.example.com:443"}
	if n := testing.AllocsPerRun(100, func() { o.Allows(u) }); n != 0 {
		t.Errorf("Allows allocates %v times", n)
	}
}
