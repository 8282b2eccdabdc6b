package soldo

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigFromEnv_ProblemsByName(t *testing.T) {
	t.Parallel()
	_, err := ConfigFromLookup(envOf(nil))
	var ce *client.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	for _, name := range []string{"SOLDO_API_URL", "SOLDO_PRIVATE_KEY_FILE", "SOLDO_MEMBER_ID"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
	_, err = ConfigFromLookup(envOf(map[string]string{
		"SOLDO_API_URL": "http://soldo.example.com", "SOLDO_PRIVATE_KEY": "-----BEGIN TOPSECRET", "SOLDO_MEMBER_ID": "m:1",
		"SOLDO_JWS_TTL": "2m", "SOLDO_DETACHED": "maybe", "SOLDO_ALG": "HS256", "SOLDO_MAX_BODY_BYTES": "-1",
	}))
	for _, name := range []string{"SOLDO_API_URL", "SOLDO_JWS_TTL", "SOLDO_DETACHED", "SOLDO_ALG", "SOLDO_MAX_BODY_BYTES"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
	if strings.Contains(err.Error(), "TOPSECRET") {
		t.Fatal("a secret is in the error")
	}
	c, err := ConfigFromLookup(envOf(map[string]string{
		"SOLDO_API_URL": "https://api.soldo.example", "SOLDO_PRIVATE_KEY_FILE": "../../signer/testdata/keys/test-ec-p256-pkcs8.pem",
		"SOLDO_MEMBER_ID": "m:1", "SOLDO_KEY_ID": "k", "SOLDO_DETACHED": "false", "SOLDO_JWS_TTL": "30",
	}))
	if err != nil || !c.Attached || c.JWSTTL != 30*time.Second {
		t.Fatalf("%v %v", c, err)
	}
	if _, err := NewSigner(Config{APIURLs: []string{"https://a"}, PrivateKeyFile: "../../signer/testdata/keys/test-rsa-pkcs8.pem", MemberID: "m"}); err == nil || !strings.Contains(err.Error(), "SOLDO_KEY_ID") {
		t.Fatalf("a key without ID: %v", err)
	}
	if _, err := NewSigner(Config{APIURLs: []string{"https://a"}, PrivateKeyFile: "../../signer/testdata/keys/test-rsa-pkcs8.pem", MemberID: "m", KeyID: "k", Algorithm: "ES256"}); err == nil || !strings.Contains(err.Error(), "RSA 2048-bit key") {
		t.Fatalf("an RSA key for ES256: %v", err)
	}
}

func TestHeader_FieldsUnitsAndOrder(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_123)
	base := Config{APIURLs: []string{"https://api.example.com"}, PrivateKeyFile: "../../signer/testdata/keys/test-ec-p256-pkcs8.pem", KeyID: "1x7df4vuFUHYQCa7", MemberID: "m:QW:5z"}
	for _, c := range []struct {
		tweak func(*Config)
		url   string
		host  string
		want  string
	}{
		{nil, "https://api.example.com/transactions/O%3B5823", "",
			`{"alg":"ES256","typ":"jwt","exp":"1700000050123","mid":"m:QW:5z","kid":"1x7df4vuFUHYQCa7","method":"GET","host":"api.example.com","path":"/transactions/O;5823"}`},
		{func(c *Config) { c.ExpAsNumber, c.HostWithPort, c.JWSTTL = true, true, 10*time.Second }, "https://api.example.com?type=access&a=1", "",
			`{"alg":"ES256","typ":"jwt","exp":1700000010123,"mid":"m:QW:5z","kid":"1x7df4vuFUHYQCa7","method":"GET","host":"api.example.com:443","path":"/","query":"type=access&a=1"}`},
		{func(c *Config) { c.HostWithPort = true }, "http://[::1]:8080/x", "",
			`{"alg":"ES256","typ":"jwt","exp":"1700000050123","mid":"m:QW:5z","kid":"1x7df4vuFUHYQCa7","method":"GET","host":"[::1]:8080","path":"/x"}`},
		{nil, "https://api.example.com/x", "override.example",
			`{"alg":"ES256","typ":"jwt","exp":"1700000050123","mid":"m:QW:5z","kid":"1x7df4vuFUHYQCa7","method":"GET","host":"override.example","path":"/x"}`},
	} {
		t.Run(c.url+" "+c.host, func(t *testing.T) {
			cfg := base
			if c.tweak != nil {
				c.tweak(&cfg)
			}
			ss, err := NewSigner(cfg, WithClock(tokencachetest.NewFakeClock(now)))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", c.url, nil)
			if c.host != "" {
				req.Host = c.host
			}
			auth, err := ss.Sign(req, http.NoBody)
			if err != nil {
				t.Fatal(err)
			}
			u, err := signer.DecodeUnverified(strings.TrimPrefix(auth, "Bearer "))
			if err != nil {
				t.Fatal(err)
			}
			if !u.Detached || string(u.RawHeader) != c.want {
				t.Errorf("%s:\n got %s (detached %v)\nwant %s", c.url, u.RawHeader, u.Detached, c.want)
			}
		})
	}
	if s := fmt.Sprint(Config{PrivateKeyPEM: "SECRETPEM", PrivateKeyPassword: "SECRETPW"}); strings.Contains(s, "SECRET") {
		t.Fatal(s)
	}
}

// Each header of a Signer has a later exp than the one before, up to 5 s past now+JWSTTL;
// past that, exp falls back to now+JWSTTL (documented: duplicates become possible).
func TestHeader_ExpIsStrictlyIncreasingWithinTheDrift(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_000)
	ss, err := NewSigner(Config{APIURLs: []string{"https://api.example.com"}, PrivateKeyFile: "../../signer/testdata/keys/test-ed25519-pkcs8.pem", KeyID: "k", MemberID: "m", ExpAsNumber: true},
		WithClock(tokencachetest.NewFakeClock(now)))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/x", nil)
	want := now.Add(DefaultJWSTTL).UnixMilli()
	for i := range int64(5001) {
		if exp, _ := ss.Header(req).Get("exp"); exp != want+i {
			t.Fatalf("header %d: exp %v, want %d", i, exp, want+i)
		}
	}
	if exp, _ := ss.Header(req).Get("exp"); exp != want {
		t.Fatalf("past the drift: exp %v, want the plain %d", exp, want)
	}
}

// An internationalised host is signed in punycode, as net/http sends it; an opaque URL's
// path as it is sent; a lower-case method is refused.
func TestSign_WireForms(t *testing.T) {
	t.Parallel()
	ss, err := NewSigner(Config{APIURLs: []string{"https://api.example.com"}, PrivateKeyFile: "../../signer/testdata/keys/test-ec-p256-pkcs8.pem", KeyID: "k", MemberID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://bücher.example/a", nil)
	if h, _ := ss.Header(req).Get("host"); h != "xn--bcher-kva.example" {
		t.Fatalf("host %v", h)
	}
	req, _ = http.NewRequest(http.MethodGet, "https://api.example.com", nil)
	req.URL.Opaque = "//api.example.com/files/a%2Fb"
	if p, _ := ss.Header(req).Get("path"); p != "/files/a/b" {
		t.Fatalf("path %v", p)
	}
	req, _ = http.NewRequest("delete", "https://api.example.com/x", nil)
	if _, err := ss.Sign(req, http.NoBody); !errors.Is(err, ErrMethodCase) {
		t.Fatalf("lower-case method: %v", err)
	}
}
