package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/signer"
)

const testKeyFile = "../signer/testdata/keys/test-rsa-pkcs8.pem"

func envOf(m map[string]string) env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func validEnv() map[string]string {
	return map[string]string{
		"PISMO_TOKEN_URL":        "https://sandbox.pismolabs.io/passport/v1/oauth2/token",
		"PISMO_PRIVATE_KEY_FILE": testKeyFile,
		"PISMO_ISSUER":           "iss@tenant", "PISMO_SUBJECT": "sub@tenant",
		"PISMO_AUDIENCE": "https://sandbox.pismolabs.io", "PISMO_TENANT_ID": "test-pbrj4",
		"PISMO_GROUP": "pismo-v2:bankaccounts:rw",
	}
}

func TestPismoConfigFromEnv_EveryProblemAtOnceByName(t *testing.T) {
	t.Parallel()
	_, err := pismoConfigFromEnv(envOf(nil))
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, name := range []string{"PISMO_TOKEN_URL", "PISMO_PRIVATE_KEY_FILE", "PISMO_ISSUER", "PISMO_SUBJECT", "PISMO_AUDIENCE", "PISMO_TENANT_ID", "PISMO_GROUP"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
	if len(ce.Problems) != 7 {
		t.Errorf("%d problems: %v", len(ce.Problems), err)
	}

	bad := validEnv()
	bad["PISMO_TOKEN_URL"] = "http://pismo.example.com/token"
	bad["PISMO_API_URL"] = "https://api.example.com, not a url"
	bad["PISMO_JWT_TTL"] = "2h"
	bad["PISMO_CUSTOM_CLAIMS"] = `["not an object"]`
	bad["PISMO_PRIVATE_KEY"] = "-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----"
	bad["PISMO_PRIVATE_KEY_PASSWORD"] = "hunter2-secret"
	_, err = pismoConfigFromEnv(envOf(bad))
	for _, name := range []string{"PISMO_TOKEN_URL", "PISMO_API_URL", "PISMO_JWT_TTL", "PISMO_CUSTOM_CLAIMS", "PISMO_PRIVATE_KEY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
	if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a secret is in the error: %v", err)
	}
}

func TestPismoConfigFromEnv_Valid(t *testing.T) {
	t.Parallel()
	e := validEnv()
	e["PISMO_JWT_TTL"] = "600"
	e["PISMO_CUSTOM_CLAIMS"] = `{"custom1":"v"}`
	e["PISMO_API_URL"] = "https://a.example.com,https://b.example.com"
	c, err := pismoConfigFromEnv(envOf(e))
	if err != nil {
		t.Fatal(err)
	}
	if c.JWTTTL != 10*time.Minute || c.CustomClaims["custom1"] != "v" || len(c.APIURLs) != 2 {
		t.Fatalf("%v", c)
	}
}

func TestPismoConfig_WrongPasswordIsNamedNotShown(t *testing.T) {
	t.Parallel()
	e := validEnv()
	e["PISMO_PRIVATE_KEY_FILE"] = "../signer/testdata/keys/test-rsa-pkcs8-encrypted.pem"
	e["PISMO_PRIVATE_KEY_PASSWORD"] = "wrong-secret-pw"
	c, err := pismoConfigFromEnv(envOf(e))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewPismoTransport(c)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "passphrase is wrong") || !strings.Contains(err.Error(), "PISMO_PRIVATE_KEY_FILE") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-pw") {
		t.Fatal("the password is in the error")
	}
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v %#v %s", c, c, c)} {
		if strings.Contains(out, "wrong-secret-pw") {
			t.Fatalf("the config prints its password: %s", out)
		}
	}
	pem, _ := os.ReadFile(testKeyFile)
	c.PrivateKeyPEM, c.PrivateKeyFile = string(pem), ""
	if strings.Contains(fmt.Sprintf("%v %+v %#v", c, c, c), "PRIVATE KEY") {
		t.Fatal("the config prints its key")
	}
}

