package dpop_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/signer/dpop"
)

func reason(err error) string {
	var e *dpop.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// A proof has what RFC 9449 section 4.2 asks, and verifies; every claim, the header and the
// key are checked, each refusal with its reason.
func TestProof_VerifiesAndEachFaultIsRefused(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"test-ec-p256-pkcs8.pem", "test-rsa-pkcs8.pem", "test-ed25519-pkcs8.pem"} {
		key, err := signer.LoadKeyFile("../testdata/keys/" + file)
		if err != nil {
			t.Fatal(err)
		}
		p, err := dpop.NewProver(key, dpop.Options{})
		if err != nil {
			t.Fatal(err)
		}
		proof, err := p.Proof("GET", "https://RS.example:443/accounts?x=1#f", "at-1")
		if err != nil {
			t.Fatal(err)
		}
		u, _ := signer.DecodeUnverified(proof)
		var header map[string]any
		json.Unmarshal(u.RawHeader, &header)
		jwk, _ := header["jwk"].(map[string]any)
		if header["typ"] != "dpop+jwt" || jwk == nil || header["kid"] != nil || jwk["d"] != nil || jwk["kid"] != nil {
			t.Fatalf("%s: header %v", file, header)
		}
		var claims map[string]any
		json.Unmarshal(u.Payload, &claims)
		if claims["htu"] != "https://rs.example/accounts" || claims["htm"] != "GET" || claims["ath"] != dpop.AccessTokenHash("at-1") || claims["jti"] == "" {
			t.Fatalf("%s: claims %v", file, claims)
		}
		o := dpop.VerifyOptions{Method: "GET", URL: "https://rs.example/accounts", AccessToken: "at-1", Thumbprint: p.Thumbprint()}
		got, err := dpop.Verify(proof, o)
		if err != nil || got.Thumbprint != p.Thumbprint() {
			t.Fatalf("%s: %v", file, err)
		}
		// Every proof is new (jti).
		again, _ := p.Proof("GET", "https://rs.example/accounts", "at-1")
		if g2, _ := dpop.Verify(again, o); g2 == nil || g2.JTI == got.JTI {
			t.Fatalf("%s: the jti repeats", file)
		}
		other, _ := dpop.GenerateProver(dpop.Options{})
		for want, c := range map[string]dpop.VerifyOptions{
			"htm":            {Method: "POST", URL: o.URL, AccessToken: "at-1"},
			"htu":            {Method: "GET", URL: "https://rs.example/payments", AccessToken: "at-1"},
			"ath":            {Method: "GET", URL: o.URL, AccessToken: "at-2"},
			"key":            {Method: "GET", URL: o.URL, AccessToken: "at-1", Thumbprint: other.Thumbprint()},
			"use_dpop_nonce": {Method: "GET", URL: o.URL, AccessToken: "at-1", Nonce: "n-1"},
			"iat":            {Method: "GET", URL: o.URL, AccessToken: "at-1", Now: func() time.Time { return time.Now().Add(5 * time.Minute) }},
		} {
			if _, err := dpop.Verify(proof, c); reason(err) != want {
				t.Errorf("%s: %s: %v", file, want, err)
			}
		}
	}
	// At the token endpoint, no ath; a proof with ath is refused there.
	p, _ := dpop.GenerateProver(dpop.Options{})
	tp, _ := p.Proof("POST", "https://as.example/token", "")
	if _, err := dpop.Verify(tp, dpop.VerifyOptions{Method: "POST", URL: "https://as.example/token"}); err != nil {
		t.Fatal(err)
	}
	withATH, _ := p.Proof("POST", "https://as.example/token", "x")
	if _, err := dpop.Verify(withATH, dpop.VerifyOptions{Method: "POST", URL: "https://as.example/token"}); reason(err) != "ath" {
		t.Fatalf("ath at the token endpoint: %v", err)
	}
	// Not a proof: no header, a JWT of another typ, a tampered signature.
	if _, err := dpop.Verify("", dpop.VerifyOptions{}); reason(err) != "missing" {
		t.Fatal(err)
	}
	key, _ := signer.GenerateKey(signer.ES256)
	s, _ := signer.New(key, signer.Options{Type: "JWT"})
	jwt, _ := s.SignJWT(map[string]any{"htm": "POST"})
	if _, err := dpop.Verify(jwt, dpop.VerifyOptions{Method: "POST", URL: "https://as.example/token"}); reason(err) != "typ" {
		t.Fatalf("typ JWT: %v", err)
	}
	tampered := tp[:len(tp)-4] + "AAAA"
	if _, err := dpop.Verify(tampered, dpop.VerifyOptions{Method: "POST", URL: "https://as.example/token"}); reason(err) != "signature" {
		t.Fatalf("tampered: %v", err)
	}
}

// The transport adds a proof (with ath) to DPoP requests only, remembers the nonce a server
// gives, and sends a request again once, body and all, when the server asks for a nonce;
// a server that keeps asking gets its 401 back after that one retry.
func TestTransport_NonceFromTheResourceServer(t *testing.T) {
	t.Parallel()
	p, _ := dpop.GenerateProver(dpop.Options{})
	var mu sync.Mutex
	nonce := "n-1"
	var seen, bodies []string
	var stubborn atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, string(body))
		if r.Header.Get("Authorization") == "Bearer b" {
			if r.Header.Get("DPoP") != "" {
				t.Error("a proof on a Bearer request")
			}
			return
		}
		if stubborn.Load() {
			nonce += "x" // a new nonce every time: the client cannot keep up
		}
		pr, err := dpop.Verify(r.Header.Get("DPoP"), dpop.VerifyOptions{Method: r.Method, URL: "http://" + r.Host + r.URL.Path, AccessToken: "at-1", Nonce: nonce, Thumbprint: p.Thumbprint()})
		seen = append(seen, reason(err))
		if err != nil {
			w.Header().Set("DPoP-Nonce", nonce)
			w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = pr
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	tr := p.Transport(srv.Client().Transport)
	post := func() int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/payments", strings.NewReader(`{"a":1}`))
		req.Header.Set("Authorization", "DPoP at-1")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != http.StatusCreated {
		t.Fatalf("first: %d", code)
	}
	if code := post(); code != http.StatusCreated { // the nonce is remembered: one request
		t.Fatalf("second: %d", code)
	}
	mu.Lock()
	if strings.Join(seen, ",") != "use_dpop_nonce,," || strings.Join(bodies, "|") != `{"a":1}|{"a":1}|{"a":1}` || tr.NonceRetries() != 1 {
		t.Fatalf("seen %q, bodies %q, retries %d", seen, bodies, tr.NonceRetries())
	}
	mu.Unlock()
	stubborn.Store(true)
	if code := post(); code != http.StatusUnauthorized || tr.NonceRetries() != 2 {
		t.Fatalf("a server that keeps asking: %d, %d retries", code, tr.NonceRetries())
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
	req.Header.Set("Authorization", "Bearer b")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// WWW-Authenticate as servers write it: several challenges, quoted and token values.
func TestAsksForNonce(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{
		`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`: true,
		`Bearer realm="x", DPoP algs="ES256 PS256", error=use_dpop_nonce`:                               true,
		`DPoP error="invalid_token"`:                  false,
		`Bearer error="use_dpop_nonce"`:               false,
		`Basic YWxhZGRpbjpvcGVuc2VzYW1l, DPoP error=`: false,
		`DPoP`: false,
	} {
		if got := dpop.AsksForNonce([]string{v}); got != want {
			t.Errorf("%s: %v", v, got)
		}
	}
}
