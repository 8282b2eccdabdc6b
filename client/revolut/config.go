package revolut

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
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

const provider = "Revolut"

// Environment chooses Revolut's published URLs and audience.
type Environment string

// The environments.
const (
	Sandbox    Environment = "sandbox"
	Production Environment = "production"
)

// Defaults of one environment: Revolut's published URLs and audience.
type Defaults struct {
	// TokenURL, APIURL and RegistrationURL are on the auth host: since 10 July 2025 (FAPI
	// 1.0 Advanced) every Open Banking endpoint is there, over mutual TLS; the old API hosts
	// (oba.revolut.com, sandbox-oba.revolut.com) stopped working.
	TokenURL, APIURL, RegistrationURL string
	// AuthURL is the consent authorisation UI the user's browser opens: it stayed on the old
	// host.
	AuthURL string
	// Audience is the request object's aud: the issuer of Revolut's OpenID configuration,
	// the auth host since 23 March 2026 (Revolut accepts the old issuer during the change).
	Audience string
}

// EnvironmentDefaults are the URLs and audience REVOLUT_ENV selects (Revolut's developer
// updates of 4 March and 9 April 2025, and of 15 December 2025).
var EnvironmentDefaults = map[Environment]Defaults{
	Sandbox: {
		TokenURL:        "https://sandbox-oba-auth.revolut.com/token",
		APIURL:          "https://sandbox-oba-auth.revolut.com",
		RegistrationURL: "https://sandbox-oba-auth.revolut.com/register",
		AuthURL:         "https://sandbox-oba.revolut.com/ui/index.html",
		Audience:        "https://sandbox-oba-auth.revolut.com",
	},
	Production: {
		TokenURL:        "https://oba-auth.revolut.com/token",
		APIURL:          "https://oba-auth.revolut.com",
		RegistrationURL: "https://oba-auth.revolut.com/register",
		AuthURL:         "https://oba.revolut.com/ui/index.html",
		Audience:        "https://oba-auth.revolut.com",
	},
}

// FinancialID is Revolut's x-fapi-financial-id.
const FinancialID = "001580000103UAvAAM"

// Config configures the Revolut Open Banking client. Fill it directly or with
// [ConfigFromEnv]. It prints (fmt, every verb), marshals (encoding/json) and logs
// (log/slog) with secrets and URL passwords redacted.
type Config struct {
	// Env fills TokenURL, APIURLs, AuthURL and Audience that are left empty with Revolut's
	// published values; empty leaves them as they are (all four are then required).
	Env Environment
	// ClientID is the application's client ID from the Developer Portal. Required.
	ClientID string
	// KeyID is the kid of the signing key and certificate (the one in your JWKS). Required.
	KeyID string
	// The signing key (PS256): Key (any signer.Key, including a KMS/HSM one), else
	// PrivateKeyPEM (the key file's text), else PrivateKeyFile; PrivateKeyPassword when it
	// is encrypted.
	Key                *signer.Key
	PrivateKeyPEM      client.Secret
	PrivateKeyFile     string
	PrivateKeyPassword client.Secret
	// Rotation of the signing key (docs/revolut.md: "Rotating your signing key"): the next key,
	// NextKey or NextPrivateKeyFile (encrypted with PrivateKeyPassword too, if at all) under
	// NextKeyID, published in your JWKS beside the current one at NextKeyPublishedAt, signs
	// from NextKeyPublishedAt + KeyCacheTime on (every replica switches by itself then,
	// without a restart); the current key signs until then.
	NextKeyID          string
	NextKey            *signer.Key
	NextPrivateKeyFile string
	NextKeyPublishedAt time.Time
	// KeyCacheTime is how long Revolut may keep the JWKS it fetched: the wait between
	// publishing the next key and signing with it. Default signer.DefaultCacheTime (24 h).
	KeyCacheTime time.Duration
	// The transport certificate and its key (PEM files), presented on every connection to
	// the token endpoint and the API (mutual TLS). Required.
	TransportCertFile, TransportKeyFile string
	// CAFile holds extra server roots (PEM), besides the system's.
	CAFile string

	TokenURL string // the /token endpoint
	// RegistrationURL is the dynamic client registration endpoint (/register); default the
	// token URL's origin + /register.
	RegistrationURL string
	// APIURLs are the origins that receive the tokens and x-jws-signature (the API's).
	APIURLs []string
	// APIURL is the API's origin.
	//
	// Deprecated: use APIURLs; APIURL is read only when APIURLs is empty.
	APIURL   string
	AuthURL  string // the consent authorisation UI
	Audience string // the request object's aud
	// RedirectURI is one of the application's redirect URIs. Required.
	RedirectURI string
	// TAN is the root domain of your JWKS URL, the x-jws-signature's
	// "http://openbanking.org.uk/tan". Required to sign payment requests.
	TAN string
	// FinancialID, when set, is sent as x-fapi-financial-id (Revolut's is [FinancialID]).
	FinancialID string

	// AllowInsecureHTTP permits plain http to non-loopback hosts (tests on private networks).
	AllowInsecureHTTP bool
	// Exchange bounds the token-endpoint calls.
	Exchange client.ExchangeOptions
}

