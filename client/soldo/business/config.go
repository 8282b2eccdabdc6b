package business

import (
	"crypto/rsa"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/signer"
)

// The Business API's base URLs.
const (
	// ProductionURL is the production API.
	ProductionURL = "https://api.soldo.com"
	// DemoURL is the demo environment, with test API credentials.
	DemoURL = "https://api-demo.soldocloud.net"
	// TokenPath is where the token endpoint lives under the base.
	TokenPath = "/oauth/authorize"
)

// MinKeyBits is the smallest RSA key accepted: Soldo asks for a 2048-bit key.
const MinKeyBits = 2048

const provider = "Soldo Business"

// Config configures a Soldo Business API client. Fill it directly or with
// [ConfigFromEnv]. It prints (fmt, every verb), marshals (encoding/json) and logs
// (log/slog) with its secrets and URL passwords redacted.
type Config struct {
	// APIURL is the API's base: ProductionURL or DemoURL. It is the only origin that
	// receives the tokens. Required.
	APIURL string
	// TokenURL is the token endpoint; default APIURL + TokenPath.
	TokenURL string
	// ClientID and ClientSecret are the API credentials made in Soldo's web app. Required.
	ClientID     string
	ClientSecret client.Secret
	// InternalToken is the static token issued with the API credentials: every request
	// carries it (X-Soldo-Internal-Token), and it ends every fingerprint. Required.
	InternalToken client.Secret

	// The RSA private key whose public half was uploaded to Soldo's web app, for advanced
	// authentication (fingerprint signatures): Key (any signer.Key, an HSM's or KMS's
	// included), else PrivateKeyPEM (the key file's text), else PrivateKeyFile (a path, or
	// a "pkcs11:" or "awskms:" URI); PrivateKeyPassword when it is encrypted. Without a key,
	// only standard endpoints can be called: a request that needs a fingerprint fails
	// before it is sent (ErrNoFingerprintKey).
	Key                *signer.Key
	PrivateKeyPEM      client.Secret
	PrivateKeyFile     string
	PrivateKeyPassword client.Secret

	// AllowInsecureHTTP permits plain http to non-loopback hosts (never for Soldo's own).
	AllowInsecureHTTP bool
	// Exchange bounds the token-endpoint calls.
	Exchange client.ExchangeOptions

	env bool // filled from SOLDO_BUSINESS_* variables: problems name them
}

// tokenURL is TokenURL or its default.
func (c Config) tokenURL() string {
	if c.TokenURL != "" {
		return c.TokenURL
	}
	return strings.TrimRight(c.APIURL, "/") + TokenPath
}

func (c Config) name(suffix string) string {
	if !c.env {
		return ""
	}
	return "SOLDO_BUSINESS_" + suffix
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	p := config.NewProblems(provider)
	c.check(p)
	return p.Err()
}

func (c Config) check(p *config.Problems) {
	p.Require(c.APIURL, "APIURL", c.name("API_URL"))
	config.CheckURL(p, c.APIURL, "APIURL", c.name("API_URL"), c.AllowInsecureHTTP)
	if c.APIURL != "" {
		config.CheckURL(p, c.tokenURL(), "TokenURL", c.name("TOKEN_URL"), c.AllowInsecureHTTP)
	}
	p.Require(c.ClientID, "ClientID", c.name("CLIENT_ID"))
	p.Require(string(c.ClientSecret), "ClientSecret", c.name("CLIENT_SECRET"))
	p.Require(string(c.InternalToken), "InternalToken", c.name("INTERNAL_TOKEN"))
	if c.hasKey() {
		c.keySource().Check(p)
	}
}

func (c Config) hasKey() bool {
	return c.Key != nil || c.PrivateKeyPEM != "" || c.PrivateKeyFile != ""
}

func (c Config) keySource() config.KeySource {
	return config.KeySource{Key: c.Key, PEM: c.PrivateKeyPEM, File: c.PrivateKeyFile, Password: c.PrivateKeyPassword, Env: "SOLDO_BUSINESS"}
}

