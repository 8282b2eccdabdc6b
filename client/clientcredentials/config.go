package clientcredentials

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/signer"
)

// AuthMethod is how the client authenticates at the token endpoint (RFC 7591 names).
type AuthMethod string

// The client authentication methods.
const (
	// PrivateKeyJWT sends a client assertion signed with the client's key (RFC 7523).
	PrivateKeyJWT AuthMethod = "private_key_jwt"
	// ClientSecretBasic sends the secret in an HTTP Basic Authorization header.
	ClientSecretBasic AuthMethod = "client_secret_basic"
	// ClientSecretPost sends the secret as the client_secret form parameter.
	ClientSecretPost AuthMethod = "client_secret_post"
)

// DefaultAssertionTTL is the default lifetime of a client assertion.
const DefaultAssertionTTL = 5 * time.Minute

// MaxAssertionTTL is the longest assertion lifetime accepted: an assertion is a short-lived
// proof of possession, and servers refuse long ones.
const MaxAssertionTTL = time.Hour

// Config configures a client-credentials client. It prints (fmt, every verb), marshals
// (encoding/json) and logs (log/slog) with secrets and URL passwords redacted.
type Config struct {
	// TokenURL is the token endpoint, e.g. https://auth.example.com/oauth/token. Required.
	TokenURL string
	// APIURLs are the origins that receive the access token. Required: a token endpoint's
	// origin is rarely the API's.
	APIURLs []string
	// ClientID is the registered client's ID. Required.
	ClientID string
	// AuthMethod; default PrivateKeyJWT when a key is set, else ClientSecretBasic.
	AuthMethod AuthMethod
	// ClientSecret, for the client_secret methods.
	ClientSecret client.Secret

	// The private key, for PrivateKeyJWT: Key (any signer.Key, including a KMS/HSM one),
	// else PrivateKeyPEM (the key file's text), else PrivateKeyFile; PrivateKeyPassword when
	// it is encrypted.
	Key                *signer.Key
	PrivateKeyPEM      client.Secret
	PrivateKeyFile     string
	PrivateKeyPassword client.Secret
	// KeyID is the assertion header's kid: the kid the public JWK was registered with.
	KeyID string
	// Algorithm of the assertion; default RS256 (PS256, ES256, EdDSA when the key allows).
	Algorithm signer.Algorithm
	// Audience is the assertion's aud; default TokenURL, as RFC 7523 says (Mia-Platform
	// wants its issuer instead).
	Audience string
	// AssertionTTL is each assertion's lifetime (exp - iat); default 5 min, at most 1h.
	AssertionTTL time.Duration

	// Scopes requested (the scope parameter, space-separated); none by default.
	Scopes []string
	// Params are extra form parameters of every token request (audience, resource per RFC
	// 8707, token_endpoint_auth_method...).
	Params url.Values

	// DPoP binds the tokens to a key of this client (RFC 9449): every token request and
	// every API request carries a DPoP proof made afresh, the server's nonces are learnt
	// (a request asked for one is sent again once), and tokens typed DPoP go out as
	// "Authorization: DPoP <token>". The key is DPoPKey, else DPoPKeyFile, else an ES256 key
	// generated for the process; setting either of those implies DPoP. The key's thumbprint
	// is part of the identity in a shared store: replicas share tokens only when they share
	// the key (DPoPKeyFile), and each process keeps its own with a generated key.
	DPoP bool
	// DPoPKey is the DPoP key (any signer.Key: a file, pkcs11:, awskms:).
	DPoPKey *signer.Key
	// DPoPKeyFile is the DPoP key's file (or pkcs11:/awskms: URI), unencrypted or with
	// PrivateKeyPassword.
	DPoPKeyFile string

	// SignatureKey, else SignatureKeyFile, signs every API request as an HTTP message
	// signature (RFC 9421) in FAPI 2.0's request profile (httpsig.FAPI2Request): covered
	// "@method" "@target-uri" "authorization", "content-digest" of the body sent, "dpop" with
	// a DPoP proof; created, keyid (SignatureKeyID) and tag="fapi-2-request". It signs after
	// Authorization and DPoP are set, on every attempt.
	SignatureKey *signer.Key
	// SignatureKeyFile is that key's file (or pkcs11:/awskms: URI).
	SignatureKeyFile string
	// SignatureKeyID is the signatures' keyid: the key's ID at the server. Required with a
	// signature key.
	SignatureKeyID string

	// AllowInsecureHTTP permits plain http to non-loopback hosts.
	AllowInsecureHTTP bool
	// Exchange bounds the token-endpoint calls.
	Exchange client.ExchangeOptions

	// env is the prefix of the variables that filled the config ("MIA"), to name problems.
	env string
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	p := config.NewProblems(c.provider())
	c.check(p)
	return p.Err()
}

