package pismo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/signer"
)

const testKeyFile = "../../signer/testdata/keys/test-rsa-pkcs8.pem"

func envOf(m map[string]string) func(string) (string, bool) {
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

func TestConfigFromEnv_EveryProblemAtOnceByName(t *testing.T) {
	t.Parallel()
	_, err := ConfigFromLookup(envOf(nil))
	var ce *client.ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, client.ErrConfig) {
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
	_, err = ConfigFromLookup(envOf(bad))
	for _, name := range []string{"PISMO_TOKEN_URL", "PISMO_API_URL", "PISMO_JWT_TTL", "PISMO_CUSTOM_CLAIMS", "PISMO_PRIVATE_KEY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
	if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a secret is in the error: %v", err)
	}
}

func TestConfigFromEnv_Valid(t *testing.T) {
	t.Parallel()
	e := validEnv()
	e["PISMO_JWT_TTL"] = "600"
	e["PISMO_CUSTOM_CLAIMS"] = `{"custom1":"v"}`
	e["PISMO_API_URL"] = "https://a.example.com,https://b.example.com"
	c, err := ConfigFromLookup(envOf(e))
	if err != nil {
		t.Fatal(err)
	}
	if c.JWTTTL != 10*time.Minute || c.CustomClaims["custom1"] != "v" || len(c.APIURLs) != 2 {
		t.Fatalf("%v", c)
	}
}

func TestConfig_WrongPasswordIsNamedNotShown(t *testing.T) {
	t.Parallel()
	e := validEnv()
	e["PISMO_PRIVATE_KEY_FILE"] = "../../signer/testdata/keys/test-rsa-pkcs8-encrypted.pem"
	e["PISMO_PRIVATE_KEY_PASSWORD"] = "wrong-secret-pw"
	c, err := ConfigFromLookup(envOf(e))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewTransport(c)
	if !errors.Is(err, client.ErrConfig) || !strings.Contains(err.Error(), "passphrase is wrong") || !strings.Contains(err.Error(), "PISMO_PRIVATE_KEY_FILE") {
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
	c.PrivateKeyPEM, c.PrivateKeyFile = client.Secret(pem), ""
	if strings.Contains(fmt.Sprintf("%v %+v %#v", c, c, c), "PRIVATE KEY") {
		t.Fatal("the config prints its key")
	}
}

func TestJWT_ClaimsExactlyAsPismoWantsThem(t *testing.T) {
	t.Parallel()
	c, err := ConfigFromLookup(envOf(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	c.KeyID = "k-1"
	key, _ := signer.LoadKeyFile(testKeyFile)
	v, _ := signer.NewVerifier(signer.NewKeySet(key.Public()), signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.RS256}})
	now := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name    string
		account Account
		ttl     time.Duration
		custom  map[string]any
		want    string
	}{
		{"tenant", Account{}, 0, nil, `{"aud":"https://sandbox.pismolabs.io","exp":1700003600,"iat":1700000000,"iss":"iss@tenant","pismo":{"group":"pismo-v2:bankaccounts:rw"},"sub":"sub@tenant","tenant_id":"test-pbrj4","uid":"test-pbrj4"}`},
		{"account", Account{Kind: AccountToken, ID: "12345678910"}, 10 * time.Minute, nil, `{"aud":"https://sandbox.pismolabs.io","exp":1700000600,"iat":1700000000,"iss":"iss@tenant","pismo":{"group":"pismo-v2:bankaccounts:rw"},"sub":"sub@tenant","tenant_id":"test-pbrj4","uid":"12345678910"}`},
		{"external account with custom claims", Account{Kind: ExternalAccountToken, ID: "ext-1"}, 0, map[string]any{"custom1": "v"}, `{"aud":"https://sandbox.pismolabs.io","customClaims":{"custom1":"v"},"exp":1700003600,"external_account_id":"ext-1","iat":1700000000,"iss":"iss@tenant","pismo":{"group":"pismo-v2:bankaccounts:rw"},"sub":"sub@tenant","tenant_id":"test-pbrj4"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c
			c.JWTTTL, c.CustomClaims = tc.ttl, tc.custom
			jwt, err := MintJWT(c, tc.account, now)
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
		})
	}
}

func TestAccountIDs(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", strings.Repeat("x", 300), "a\nb"} {
		t.Run(fmt.Sprintf("%q", bad), func(t *testing.T) {
			if _, err := (Account{Kind: AccountToken, ID: bad}).cacheKey(); !errors.Is(err, ErrAccountID) {
				t.Errorf("%q accepted", bad)
			}
		})
	}
	k1, _ := Account{Kind: AccountToken, ID: "1"}.cacheKey()
	k2, _ := Account{Kind: ExternalAccountToken, ID: "1"}.cacheKey()
	if k1 == k2 || accountFromKey(k1) != (Account{Kind: AccountToken, ID: "1"}) || accountFromKey(k2) != (Account{Kind: ExternalAccountToken, ID: "1"}) {
		t.Fatal("kinds share a key or do not round-trip")
	}
}

// Each method asks for its own variables, all problems at once, by name; the secrets never
// show.
func TestConfigFromLookup_EachMethodNamesWhatItNeeds(t *testing.T) {
	t.Parallel()
	for method, wants := range map[string][]string{
		"oauth2": {"PISMO_CLIENT_ID", "required when PISMO_AUTH_METHOD=oauth2", "PISMO_CLIENT_SECRET", "PISMO_SCOPES"},
		"basic":  {"PISMO_SERVER_KEY", "required when PISMO_AUTH_METHOD=basic", "PISMO_SECRET_KEY"},
		"saml":   {"PISMO_AUTH_METHOD", `"saml" is not openid, oauth2 or basic`},
	} {
		_, err := ConfigFromLookup(func(k string) (string, bool) {
			switch k {
			case "PISMO_AUTH_METHOD":
				return method, true
			case "PISMO_TOKEN_URL":
				return "https://sandbox.pismolabs.io/passport/v2/oauth/token", true
			}
			return "", false
		})
		for _, want := range wants {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v does not say %q", method, err, want)
			}
		}
		if err != nil && strings.Contains(err.Error(), "PISMO_ISSUER") {
			t.Errorf("%s asks for the OpenID claims: %v", method, err)
		}
	}
	env := map[string]string{"PISMO_AUTH_METHOD": "oauth2", "PISMO_TOKEN_URL": "https://sandbox.pismolabs.io/passport/v2/oauth/token",
		"PISMO_CLIENT_ID": "sk", "PISMO_CLIENT_SECRET": "SECRET-VALUE", "PISMO_SCOPES": "pismo-v1:accounts:rw,pismo-v1:cards:rw"}
	c, err := ConfigFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || len(c.Scopes) != 2 || c.AuthMethod != OAuth2 || strings.Contains(fmt.Sprintf("%+v %s", c, c), "SECRET-VALUE") {
		t.Fatalf("%v %+v", err, c)
	}
}