// loadKey loads the fingerprint key (nil without one) and checks it is an RSA key of at
// least MinKeyBits.
func (c Config) loadKey() (*signer.Key, error) {
	if !c.hasKey() {
		return nil, nil
	}
	k, err := c.keySource().Load(provider)
	if err != nil {
		return nil, err
	}
	pub, ok := k.Signer().Public().(*rsa.PublicKey)
	field, variable := "PrivateKeyFile", c.name("PRIVATE_KEY_FILE")
	if c.PrivateKeyPEM != "" {
		field, variable = "PrivateKeyPEM", c.name("PRIVATE_KEY")
	}
	switch {
	case !ok:
		return nil, config.Problemf(provider, field, variable, "the key is not an RSA key: Soldo's fingerprint signatures are SHA512withRSA, with the RSA key (2048 bits) whose public half was uploaded to Soldo's web app")
	case pub.N.BitLen() < MinKeyBits:
		return nil, config.Problemf(provider, field, variable, "the RSA key has %d bits: Soldo asks for %d", pub.N.BitLen(), MinKeyBits)
	}
	return k, nil
}

// ConfigFromEnv reads SOLDO_BUSINESS_API_URL (the base: https://api.soldo.com, or
// https://api-demo.soldocloud.net for the demo environment; required),
// SOLDO_BUSINESS_TOKEN_URL (default the base + /oauth/authorize), SOLDO_BUSINESS_CLIENT_ID,
// SOLDO_BUSINESS_CLIENT_SECRET and SOLDO_BUSINESS_INTERNAL_TOKEN (required),
// SOLDO_BUSINESS_PRIVATE_KEY_FILE (a path or a key URI) or SOLDO_BUSINESS_PRIVATE_KEY (the
// PEM text), SOLDO_BUSINESS_PRIVATE_KEY_PASSWORD, and SOLDO_BUSINESS_ALLOW_INSECURE_HTTP.
// Every problem is reported at once, by variable name; secret values never appear.
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.LookupEnv) }

// ConfigFromLookup is ConfigFromEnv over any source of variables.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	env := config.Env(lookup)
	c := Config{env: true}
	p := config.NewProblems(provider)
	c.APIURL = env.String("SOLDO_BUSINESS_API_URL")
	c.TokenURL = env.String("SOLDO_BUSINESS_TOKEN_URL")
	c.ClientID = env.String("SOLDO_BUSINESS_CLIENT_ID")
	c.ClientSecret = env.Secret("SOLDO_BUSINESS_CLIENT_SECRET")
	c.InternalToken = env.Secret("SOLDO_BUSINESS_INTERNAL_TOKEN")
	c.PrivateKeyFile = env.String("SOLDO_BUSINESS_PRIVATE_KEY_FILE")
	c.PrivateKeyPEM = env.Secret("SOLDO_BUSINESS_PRIVATE_KEY")
	c.PrivateKeyPassword = env.Secret("SOLDO_BUSINESS_PRIVATE_KEY_PASSWORD")
	c.AllowInsecureHTTP = env.Bool(p, "AllowInsecureHTTP", "SOLDO_BUSINESS_ALLOW_INSECURE_HTTP", false)
	c.check(p)
	return c, p.Err()
}

// String shows the configuration with secrets and URL passwords redacted.
func (c Config) String() string { return fmt.Sprint(c) }

// Format shows the configuration with secrets and URL passwords redacted, for every verb.
func (c Config) Format(f fmt.State, verb rune) { redact.Format(f, verb, c) }

// MarshalJSON marshals the configuration with secrets and URL passwords redacted.
func (c Config) MarshalJSON() ([]byte, error) { return redact.JSON(c) }

// LogValue logs the configuration with secrets and URL passwords redacted.
func (c Config) LogValue() slog.Value { return redact.LogValue(c) }