func (c Config) provider() string {
	if c.env == "MIA" {
		return "Mia-Platform"
	}
	return "OAuth client credentials"
}

// name is the variable of field, or nothing for a Config filled by hand.
func (c Config) name(suffix string) string {
	if c.env == "" {
		return ""
	}
	return c.env + "_" + suffix
}

func (c Config) method() AuthMethod {
	switch {
	case c.AuthMethod != "":
		return c.AuthMethod
	case c.Key != nil || c.PrivateKeyPEM != "" || c.PrivateKeyFile != "":
		return PrivateKeyJWT
	case c.ClientSecret != "":
		return ClientSecretBasic
	}
	return PrivateKeyJWT
}

func (c Config) check(p *config.Problems) {
	p.Require(c.TokenURL, "TokenURL", c.name("TOKEN_URL"))
	config.CheckURL(p, c.TokenURL, "TokenURL", c.name("TOKEN_URL"), c.AllowInsecureHTTP)
	if len(c.APIURLs) == 0 {
		p.Add("APIURLs", c.name("API_URL"), "required: the API origin(s) that receive the access token")
	}
	for _, u := range c.APIURLs {
		config.CheckURL(p, u, "APIURLs", c.name("API_URL"), c.AllowInsecureHTTP)
	}
	p.Require(c.ClientID, "ClientID", c.name("CLIENT_ID"))
	switch c.method() {
	case PrivateKeyJWT:
		c.keySource().Check(p)
		if c.ClientSecret != "" {
			p.Add("ClientSecret", c.name("CLIENT_SECRET"), "set with private_key_jwt: a client authenticates one way only, and servers refuse both")
		}
		if c.AssertionTTL < 0 || c.AssertionTTL > MaxAssertionTTL {
			p.Add("AssertionTTL", c.name("ASSERTION_TTL"), "%v is outside (0, 1h]", c.AssertionTTL)
		}
		switch c.Algorithm {
		case "", signer.RS256, signer.PS256, signer.ES256, signer.ES384, signer.ES512, signer.EdDSA:
		default:
			p.Add("Algorithm", c.name("ALG"), "%s is not one of RS256, PS256, ES256, ES384, ES512, EdDSA", c.Algorithm)
		}
	case ClientSecretBasic, ClientSecretPost:
		p.Require(string(c.ClientSecret), "ClientSecret", c.name("CLIENT_SECRET"))
	default:
		p.Add("AuthMethod", c.name("AUTH_METHOD"), "%q is not private_key_jwt, client_secret_basic or client_secret_post", c.AuthMethod)
	}
	if (c.SignatureKey != nil || c.SignatureKeyFile != "") && c.SignatureKeyID == "" {
		p.Add("SignatureKeyID", c.name("SIGNATURE_KEY_ID"), "required with a signature key: the keyid the server knows the key by")
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, "\"\\") || strings.IndexFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			p.Add("Scopes", c.name("SCOPE"), "%q is not a scope token (RFC 6749 section 3.3: visible ASCII, no space, quote or backslash)", s)
		}
	}
}

func (c Config) keySource() config.KeySource {
	prefix := c.env
	if prefix == "" {
		prefix = "CLIENT"
	}
	return config.KeySource{Key: c.Key, PEM: c.PrivateKeyPEM, File: c.PrivateKeyFile, Password: c.PrivateKeyPassword, Env: prefix}
}

// MiaTokenPath is where Mia-Platform's client-credentials service takes token requests.
const MiaTokenPath = "/oauth/token"

// MiaConfigFromEnv reads the Mia-Platform profile from MIA_TOKEN_URL, MIA_API_URL
// (comma-separated origins), MIA_CLIENT_ID, MIA_KEY_ID, MIA_PRIVATE_KEY_FILE or
// MIA_PRIVATE_KEY (the key's text), MIA_PRIVATE_KEY_PASSWORD, MIA_AUDIENCE (the service's
// issuer: required), MIA_SCOPE (space- or comma-separated), MIA_ALG (default RS256) and
// MIA_ASSERTION_TTL (default 5m), and MIA_ALLOW_INSECURE_HTTP. The profile authenticates
// with private_key_jwt and sends token_endpoint_auth_method=private_key_jwt. Every problem
// is reported at once, by variable name; secret values never appear.
func MiaConfigFromEnv() (Config, error) { return MiaConfigFromLookup(os.LookupEnv) }

// MiaConfigFromLookup is MiaConfigFromEnv over any source of variables.
func MiaConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	c, p := fromLookup("MIA", lookup)
	c.AuthMethod = PrivateKeyJWT
	c.Params = url.Values{"token_endpoint_auth_method": {string(PrivateKeyJWT)}}
	c.check(p)
	p.Require(c.Audience, "Audience", "MIA_AUDIENCE")
	p.Require(c.KeyID, "KeyID", "MIA_KEY_ID")
	return c, p.Err()
}

