package pismo

import (
	"encoding/json"
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
	"github.com/finauth/finauth/transport"
)

// MaxJWTTTL is the longest lifetime Pismo accepts for the JWT it exchanges (exp - iat <=
// 3600 s).
const MaxJWTTTL = time.Hour

const provider = "Pismo"

// AuthMethod is how the client authenticates at Pismo: Pismo documents three ways.
type AuthMethod string

// The authentication methods.
const (
	// OpenID (the default, and what Pismo recommends): an RS256 JWT signed with your key,
	// exchanged at /passport/v1/oauth2/token.
	OpenID AuthMethod = "openid"
	// OAuth2 is OAuth 2.0 client credentials (RFC 6749) at /passport/v2/oauth/token: your
	// client ID (the server key), its secret and the permission groups (scopes) of the token.
	OAuth2 AuthMethod = "oauth2"
	// Basic is the legacy server-to-server login with a server key and a secret key, which
	// Pismo keeps for older integrations.
	Basic AuthMethod = "basic"
)

// Config configures the Pismo client. Fill it directly or with [ConfigFromEnv]. It prints
// (fmt, every verb), marshals (encoding/json) and logs (log/slog) with secrets and URL
// passwords redacted.
type Config struct {
	// AuthMethod is how the client authenticates; default OpenID.
	AuthMethod AuthMethod
	// TokenURL is the token endpoint: for OpenID e.g.
	// https://sandbox.pismolabs.io/passport/v1/oauth2/token, for OAuth2
	// https://sandbox.pismolabs.io/passport/v2/oauth/token, for Basic the login your Pismo
	// onboarding names.
	TokenURL string
	// APIURLs are the origins that receive the access token; default: TokenURL's origin.
	APIURLs []string

	// The private key: Key (any signer.Key, including a KMS/HSM one), else PrivateKeyPEM
	// (the key file's text), else PrivateKeyFile; PrivateKeyPassword when it is encrypted.
	Key                *signer.Key
	PrivateKeyPEM      client.Secret
	PrivateKeyFile     string
	PrivateKeyPassword client.Secret
	// KeyID is written as the JWT header's kid when set.
	KeyID string

	// Claims, as provided by Pismo.
	Issuer   string
	Subject  string
	Audience string // a single string, never an array
	TenantID string
	Group    string // pismo.group, e.g. "pismo-v2:bankaccounts:rw"
	// UID of the tenant token; default TenantID. Account tokens use the account's ID.
	UID string
	// CustomClaims are sent as "customClaims" when set.
	CustomClaims map[string]any
	// JWTTTL is the lifetime of each JWT (exp - iat); default and maximum 1h.
	JWTTTL time.Duration

	// OAuth2: ClientID (the server key), ClientSecret (sent as client_secret_string, as
	// Pismo spells it), and Scopes, the permission groups of each token (e.g.
	// "pismo-v1:accounts:rw"; Pismo recommends as few as each call needs; WithScopes picks
	// others per request). OAuth2JSON sends the token request as JSON instead of RFC 6749's
	// form encoding (Pismo's docs show neither).
	ClientID     string
	ClientSecret client.Secret
	Scopes       []string
	OAuth2JSON   bool

	// Basic: ServerKey and SecretKey, from Pismo Console. BasicSecretField is the body
	// member that carries SecretKey: "secret_key" (the default, as Pismo's page shows the
	// login) or "server_secret" (the name of the value it shows there; a refused login says
	// which one was sent).
	ServerKey        string
	SecretKey        client.Secret
	BasicSecretField string

	// AllowInsecureHTTP permits plain http to non-loopback hosts (tests on private networks).
	AllowInsecureHTTP bool
	// Exchange bounds the token-endpoint calls.
	Exchange client.ExchangeOptions
}

