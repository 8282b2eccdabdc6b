package soldo

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/signer"
)

// MaxJWSTTL is the longest lifetime of a request signature ("exp" less than a minute after
// the request).
const MaxJWSTTL = 60 * time.Second

// DefaultJWSTTL is the default lifetime of a request signature.
const DefaultJWSTTL = 50 * time.Second

const provider = "Soldo"

// Config configures the Soldo client. Fill it directly or with [ConfigFromEnv]. It prints
// (fmt, every verb), marshals (encoding/json) and logs (log/slog) with secrets and URL
// passwords redacted.
type Config struct {
	// APIURLs are the origins whose requests are signed. Required.
	APIURLs []string

	// The private key: Key, else PrivateKeyPEM (the key file's text), else PrivateKeyFile;
	// PrivateKeyPassword when it is encrypted.
	Key                *signer.Key
	PrivateKeyPEM      client.Secret
	PrivateKeyFile     string
	PrivateKeyPassword client.Secret
	// KeyID is the "kid" Soldo gave when the public key was registered; default the key's
	// own ID (a JWK's kid).
	KeyID string
	// MemberID is the "mid". Required.
	MemberID string
	// Algorithm; default from the key: EC P-256 -> ES256, Ed25519 -> EdDSA, RSA -> RS256.
	Algorithm signer.Algorithm
	// JWSTTL is how long each signature is valid; default 50s, at most 60s.
	JWSTTL time.Duration
	// Attached sends header.payload.signature instead of the default detached form
	// header..signature.
	Attached bool
	// ExpAsNumber writes "exp" as a JSON number instead of the documented string of digits.
	ExpAsNumber bool
	// HostWithPort always writes the port in "host" (443/80 when the URL has none).
	HostWithPort bool
	// MaxBodyBytes bounds bodies that must be buffered to be signed; default 10 MiB.
	MaxBodyBytes int64
	// AllowInsecureHTTP permits plain http to non-loopback hosts.
	AllowInsecureHTTP bool
}

// ConfigFromEnv reads SOLDO_API_URL (comma-separated, required), SOLDO_PRIVATE_KEY_FILE or
// SOLDO_PRIVATE_KEY, SOLDO_PRIVATE_KEY_PASSWORD, SOLDO_KEY_ID, SOLDO_MEMBER_ID (required),
// SOLDO_ALG, SOLDO_JWS_TTL (default 50s, at most 60s), SOLDO_DETACHED (default true),
// SOLDO_EXP_AS_NUMBER, SOLDO_HOST_WITH_PORT, SOLDO_MAX_BODY_BYTES and
// SOLDO_ALLOW_INSECURE_HTTP. Every problem is reported at once, by name.
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.LookupEnv) }

// ConfigFromLookup is ConfigFromEnv over any source of variables.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	env := config.Env(lookup)
	p := config.NewProblems(provider)
	c := Config{
		APIURLs:            env.List("SOLDO_API_URL"),
		PrivateKeyFile:     env.String("SOLDO_PRIVATE_KEY_FILE"),
		PrivateKeyPEM:      env.Secret("SOLDO_PRIVATE_KEY"),
		PrivateKeyPassword: env.Secret("SOLDO_PRIVATE_KEY_PASSWORD"),
		KeyID:              env.String("SOLDO_KEY_ID"),
		MemberID:           env.String("SOLDO_MEMBER_ID"),
		JWSTTL:             env.Duration(p, "JWSTTL", "SOLDO_JWS_TTL"),
		Attached:           !env.Bool(p, "Attached", "SOLDO_DETACHED", true),
		ExpAsNumber:        env.Bool(p, "ExpAsNumber", "SOLDO_EXP_AS_NUMBER", false),
		HostWithPort:       env.Bool(p, "HostWithPort", "SOLDO_HOST_WITH_PORT", false),
		MaxBodyBytes:       env.PositiveInt(p, "MaxBodyBytes", "SOLDO_MAX_BODY_BYTES", "bytes"),
		AllowInsecureHTTP:  env.Bool(p, "AllowInsecureHTTP", "SOLDO_ALLOW_INSECURE_HTTP", false),
	}
	if v := env.String("SOLDO_ALG"); v != "" {
		a, err := signer.ParseAlgorithm(v)
		if err != nil {
			p.Add("Algorithm", "SOLDO_ALG", "%q is not one of RS256, PS256, ES256, EdDSA", v)
		}
		c.Algorithm = a
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
	if len(c.APIURLs) == 0 {
		p.Add("APIURLs", "SOLDO_API_URL", "required: the API origin(s) whose requests are signed")
	}
	for _, u := range c.APIURLs {
		config.CheckURL(p, u, "APIURLs", "SOLDO_API_URL", c.AllowInsecureHTTP)
	}
	c.keySource().Check(p)
	p.Require(c.MemberID, "MemberID", "SOLDO_MEMBER_ID")
	if c.JWSTTL < 0 || c.JWSTTL > MaxJWSTTL {
		p.Add("JWSTTL", "SOLDO_JWS_TTL", "%v is outside (0, 60s]: the signature must expire less than a minute after the request", c.JWSTTL)
	}
	switch c.Algorithm {
	case "", signer.RS256, signer.PS256, signer.ES256, signer.EdDSA:
	default:
		p.Add("Algorithm", "SOLDO_ALG", "%s is not one of RS256, PS256, ES256, EdDSA", c.Algorithm)
	}
}

func (c Config) keySource() config.KeySource {
	return config.KeySource{Key: c.Key, PEM: c.PrivateKeyPEM, File: c.PrivateKeyFile, Password: c.PrivateKeyPassword, Env: "SOLDO"}
}

// String shows the configuration with secrets and URL passwords redacted.
func (c Config) String() string { return fmt.Sprint(c) }

// Format shows the configuration with secrets and URL passwords redacted, for every verb.
func (c Config) Format(f fmt.State, verb rune) { redact.Format(f, verb, c) }

// MarshalJSON marshals the configuration with secrets and URL passwords redacted.
func (c Config) MarshalJSON() ([]byte, error) { return redact.JSON(c) }

// LogValue logs the configuration with secrets and URL passwords redacted.
func (c Config) LogValue() slog.Value { return redact.LogValue(c) }