// ConfigFromEnv reads a client of any OAuth 2.0 server from OAUTH_TOKEN_URL, OAUTH_API_URL
// (comma-separated origins), OAUTH_CLIENT_ID, OAUTH_AUTH_METHOD (client_secret_basic, the
// default without a key; client_secret_post; private_key_jwt, the default with one),
// OAUTH_CLIENT_SECRET, OAUTH_PRIVATE_KEY_FILE or OAUTH_PRIVATE_KEY (+
// OAUTH_PRIVATE_KEY_PASSWORD), OAUTH_KEY_ID, OAUTH_AUDIENCE, OAUTH_SCOPE, OAUTH_ALG,
// OAUTH_ASSERTION_TTL, OAUTH_ALLOW_INSECURE_HTTP, and the FAPI 2.0 building blocks:
// OAUTH_DPOP=true (OAUTH_DPOP_KEY_FILE for a key of yours, else one made for the process),
// OAUTH_SIGNATURE_KEY_FILE, OAUTH_SIGNATURE_KEY_ID and OAUTH_SIGNATURE_PROFILE (fapi2, the
// only one and the default). The variables mirror MiaConfigFromEnv's: Mia-Platform is a
// preset of this profile. Every problem is reported at once, by variable name.
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.LookupEnv) }

// ConfigFromLookup is ConfigFromEnv over any source of variables.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	c, p := fromLookup("OAUTH", lookup)
	env := config.Env(lookup)
	c.AuthMethod = AuthMethod(env.String("OAUTH_AUTH_METHOD"))
	c.ClientSecret = env.Secret("OAUTH_CLIENT_SECRET")
	c.DPoP = env.Bool(p, "DPoP", "OAUTH_DPOP", false)
	c.DPoPKeyFile = env.String("OAUTH_DPOP_KEY_FILE")
	c.SignatureKeyFile = env.String("OAUTH_SIGNATURE_KEY_FILE")
	c.SignatureKeyID = env.String("OAUTH_SIGNATURE_KEY_ID")
	if v := env.String("OAUTH_SIGNATURE_PROFILE"); v != "" && v != "fapi2" {
		p.Add("SignatureKeyFile", "OAUTH_SIGNATURE_PROFILE", "%q: the profile is fapi2 (FAPI 2.0's message signing of requests)", v)
	}
	c.check(p)
	return c, p.Err()
}

// fromLookup reads the variables the OAuth profile and its Mia-Platform preset share, under
// prefix (OAUTH, MIA): the URLs, the client, the key and the assertion.
func fromLookup(prefix string, lookup func(string) (string, bool)) (Config, *config.Problems) {
	env := config.Env(lookup)
	c := Config{env: prefix}
	p := config.NewProblems(c.provider())
	c.TokenURL = env.String(prefix + "_TOKEN_URL")
	c.APIURLs = env.List(prefix + "_API_URL")
	c.ClientID = env.String(prefix + "_CLIENT_ID")
	c.KeyID = env.String(prefix + "_KEY_ID")
	c.PrivateKeyFile = env.String(prefix + "_PRIVATE_KEY_FILE")
	c.PrivateKeyPEM = env.Secret(prefix + "_PRIVATE_KEY")
	c.PrivateKeyPassword = env.Secret(prefix + "_PRIVATE_KEY_PASSWORD")
	c.Audience = env.String(prefix + "_AUDIENCE")
	c.Scopes = strings.FieldsFunc(env.String(prefix+"_SCOPE"), func(r rune) bool { return r == ' ' || r == ',' })
	c.AssertionTTL = env.Duration(p, "AssertionTTL", prefix+"_ASSERTION_TTL")
	c.AllowInsecureHTTP = env.Bool(p, "AllowInsecureHTTP", prefix+"_ALLOW_INSECURE_HTTP", false)
	if v := env.String(prefix + "_ALG"); v != "" {
		a, err := signer.ParseAlgorithm(v)
		if err != nil {
			p.Add("Algorithm", prefix+"_ALG", "%q is not one of RS256, PS256, ES256, ES384, ES512, EdDSA", v)
		}
		c.Algorithm = a
	}
	return c, p
}

// String shows the configuration with secrets and URL passwords redacted.
func (c Config) String() string { return fmt.Sprint(c) }

// Format shows the configuration with secrets and URL passwords redacted, for every verb.
func (c Config) Format(f fmt.State, verb rune) { redact.Format(f, verb, c) }

// MarshalJSON marshals the configuration with secrets and URL passwords redacted.
func (c Config) MarshalJSON() ([]byte, error) { return redact.JSON(c) }

// LogValue logs the configuration with secrets and URL passwords redacted.
func (c Config) LogValue() slog.Value { return redact.LogValue(c) }
