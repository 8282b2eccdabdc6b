package pismomock_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/signer"
)

// By default the token endpoint answers as public Pismo clients expect: 201, access_token,
// expires_in a string of digits; the other shapes are opt-in.
func TestTokenEndpoint_Shapes(t *testing.T) {
	t.Parallel()
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-rsa-pkcs8.pem")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	jwt, err := pismo.MintJWT(pismo.Config{Key: key, Issuer: "i", Subject: "s", Audience: "a", TenantID: "t", Group: "g"}, pismo.Account{}, now)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"token": jwt})
	for _, c := range []struct {
		name    string
		shape   *pismomock.Shape
		status  int
		member  string
		expires string
	}{
		{"default", nil, http.StatusCreated, "access_token", `"3600"`},
		{"documented", ptr(pismomock.Documented), http.StatusOK, "access_token", `"3600"`},
		{"created", ptr(pismomock.TokenCreated), http.StatusCreated, "token", `3600`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := pismomock.Config{Keys: signer.NewKeySet(key.Public()), Issuer: "i", Subject: "s", Audience: "a", TenantID: "t", Group: "g", Now: func() time.Time { return now }}
			if c.shape != nil {
				cfg.Shape = *c.shape
			}
			m, err := pismomock.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, pismomock.TokenPath, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, req)
			var answer map[string]json.RawMessage
			json.Unmarshal(rec.Body.Bytes(), &answer)
			if rec.Code != c.status || answer[c.member] == nil || string(answer["expires_in"]) != c.expires {
				t.Fatalf("%d %s", rec.Code, rec.Body.Bytes())
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
