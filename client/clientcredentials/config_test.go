package clientcredentials

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/signer"
)

const testKeyFile = "../../signer/testdata/keys/test-rsa-pkcs8.pem"

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestMiaConfigFromEnv_EveryProblemAtOnceByName(t *testing.T) {
	t.Parallel()
	_, err := MiaConfigFromLookup(envOf(nil))
	var ce *client.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	for _, name := range []string{"MIA_TOKEN_URL", "MIA_API_URL", "MIA_CLIENT_ID", "MIA_PRIVATE_KEY_FILE", "MIA_AUDIENCE", "MIA_KEY_ID"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
	_, err = MiaConfigFromLookup(envOf(map[string]string{
		"MIA_TOKEN_URL": "http://auth.example.com/oauth/token", "MIA_API_URL": "https://api.example.com", "MIA_CLIENT_ID": "c",
		"MIA_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----TOPSECRET", "MIA_PRIVATE_KEY_PASSWORD": "hunter2", "MIA_KEY_ID": "k",
		"MIA_AUDIENCE": "https://issuer", "MIA_ALG": "HS256", "MIA_ASSERTION_TTL": "2h", "MIA_SCOPE": `a "b"`,
	}))
	for _, name := range []string{"MIA_TOKEN_URL", "MIA_ALG", "MIA_ASSERTION_TTL", "MIA_SCOPE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
	if strings.Contains(err.Error(), "TOPSECRET") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a secret shows: %v", err)
	}
	c, err := MiaConfigFromLookup(envOf(map[string]string{
		"MIA_TOKEN_URL": "https://auth.example.com/oauth/token", "MIA_API_URL": "https://api.example.com", "MIA_CLIENT_ID": "c",
		"MIA_PRIVATE_KEY_FILE": testKeyFile, "MIA_KEY_ID": "k", "MIA_AUDIENCE": "https://issuer", "MIA_SCOPE": "b a,a", "MIA_ASSERTION_TTL": "90",
	}))
	if err != nil || c.AssertionTTL != 90*time.Second || scopeKey(c.Scopes) != "a b" || c.Params.Get("token_endpoint_auth_method") != "private_key_jwt" {
		t.Fatalf("%v %v", c, err)
	}
}

func TestConfig_AuthMethods(t *testing.T) {
	t.Parallel()
	base := Config{TokenURL: "https://auth.example.com/token", APIURLs: []string{"https://api.example.com"}, ClientID: "c"}
	for name, c := range map[string]struct {
		tweak func(*Config)
		want  string // a problem's text, or "" when valid
	}{
		"key":              {func(c *Config) { c.PrivateKeyFile = testKeyFile }, ""},
		"secret":           {func(c *Config) { c.ClientSecret = "s" }, ""},
		"secret post":      {func(c *Config) { c.AuthMethod, c.ClientSecret = ClientSecretPost, "s" }, ""},
		"neither":          {func(c *Config) {}, "required"},
		"both":             {func(c *Config) { c.PrivateKeyFile, c.ClientSecret, c.AuthMethod = testKeyFile, "s", PrivateKeyJWT }, "one way only"},
		"basic, no secret": {func(c *Config) { c.AuthMethod = ClientSecretBasic }, "ClientSecret"},
		"unknown method":   {func(c *Config) { c.AuthMethod = "tls_client_auth" }, "tls_client_auth"},
		"no API origin":    {func(c *Config) { c.ClientSecret, c.APIURLs = "s", nil }, "APIURLs"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := base
			c.tweak(&cfg)
			err := cfg.Validate()
			if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// go-jose, an independent implementation, verifies our assertion and reads RFC 7523's
// claims from it.
func TestMintAssertion_GoJoseVerifiesIt(t *testing.T) {
	t.Parallel()
	key, err := signer.LoadKeyFile(testKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	cfg := Config{TokenURL: "https://auth.example.com/oauth/token", ClientID: "svc", Key: key, KeyID: "k-1", Audience: "https://issuer.example"}
	a, err := MintAssertion(cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := josejwt.ParseSigned(a, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var c josejwt.Claims
	if err := tok.Claims(key.Public().Key(), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateWithLeeway(josejwt.Expected{Issuer: "svc", Subject: "svc", AnyAudience: josejwt.Audience{"https://issuer.example"}, Time: now}, 0); err != nil {
		t.Fatal(err)
	}
	if tok.Headers[0].KeyID != "k-1" || tok.Headers[0].ExtraHeaders["typ"] != "JWT" || len(c.ID) != 22 || c.Expiry.Time().Sub(c.IssuedAt.Time()) != DefaultAssertionTTL {
		t.Fatalf("header %+v, claims %+v", tok.Headers[0], c)
	}
	b, _ := MintAssertion(cfg, now)
	var c2 struct{ Jti string }
	u, _ := signer.DecodeUnverified(b)
	json.Unmarshal(u.Payload, &c2)
	if c2.Jti == c.ID {
		t.Fatal("two assertions share a jti")
	}
}