// ConfigFromEnv reads REVOLUT_ENV (sandbox or production), REVOLUT_CLIENT_ID,
// REVOLUT_KEY_ID, REVOLUT_PRIVATE_KEY_FILE or REVOLUT_PRIVATE_KEY (the key's text),
// REVOLUT_PRIVATE_KEY_PASSWORD, REVOLUT_TRANSPORT_CERT_FILE, REVOLUT_TRANSPORT_KEY_FILE,
// REVOLUT_CA_FILE, REVOLUT_TOKEN_URL, REVOLUT_REGISTRATION_URL, REVOLUT_API_URL, REVOLUT_AUTH_URL, REVOLUT_AUDIENCE,
// REVOLUT_REDIRECT_URI, REVOLUT_TAN, REVOLUT_FINANCIAL_ID, REVOLUT_ALLOW_INSECURE_HTTP and,
// during a key rotation, REVOLUT_NEXT_KEY_ID, REVOLUT_NEXT_PRIVATE_KEY_FILE,
// REVOLUT_NEXT_KEY_PUBLISHED_AT (RFC 3339) and REVOLUT_KEY_CACHE_TIME. Every problem is reported at once, by variable name, in a *client.ConfigError.
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.LookupEnv) }

// ConfigFromLookup is ConfigFromEnv over any source of variables.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	env := config.Env(lookup)
	p := config.NewProblems(provider)
	c := Config{
		Env:                Environment(strings.ToLower(env.String("REVOLUT_ENV"))),
		ClientID:           env.String("REVOLUT_CLIENT_ID"),
		KeyID:              env.String("REVOLUT_KEY_ID"),
		PrivateKeyFile:     env.String("REVOLUT_PRIVATE_KEY_FILE"),
		PrivateKeyPEM:      env.Secret("REVOLUT_PRIVATE_KEY"),
		PrivateKeyPassword: env.Secret("REVOLUT_PRIVATE_KEY_PASSWORD"),
		TransportCertFile:  env.String("REVOLUT_TRANSPORT_CERT_FILE"),
		TransportKeyFile:   env.String("REVOLUT_TRANSPORT_KEY_FILE"),
		CAFile:             env.String("REVOLUT_CA_FILE"),
		TokenURL:           env.String("REVOLUT_TOKEN_URL"),
		RegistrationURL:    env.String("REVOLUT_REGISTRATION_URL"),
		APIURLs:            env.List("REVOLUT_API_URL"),
		AuthURL:            env.String("REVOLUT_AUTH_URL"),
		Audience:           env.String("REVOLUT_AUDIENCE"),
		RedirectURI:        env.String("REVOLUT_REDIRECT_URI"),
		TAN:                env.String("REVOLUT_TAN"),
		FinancialID:        env.String("REVOLUT_FINANCIAL_ID"),
		AllowInsecureHTTP:  env.Bool(p, "AllowInsecureHTTP", "REVOLUT_ALLOW_INSECURE_HTTP", false),
		NextKeyID:          env.String("REVOLUT_NEXT_KEY_ID"),
		NextPrivateKeyFile: env.String("REVOLUT_NEXT_PRIVATE_KEY_FILE"),
		KeyCacheTime:       env.Duration(p, "KeyCacheTime", "REVOLUT_KEY_CACHE_TIME"),
	}
	if v := env.String("REVOLUT_NEXT_KEY_PUBLISHED_AT"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			p.Add("NextKeyPublishedAt", "REVOLUT_NEXT_KEY_PUBLISHED_AT", "%q is not an RFC 3339 time (e.g. 2026-12-01T09:00:00Z): give when the JWKS holding the next key was first published", v)
		}
		c.NextKeyPublishedAt = t
	}
	c = c.withDefaults()
	c.check(p)
	return c, p.Err()
}