// ConfigFromEnv reads PISMO_AUTH_METHOD (openid, the default, oauth2 or basic),
// PISMO_TOKEN_URL, PISMO_API_URL (comma-separated origins) and PISMO_ALLOW_INSECURE_HTTP;
// for openid PISMO_PRIVATE_KEY_FILE or PISMO_PRIVATE_KEY (the key's text),
// PISMO_PRIVATE_KEY_PASSWORD, PISMO_KEY_ID, PISMO_ISSUER, PISMO_SUBJECT, PISMO_AUDIENCE,
// PISMO_TENANT_ID, PISMO_GROUP, PISMO_UID, PISMO_CUSTOM_CLAIMS (a JSON object) and
// PISMO_JWT_TTL (seconds or a duration); for oauth2 PISMO_CLIENT_ID, PISMO_CLIENT_SECRET,
// PISMO_SCOPES (space- or comma-separated) and PISMO_OAUTH2_JSON; for basic PISMO_SERVER_KEY,
// PISMO_SECRET_KEY and PISMO_BASIC_SECRET_FIELD. Every problem is reported at once, by variable name, in a
// *client.ConfigError; values of secret variables never appear in it.
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.LookupEnv) }

// ConfigFromLookup is ConfigFromEnv over any source of variables (a CLI lays its flags over
// the environment this way).
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	env := config.Env(lookup)
	p := config.NewProblems(provider)
	c := Config{
		AuthMethod:         AuthMethod(strings.ToLower(env.String("PISMO_AUTH_METHOD"))),
		ClientID:           env.String("PISMO_CLIENT_ID"),
		ClientSecret:       env.Secret("PISMO_CLIENT_SECRET"),
		Scopes:             strings.FieldsFunc(env.String("PISMO_SCOPES"), func(r rune) bool { return r == ' ' || r == ',' }),
		OAuth2JSON:         env.Bool(p, "OAuth2JSON", "PISMO_OAUTH2_JSON", false),
		ServerKey:          env.String("PISMO_SERVER_KEY"),
		SecretKey:          env.Secret("PISMO_SECRET_KEY"),
		BasicSecretField:   env.String("PISMO_BASIC_SECRET_FIELD"),
		TokenURL:           env.String("PISMO_TOKEN_URL"),
		APIURLs:            env.List("PISMO_API_URL"),
		PrivateKeyFile:     env.String("PISMO_PRIVATE_KEY_FILE"),
		PrivateKeyPEM:      env.Secret("PISMO_PRIVATE_KEY"),
		PrivateKeyPassword: env.Secret("PISMO_PRIVATE_KEY_PASSWORD"),
		KeyID:              env.String("PISMO_KEY_ID"),
		Issuer:             env.String("PISMO_ISSUER"),
		Subject:            env.String("PISMO_SUBJECT"),
		Audience:           env.String("PISMO_AUDIENCE"),
		TenantID:           env.String("PISMO_TENANT_ID"),
		Group:              env.String("PISMO_GROUP"),
		UID:                env.String("PISMO_UID"),
		JWTTTL:             env.Duration(p, "JWTTTL", "PISMO_JWT_TTL"),
		AllowInsecureHTTP:  env.Bool(p, "AllowInsecureHTTP", "PISMO_ALLOW_INSECURE_HTTP", false),
	}
	if raw := env.String("PISMO_CUSTOM_CLAIMS"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &c.CustomClaims); err != nil || c.CustomClaims == nil {
			p.Add("CustomClaims", "PISMO_CUSTOM_CLAIMS", `not a JSON object (e.g. {"custom1":"value"})`)
		}
	}
	c.check(p)
	return c, p.Err()
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	p := config.NewProblems(provider)
	c.check(p)
	return p.Err()
}

func (c Config) check(p *config.Problems) {
	p.Require(c.TokenURL, "TokenURL", "PISMO_TOKEN_URL")
	config.CheckURL(p, c.TokenURL, "TokenURL", "PISMO_TOKEN_URL", c.AllowInsecureHTTP)
	for _, u := range c.APIURLs {
		config.CheckURL(p, u, "APIURLs", "PISMO_API_URL", c.AllowInsecureHTTP)
	}
	requireFor := func(v, field, env string) {
		if strings.TrimSpace(v) == "" {
			p.Add(field, env, "required when PISMO_AUTH_METHOD=%s", c.method())
		}
	}
	switch c.method() {
	case OpenID:
		c.checkJWT(p)
	case OAuth2:
		requireFor(c.ClientID, "ClientID", "PISMO_CLIENT_ID")
		requireFor(string(c.ClientSecret), "ClientSecret", "PISMO_CLIENT_SECRET")
		requireFor(strings.Join(c.Scopes, " "), "Scopes", "PISMO_SCOPES")
		checkScopes(p, c.Scopes)
	case Basic:
		requireFor(c.ServerKey, "ServerKey", "PISMO_SERVER_KEY")
		requireFor(string(c.SecretKey), "SecretKey", "PISMO_SECRET_KEY")
		switch c.BasicSecretField {
		case "", "secret_key", "server_secret":
		default:
			p.Add("BasicSecretField", "PISMO_BASIC_SECRET_FIELD", "%q is not secret_key or server_secret", c.BasicSecretField)
		}
	default:
		p.Add("AuthMethod", "PISMO_AUTH_METHOD", "%q is not openid, oauth2 or basic", string(c.AuthMethod))
	}
}

