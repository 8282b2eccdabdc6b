package miamock_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/integration/miamock"
	"github.com/finauth/finauth/signer"
)

// FuzzTokenEndpoint throws arbitrary form bodies at the token endpoint. It must never
// panic, and it may issue a token only for an assertion the registered key really signed
// (checked by go-jose, an independent verifier: the seeds' jti are random, so a set of known
// assertions would differ between the fuzzing processes).
func FuzzTokenEndpoint(f *testing.F) {
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-rsa-pkcs8.pem")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	m, err := miamock.New(miamock.Config{Issuer: "https://issuer", Now: func() time.Time { return now }, Secrets: map[string]string{"s": "pw"}})
	if err != nil {
		f.Fatal(err)
	}
	jwk, _ := json.Marshal(key.Public().WithKeyID("k"))
	if err := m.Register("c", jwk); err != nil {
		f.Fatal(err)
	}
	cfg := clientcredentials.Config{TokenURL: "https://x/oauth/token", ClientID: "c", Key: key, KeyID: "k", Audience: "https://issuer"}
	for range 3 {
		a, err := clientcredentials.MintAssertion(cfg, now)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_assertion_type": {miamock.AssertionType}, "client_assertion": {a}}.Encode())
	}
	f.Add("grant_type=client_credentials&client_id=s&client_secret=pw")
	f.Add("grant_type=client_credentials&client_assertion_type=" + url.QueryEscape(miamock.AssertionType) + "&client_assertion=eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, miamock.TokenPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return
		}
		form, _ := url.ParseQuery(body)
		if a := form.Get("client_assertion"); a != "" {
			tok, err := josejwt.ParseSigned(a, []jose.SignatureAlgorithm{jose.RS256})
			var c josejwt.Claims
			if err != nil || tok.Claims(key.Public().Key(), &c) != nil || c.Issuer != "c" || c.Subject != "c" || c.ID == "" {
				t.Fatalf("issued a token for an assertion the key did not sign: %q", body)
			}
			return
		}
		if form.Get("client_secret") != "pw" || form.Get("client_id") != "s" {
			t.Fatalf("issued a token without the secret: %q", body)
		}
	})
}
