package pismo

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
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

// Config configures the Pismo client. Fill it directly or with [ConfigFromEnv]. It prints
// (fmt, every verb), marshals (encoding/json) and logs (log/slog) with secrets and URL
// passwords redacted.
type Config struct {
	// TokenURL is the exchange endpoint, e.g. https://sandbox.pismolabs.io/passport/v1/oauth2/token.
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

	// AllowInsecureHTTP permits plain http to non-loopback hosts (tests on private networks).
	AllowInsecureHTTP bool
	// Exchange bounds the token-endpoint calls.
	Exchange client.ExchangeOptions
}

// ConfigFromEnv reads PISMO_TOKEN_URL, PISMO_API_URL (comma-separated origins),
// PISMO_PRIVATE_KEY_FILE or PISMO_PRIVATE_KEY (the key's text), PISMO_PRIVATE_KEY_PASSWORD,
// PISMO_KEY_ID, PISMO_ISSUER, PISMO_SUBJECT, PISMO_AUDIENCE, PISMO_TENANT_ID, PISMO_GROUP,
// PISMO_UID, PISMO_CUSTOM_CLAIMS (a JSON object), PISMO_JWT_TTL (seconds or a duration)
// and PISMO_ALLOW_INSECURE_HTTP. Every problem is reported at once, by variable name, in a
// *client.ConfigError; values of secret variables never appear in it.
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.LookupEnv) }

// ConfigFromLookup is ConfigFromEnv over any source of variables (a CLI lays its flags over
// the environment this way).
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	env := config.Env(lookup)
	p := config.NewProblems(provider)
	c := Config{
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
	c.checkJWT(p)
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