func TestPismoJWT_ClaimsExactlyAsPismoWantsThem(t *testing.T) {
	t.Parallel()
	c, err := pismoConfigFromEnv(envOf(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	c.KeyID = "k-1"
	key, _ := signer.LoadKeyFile(testKeyFile)
	v, _ := signer.NewVerifier(signer.NewKeySet(key.Public()), signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.RS256}})
	now := time.Unix(1_700_000_000, 0)
	cases := []struct {
		account Account
		ttl     time.Duration
		custom  map[string]any
		want    string
	}{
		{Account{}, 0, nil, `{"aud":"https://sandbox.pismolabs.io","exp":1700003600,"iat":1700000000,"iss":"iss@tenant","pismo":{"group":"pismo-v2:bankaccounts:rw"},"sub":"sub@tenant","tenant_id":"test-pbrj4","uid":"test-pbrj4"}`},
		{Account{Kind: AccountToken, ID: "12345678910"}, 10 * time.Minute, nil, `{"aud":"https://sandbox.pismolabs.io","exp":1700000600,"iat":1700000000,"iss":"iss@tenant","pismo":{"group":"pismo-v2:bankaccounts:rw"},"sub":"sub@tenant","tenant_id":"test-pbrj4","uid":"12345678910"}`},
		{Account{Kind: ExternalAccountToken, ID: "ext-1"}, 0, map[string]any{"custom1": "v"}, `{"aud":"https://sandbox.pismolabs.io","customClaims":{"custom1":"v"},"exp":1700003600,"external_account_id":"ext-1","iat":1700000000,"iss":"iss@tenant","pismo":{"group":"pismo-v2:bankaccounts:rw"},"sub":"sub@tenant","tenant_id":"test-pbrj4"}`},
	}
	for _, tc := range cases {
		c.JWTTTL, c.CustomClaims = tc.ttl, tc.custom
		jwt, err := MintPismoJWT(c, tc.account, now)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Verify(jwt)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.RawHeader) != `{"alg":"RS256","kid":"k-1","typ":"JWT"}` {
			t.Fatalf("header %s", got.RawHeader)
		}
		var m map[string]any
		got.Claims(&m)
		canonical, _ := json.Marshal(m) // sorted keys
		if string(canonical) != tc.want {
			t.Errorf("claims\n got %s\nwant %s", canonical, tc.want)
		}
	}
}

