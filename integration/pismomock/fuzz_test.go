package pismomock_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/signer"
)

// FuzzTokenEndpoint throws arbitrary bodies at the mock's token endpoint. It must never
// panic, and it may issue a token only for a JWT that the registered key really signed.
func FuzzTokenEndpoint(f *testing.F) {
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-rsa-pkcs8.pem")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	mc := pismomock.Config{Keys: signer.NewKeySet(key.Public()), Issuer: "i", Subject: "s", Audience: "a", TenantID: "t", Group: "g", Now: func() time.Time { return now }}
	m, err := pismomock.New(mc)
	if err != nil {
		f.Fatal(err)
	}
	cfg := pismo.Config{TokenURL: "https://x/t", Key: key, Issuer: "i", Subject: "s", Audience: "a", TenantID: "t", Group: "g"}
	signed := map[string]bool{}
	for _, acct := range []pismo.Account{{}, {Kind: pismo.AccountToken, ID: "1"}, {Kind: pismo.ExternalAccountToken, ID: "e"}} {
		jwt, err := pismo.MintJWT(cfg, acct, now)
		if err != nil {
			f.Fatal(err)
		}
		signed[jwt[:strings.LastIndex(jwt, ".")]] = true
		body, _ := json.Marshal(map[string]string{"token": jwt})
		f.Add(body)
	}
	f.Add([]byte(`{"token":"eyJhbGciOiJub25lIn0.e30."}`))
	f.Add([]byte(`{"token":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, pismomock.TokenPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusCreated {
			return
		}
		var r struct {
			Token string `json:"token"`
		}
		json.Unmarshal(body, &r)
		i := strings.LastIndex(r.Token, ".")
		if i < 0 || !signed[r.Token[:i]] {
			t.Fatalf("issued a token for a JWT nobody signed: %q", body)
		}
	})
}