// withDefaults fills the URLs and audience Env publishes, where they are empty, and APIURLs
// from the deprecated APIURL. Every entry point (ConfigFromLookup, Validate, NewTransport,
// NewSigner) applies it once, first.
func (c Config) withDefaults() Config {
	if len(c.APIURLs) == 0 && c.APIURL != "" {
		c.APIURLs = []string{c.APIURL}
	}
	d, ok := EnvironmentDefaults[c.Env]
	if !ok {
		return c
	}
	for _, f := range []struct {
		v   *string
		def string
	}{{&c.TokenURL, d.TokenURL}, {&c.AuthURL, d.AuthURL}, {&c.Audience, d.Audience}, {&c.RegistrationURL, d.RegistrationURL}} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	if len(c.APIURLs) == 0 {
		c.APIURLs = []string{d.APIURL}
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	p := config.NewProblems(provider)
	c.withDefaults().check(p)
	return p.Err()
}

// check reports the problems of a configuration whose defaults are applied.
func (c Config) check(p *config.Problems) {
	if _, ok := EnvironmentDefaults[c.Env]; c.Env != "" && !ok {
		p.Add("Env", "REVOLUT_ENV", "%q is not an environment: use sandbox or production", string(c.Env))
	}
	p.Require(c.ClientID, "ClientID", "REVOLUT_CLIENT_ID")
	p.Require(c.KeyID, "KeyID", "REVOLUT_KEY_ID")
	c.keySource().Check(p)
	p.Require(c.TransportCertFile, "TransportCertFile", "REVOLUT_TRANSPORT_CERT_FILE")
	p.Require(c.TransportKeyFile, "TransportKeyFile", "REVOLUT_TRANSPORT_KEY_FILE")
	p.Require(c.RedirectURI, "RedirectURI", "REVOLUT_REDIRECT_URI")
	for _, u := range []struct{ v, field, env string }{
		{c.TokenURL, "TokenURL", "REVOLUT_TOKEN_URL"}, {strings.Join(c.APIURLs, ""), "APIURLs", "REVOLUT_API_URL"},
		{c.AuthURL, "AuthURL", "REVOLUT_AUTH_URL"},
	} {
		if u.v == "" {
			p.Add(u.field, u.env, "required (or REVOLUT_ENV=sandbox|production for Revolut's)")
		}
	}
	config.CheckURL(p, c.TokenURL, "TokenURL", "REVOLUT_TOKEN_URL", c.AllowInsecureHTTP)
	for _, u := range c.APIURLs {
		config.CheckURL(p, u, "APIURLs", "REVOLUT_API_URL", c.AllowInsecureHTTP)
	}
	config.CheckURL(p, c.AuthURL, "AuthURL", "REVOLUT_AUTH_URL", c.AllowInsecureHTTP)
	if c.Audience == "" {
		p.Add("Audience", "REVOLUT_AUDIENCE", "required (or REVOLUT_ENV=sandbox|production for Revolut's)")
	}
	if c.RedirectURI != "" {
		if u, err := url.Parse(c.RedirectURI); err != nil || u.Scheme == "" || u.Host == "" {
			p.Add("RedirectURI", "REVOLUT_REDIRECT_URI", "%q is not an absolute URL (one of the redirect URIs registered for the application)", redact.URL(c.RedirectURI))
		}
	}
	c.checkRotation(p)
	if strings.Contains(c.TAN, "/") || strings.Contains(c.TAN, ":") {
		p.Add("TAN", "REVOLUT_TAN", "%q is not a domain: give the root domain of your JWKS URL (e.g. example.com)", c.TAN)
	}
}

func (c Config) keySource() config.KeySource {
	return config.KeySource{Key: c.Key, PEM: c.PrivateKeyPEM, File: c.PrivateKeyFile, Password: c.PrivateKeyPassword, Env: "REVOLUT"}
}

// rotating reports whether a next key is configured.
func (c Config) rotating() bool {
	return c.NextKeyID != "" || c.NextKey != nil || c.NextPrivateKeyFile != "" || !c.NextKeyPublishedAt.IsZero()
}

// checkRotation reports the problems of a next key: all of it or nothing.
func (c Config) checkRotation(p *config.Problems) {
	if c.KeyCacheTime < 0 {
		p.Add("KeyCacheTime", "REVOLUT_KEY_CACHE_TIME", "must not be negative")
	}
	if !c.rotating() {
		return
	}
	p.Require(c.NextKeyID, "NextKeyID", "REVOLUT_NEXT_KEY_ID")
	if c.NextKey == nil && c.NextPrivateKeyFile == "" {
		p.Add("NextPrivateKeyFile", "REVOLUT_NEXT_PRIVATE_KEY_FILE", "required with REVOLUT_NEXT_KEY_ID: the next signing key")
	}
	if c.NextKeyPublishedAt.IsZero() {
		p.Add("NextKeyPublishedAt", "REVOLUT_NEXT_KEY_PUBLISHED_AT", "required with a next key: when the JWKS holding it was first published (it signs KeyCacheTime later)")
	}
	if c.NextKeyID != "" && c.NextKeyID == c.KeyID {
		p.Add("NextKeyID", "REVOLUT_NEXT_KEY_ID", "%q is the current key's kid too: give the next key its own (Revolut picks the key by kid)", c.NextKeyID)
	}
}

// jwsSigner loads the signing key and makes the PS256 signer with the key ID.
func (c Config) jwsSigner() (*signer.Signer, error) {
	return c.keySource().Signer(provider, signer.Options{Algorithm: signer.PS256, KeyID: c.KeyID}, "PrivateKeyFile", "REVOLUT_PRIVATE_KEY_FILE")
}

// ring loads the signing key and, during a rotation, the next one: the keys that sign,
// each in its time.
func (c Config) ring(now func() time.Time, onSign func(signer.Algorithm, time.Duration)) (*signer.Ring, error) {
	cur, err := c.jwsSigner()
	if err != nil {
		return nil, err
	}
	keys := []signer.RingKey{{Signer: cur.WithOnSign(onSign)}}
	if c.rotating() {
		src := config.KeySource{Key: c.NextKey, File: c.NextPrivateKeyFile, Password: c.PrivateKeyPassword, Env: "REVOLUT_NEXT"}
		next, err := src.Signer(provider, signer.Options{Algorithm: signer.PS256, KeyID: c.NextKeyID}, "NextPrivateKeyFile", "REVOLUT_NEXT_PRIVATE_KEY_FILE")
		if err != nil {
			return nil, err
		}
		keys = append(keys, signer.RingKey{Signer: next.WithOnSign(onSign), PublishedAt: c.NextKeyPublishedAt})
	}
	cache := c.KeyCacheTime
	if cache == 0 {
		cache = signer.DefaultCacheTime
	}
	r, err := signer.NewRing(cache, now, keys...)
	if err != nil {
		return nil, config.Problemf(provider, "NextKeyID", "REVOLUT_NEXT_KEY_ID", "%v", err)
	}
	return r, nil
}

// TLSConfig is the mutual-TLS configuration every connection uses: the transport
// certificate, and the system roots plus CAFile's.
func (c Config) TLSConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TransportCertFile, c.TransportKeyFile)
	if err != nil {
		return nil, config.Problemf(provider, "TransportCertFile", "REVOLUT_TRANSPORT_CERT_FILE", "the transport certificate and key (REVOLUT_TRANSPORT_KEY_FILE) do not load as a pair: %v", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pemData, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, config.Problemf(provider, "CAFile", "REVOLUT_CA_FILE", "%v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, config.Problemf(provider, "CAFile", "REVOLUT_CA_FILE", "no PEM certificate in %s", c.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// ErrCertificateExpired is wrapped by the error of a transport certificate that has expired
// (or is not valid yet): Revolut would refuse the TLS handshake, with a message that does not
// say why.
var ErrCertificateExpired = errors.New("finauth: revolut: the transport certificate is not valid now")

// DefaultCertificateExpiryWarning is how long before the transport certificate expires
// NewTransport logs a warning (WithCertificateExpiryWarning).
const DefaultCertificateExpiryWarning = 30 * 24 * time.Hour

// transportTLS is TLSConfig and the transport certificate, refused when it is not valid at
// now: expired, or not yet valid (a wrong clock, or a certificate issued for later). Callers
// pass the real time, not an injected clock: the server checks the certificate against its.
func (c Config) transportTLS(now time.Time) (*tls.Config, *x509.Certificate, error) {
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, nil, err
	}
	leaf, err := x509.ParseCertificate(tc.Certificates[0].Certificate[0])
	if err != nil {
		return nil, nil, config.Problemf(provider, "TransportCertFile", "REVOLUT_TRANSPORT_CERT_FILE", "%v", err)
	}
	switch {
	case now.After(leaf.NotAfter):
		return nil, nil, fmt.Errorf("%w: REVOLUT_TRANSPORT_CERT_FILE (%s, %s) expired at %s, %s ago: Revolut refuses the TLS handshake; renew it (a new certificate from Revolut's developer portal, or your eIDAS QWAC) and point REVOLUT_TRANSPORT_CERT_FILE and REVOLUT_TRANSPORT_KEY_FILE at the new pair",
			ErrCertificateExpired, c.TransportCertFile, leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339), now.Sub(leaf.NotAfter).Round(time.Minute))
	case now.Before(leaf.NotBefore):
		return nil, nil, fmt.Errorf("%w: REVOLUT_TRANSPORT_CERT_FILE (%s, %s) is valid only from %s, %s from now: check this machine's clock, or wait",
			ErrCertificateExpired, c.TransportCertFile, leaf.Subject, leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotBefore.Sub(now).Round(time.Minute))
	}
	return tc, leaf, nil
}

// String shows the configuration with secrets and URL passwords redacted.
func (c Config) String() string { return fmt.Sprint(c) }

// Format shows the configuration with secrets and URL passwords redacted, for every verb.
func (c Config) Format(f fmt.State, verb rune) { redact.Format(f, verb, c) }

// MarshalJSON marshals the configuration with secrets and URL passwords redacted.
func (c Config) MarshalJSON() ([]byte, error) { return redact.JSON(c) }

// LogValue logs the configuration with secrets and URL passwords redacted.
func (c Config) LogValue() slog.Value { return redact.LogValue(c) }