// secretField is BasicSecretField, secret_key when empty.
func (c Config) secretField() string {
	if c.BasicSecretField == "" {
		return "secret_key"
	}
	return c.BasicSecretField
}

// method is AuthMethod, OpenID when empty.
func (c Config) method() AuthMethod {
	if c.AuthMethod == "" {
		return OpenID
	}
	return c.AuthMethod
}

// checkScopes refuses scopes that are not RFC 6749 scope tokens.
func checkScopes(p *config.Problems, scopes []string) {
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, "\"\\") || strings.IndexFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			p.Add("Scopes", "PISMO_SCOPES", "%q is not a scope (RFC 6749 section 3.3: visible ASCII, no space, quote or backslash), e.g. pismo-v1:accounts:rw", s)
		}
	}
}

// checkJWT checks what minting a JWT needs: the key and the claims.
func (c Config) checkJWT(p *config.Problems) {
	c.keySource().Check(p)
	p.Require(c.Issuer, "Issuer", "PISMO_ISSUER")
	p.Require(c.Subject, "Subject", "PISMO_SUBJECT")
	p.Require(c.Audience, "Audience", "PISMO_AUDIENCE")
	p.Require(c.TenantID, "TenantID", "PISMO_TENANT_ID")
	p.Require(c.Group, "Group", "PISMO_GROUP")
	if c.JWTTTL < 0 || c.JWTTTL > MaxJWTTTL {
		p.Add("JWTTTL", "PISMO_JWT_TTL", "%v is outside (0, 1h]: Pismo refuses exp - iat above 3600 s", c.JWTTTL)
	} else if c.JWTTTL != 0 && c.JWTTTL < time.Second {
		p.Add("JWTTTL", "PISMO_JWT_TTL", "%v is shorter than a second", c.JWTTTL)
	}
	for k := range c.CustomClaims {
		if k == "" {
			p.Add("CustomClaims", "PISMO_CUSTOM_CLAIMS", "a claim has an empty name")
		}
	}
}

func (c Config) keySource() config.KeySource {
	return config.KeySource{Key: c.Key, PEM: c.PrivateKeyPEM, File: c.PrivateKeyFile, Password: c.PrivateKeyPassword, Env: "PISMO"}
}

// jwtSigner checks what minting needs, loads the key and makes the RS256 signer: the setup
// every entry point shares.
func (c Config) jwtSigner() (*signer.Signer, error) {
	p := config.NewProblems(provider)
	if m := c.method(); m != OpenID {
		p.Add("AuthMethod", "PISMO_AUTH_METHOD", "%s signs no JWT: only openid does", m)
		return nil, p.Err()
	}
	c.checkJWT(p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c.keySource().Signer(provider, signer.Options{Algorithm: signer.RS256, KeyID: c.KeyID, Type: "JWT"}, "PrivateKeyFile", "PISMO_PRIVATE_KEY_FILE")
}

// apiOrigins is APIURLs, or TokenURL's origin.
func (c Config) apiOrigins() []string {
	if len(c.APIURLs) > 0 {
		return c.APIURLs
	}
	u, err := url.Parse(c.TokenURL)
	if err != nil {
		return nil
	}
	return []string{transport.Origin(u)}
}

// String shows the configuration with secrets and URL passwords redacted.
func (c Config) String() string { return fmt.Sprint(c) }

// Format shows the configuration with secrets and URL passwords redacted, for every verb.
func (c Config) Format(f fmt.State, verb rune) { redact.Format(f, verb, c) }

// MarshalJSON marshals the configuration with secrets and URL passwords redacted.
func (c Config) MarshalJSON() ([]byte, error) { return redact.JSON(c) }

// LogValue logs the configuration with secrets and URL passwords redacted.
func (c Config) LogValue() slog.Value { return redact.LogValue(c) }