func TestParseTokenResponse_Tolerant(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	jwtAccess := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1700001000}`)) + ".sig"
	ok := map[string]time.Duration{
		`{"access_token":"a","refresh_token":"r","expires_in":"3600"}`: time.Hour,
		`{"token":"a","expires_in":3600}`:                              time.Hour,
		`{"access_token":"a","expires_in":1800.0}`:                     30 * time.Minute,
		`{"access_token":"` + jwtAccess + `"}`:                         1000 * time.Second,
		`{"access_token":"` + jwtAccess + `","expires_in":"soon"}`:     1000 * time.Second,
	}
	for body, want := range ok {
		v, _, _, exp, err := parseTokenResponse("Pismo", []byte(body), now)
		if err != nil || v == "" || exp.Sub(now) != want {
			t.Errorf("%s: %v %v", body, exp.Sub(now), err)
		}
	}
	for _, body := range []string{`not json`, `{}`, `{"access_token":""}`, `{"access_token":"a"}`, `{"access_token":"a","expires_in":-5}`, `{"access_token":"a","expires_in":"0"}`, `[]`} {
		if _, _, _, _, err := parseTokenResponse("Pismo", []byte(body), now); !errors.Is(err, ErrTokenResponse) {
			t.Errorf("%s: err = %v", body, err)
		}
	}
}

func TestProviderMessage_RedactedAndBounded(t *testing.T) {
	t.Parallel()
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
	opaque := strings.Repeat("Ab9_", 12)
	code, msg := providerMessage([]byte(`{"error":"invalid_grant","message":"token ` + jwt + ` refused; previous ` + opaque + ` too"}`))
	if code != "invalid_grant" || strings.Contains(msg, "eyJ") || strings.Contains(msg, opaque) || !strings.Contains(msg, "[redacted]") {
		t.Fatalf("%q %q", code, msg)
	}
	_, msg = providerMessage([]byte(strings.Repeat("plain words ", 200)))
	if len(msg) > maxErrorMessage+3 {
		t.Fatalf("%d bytes kept", len(msg))
	}
}

func TestTokenEndpoint_RetryPolicy(t *testing.T) {
	t.Parallel()
	for status, wantAttempts := range map[int]int{500: 4, 502: 4, 503: 4, 429: 4, 501: 1, 400: 1, 401: 1, 404: 1} {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.WriteHeader(status)
		}))
		te := newTokenEndpoint("Test", srv.URL, srv.Client(), ExchangeOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond}, nil)
		_, _, err := te.post(context.Background(), "application/json", []byte(`{}`))
		srv.Close()
		var e *TokenEndpointError
		if !errors.As(err, &e) || e.Status != status || e.Attempts != wantAttempts || int(n.Load()) != wantAttempts {
			t.Errorf("%d: err %v, server saw %d", status, err, n.Load())
		}
	}
	// Connection refused: retried, then a clear error.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	te := newTokenEndpoint("Test", url, http.DefaultClient, ExchangeOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond}, nil)
	_, _, err := te.post(context.Background(), "application/json", []byte(`{"token":"secret-jwt"}`))
	if !errors.Is(err, ErrTokenExchange) || !strings.Contains(err.Error(), "after 4 attempt") || strings.Contains(err.Error(), "secret-jwt") {
		t.Fatalf("err = %v", err)
	}
}

func TestTokenEndpoint_TotalTimeoutBoundsRetries(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	te := newTokenEndpoint("Test", srv.URL, srv.Client(), ExchangeOptions{TotalTimeout: 200 * time.Millisecond}, nil)
	start := time.Now()
	_, _, err := te.post(context.Background(), "application/json", []byte(`{}`))
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestAccountIDs(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", strings.Repeat("x", 300), "a\nb"} {
		if _, err := (Account{Kind: AccountToken, ID: bad}).cacheKey(); !errors.Is(err, ErrAccountID) {
			t.Errorf("%q accepted", bad)
		}
	}
	k1, _ := Account{Kind: AccountToken, ID: "1"}.cacheKey()
	k2, _ := Account{Kind: ExternalAccountToken, ID: "1"}.cacheKey()
	if k1 == k2 || accountFromKey(k1) != (Account{Kind: AccountToken, ID: "1"}) || accountFromKey(k2) != (Account{Kind: ExternalAccountToken, ID: "1"}) {
		t.Fatal("kinds share a key or do not round-trip")
	}
}

// fullToken is a value redactTokens must hide entirely.
var fullToken = regexp.MustCompile(`^[A-Za-z0-9_\-+/=.~]{32,}$`)

func FuzzParseTokenResponse(f *testing.F) {
	for _, s := range []string{`{"access_token":"a","expires_in":"3600"}`, `{"token":"a","expires_in":3600}`, `{"access_token":"eyJhbGciOiJub25lIn0.eyJleHAiOjF9.x"}`, `{"expires_in":1e308}`} {
		f.Add([]byte(s))
	}
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		v, _, _, exp, err := parseTokenResponse("Pismo", body, now)
		if err != nil {
			if !errors.Is(err, ErrTokenResponse) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if v == "" || !exp.After(now) {
			t.Fatalf("accepted an unusable token: %q %v", v, exp)
		}
		code, msg := providerMessage(body)
		if len(msg) > maxErrorMessage+3 || strings.Contains(msg+code, v) && fullToken.MatchString(v) {
			t.Fatalf("message not bounded or token not redacted")
		}
	})
}

func TestBackoff_JitteredExponentialWithinBounds(t *testing.T) {
	t.Parallel()
	min, max := 250*time.Millisecond, 5*time.Second
	for attempt := 0; attempt < 40; attempt++ {
		ceiling := max
		if attempt < 30 && min<<attempt < max {
			ceiling = min << attempt
		}
		for range 50 {
			if d := backoff(min, max, attempt, nil); d < min || d > ceiling {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, min, ceiling)
			}
		}
	}
	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"7"}}}
	if d := backoff(min, max, 1, resp); d != 7*time.Second {
		t.Fatalf("Retry-After: 7 gave %v", d)
	}
	resp.Header.Set("Retry-After", time.Now().Add(3*time.Second).UTC().Format(http.TimeFormat))
	if d := backoff(min, max, 1, resp); d < time.Second || d > 3*time.Second {
		t.Fatalf("Retry-After as a date gave %v", d)
	}
}
