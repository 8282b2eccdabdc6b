package client

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/transport"
)

// SoldoMaxJWSTTL is the longest lifetime of a Soldo request signature ("exp" less than a
// minute after the request).
const SoldoMaxJWSTTL = 60 * time.Second

// SoldoDefaultJWSTTL is the default lifetime of a Soldo request signature.
const SoldoDefaultJWSTTL = 50 * time.Second

// SoldoConfig configures the Soldo client (Token.io-style request signing). Fill it directly
// or with SoldoConfigFromEnv. Its String/GoString/Format never show the key or password.
type SoldoConfig struct {
	// APIURLs are the origins whose requests are signed. Required.
	APIURLs []string

	// The private key: Key, else PrivateKeyPEM, else PrivateKeyFile (+ PrivateKeyPassword).
	Key                *signer.Key
	PrivateKeyPEM      string
	PrivateKeyFile     string
	PrivateKeyPassword string
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

// SoldoConfigFromEnv reads SOLDO_API_URL (comma-separated, required), SOLDO_PRIVATE_KEY_FILE
// or SOLDO_PRIVATE_KEY, SOLDO_PRIVATE_KEY_PASSWORD, SOLDO_KEY_ID, SOLDO_MEMBER_ID (required),
// SOLDO_ALG, SOLDO_JWS_TTL (default 50s, at most 60s), SOLDO_DETACHED (default true),
// SOLDO_EXP_AS_NUMBER, SOLDO_HOST_WITH_PORT, SOLDO_MAX_BODY_BYTES and
// SOLDO_ALLOW_INSECURE_HTTP. Every problem is reported at once, by name.
func SoldoConfigFromEnv() (SoldoConfig, error) { return soldoConfigFromEnv(os.LookupEnv) }

// SoldoConfigFromLookup is SoldoConfigFromEnv over any source of variables.
func SoldoConfigFromLookup(lookup func(string) (string, bool)) (SoldoConfig, error) {
	return soldoConfigFromEnv(lookup)
}

func soldoConfigFromEnv(lookup env) (SoldoConfig, error) {
	var p problems
	c := SoldoConfig{
		APIURLs:            lookup.list("SOLDO_API_URL"),
		PrivateKeyFile:     lookup.get("SOLDO_PRIVATE_KEY_FILE"),
		PrivateKeyPEM:      lookup.get("SOLDO_PRIVATE_KEY"),
		PrivateKeyPassword: lookup.get("SOLDO_PRIVATE_KEY_PASSWORD"),
		KeyID:              lookup.get("SOLDO_KEY_ID"),
		MemberID:           lookup.get("SOLDO_MEMBER_ID"),
		JWSTTL:             lookup.duration(&p, "JWSTTL", "SOLDO_JWS_TTL"),
		Attached:           !lookup.boolean(&p, "Attached", "SOLDO_DETACHED", true),
		ExpAsNumber:        lookup.boolean(&p, "ExpAsNumber", "SOLDO_EXP_AS_NUMBER", false),
		HostWithPort:       lookup.boolean(&p, "HostWithPort", "SOLDO_HOST_WITH_PORT", false),
		AllowInsecureHTTP:  lookup.boolean(&p, "AllowInsecureHTTP", "SOLDO_ALLOW_INSECURE_HTTP", false),
	}
	if v := lookup.get("SOLDO_ALG"); v != "" {
		a, err := signer.ParseAlgorithm(v)
		if err != nil {
			p.add("Algorithm", "SOLDO_ALG", "%q is not one of RS256, PS256, ES256, EdDSA", v)
		}
		c.Algorithm = a
	}
	if v := lookup.get("SOLDO_MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			p.add("MaxBodyBytes", "SOLDO_MAX_BODY_BYTES", "%q is not a positive number of bytes", v)
		}
		c.MaxBodyBytes = n
	}
	c.check(&p)
	return c, p.err("Soldo")
}

// Validate reports every problem of the configuration at once.
func (c SoldoConfig) Validate() error {
	var p problems
	c.check(&p)
	return p.err("Soldo")
}

func (c SoldoConfig) check(p *problems) {
	if len(c.APIURLs) == 0 {
		p.add("APIURLs", "SOLDO_API_URL", "required: the API origin(s) whose requests are signed")
	}
	for _, u := range c.APIURLs {
		p.checkURL(u, "APIURLs", "SOLDO_API_URL", c.AllowInsecureHTTP)
	}
	p.checkKeySource("SOLDO", c.Key, c.PrivateKeyPEM, c.PrivateKeyFile)
	p.require(c.MemberID, "MemberID", "SOLDO_MEMBER_ID")
	if c.JWSTTL < 0 || c.JWSTTL > SoldoMaxJWSTTL {
		p.add("JWSTTL", "SOLDO_JWS_TTL", "%v is outside (0, 60s]: the signature must expire less than a minute after the request", c.JWSTTL)
	}
	switch c.Algorithm {
	case "", signer.RS256, signer.PS256, signer.ES256, signer.EdDSA:
	default:
		p.add("Algorithm", "SOLDO_ALG", "%s is not one of RS256, PS256, ES256, EdDSA", c.Algorithm)
	}
}

// String shows the configuration with secrets redacted.
func (c SoldoConfig) String() string {
	return fmt.Sprintf("client.SoldoConfig{APIURLs:%q Key:%v PrivateKeyPEM:%s PrivateKeyFile:%q PrivateKeyPassword:%s KeyID:%q MemberID:%q Algorithm:%s JWSTTL:%v Attached:%v}",
		c.APIURLs, c.Key, redacted(c.PrivateKeyPEM), c.PrivateKeyFile, redacted(c.PrivateKeyPassword), c.KeyID, c.MemberID, c.Algorithm, c.JWSTTL, c.Attached)
}

// GoString is String.
func (c SoldoConfig) GoString() string { return c.String() }

// Format keeps every fmt verb on String.
func (c SoldoConfig) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// SoldoSigner signs Soldo requests: a detached (or attached) JWS whose protected header
// carries the request's method, host, path and query, over the exact body bytes.
type SoldoSigner struct {
	s        *signer.Signer
	keyID    string
	memberID string
	ttl      time.Duration
	attached bool
	expNum   bool
	withPort bool
	now      func() time.Time
}

// NewSoldoSigner checks cfg, loads its key and returns the signer (for the CLI, or to
// build a transport.Signing yourself).
func NewSoldoSigner(cfg SoldoConfig, now func() time.Time) (*SoldoSigner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := loadKey("Soldo", "SOLDO", cfg.Key, cfg.PrivateKeyPEM, cfg.PrivateKeyFile, cfg.PrivateKeyPassword)
	if err != nil {
		return nil, err
	}
	kid := cfg.KeyID
	if kid == "" {
		kid = key.KeyID()
	}
	if kid == "" {
		return nil, &ConfigError{Provider: "Soldo", Problems: []Problem{{Field: "KeyID", Env: "SOLDO_KEY_ID", Reason: "required: the key ID Soldo gave when the public key was registered"}}}
	}
	// kid and typ are in the header list (Header), where they take the place the Signer
	// would give them: the header reads alg, typ, exp, mid, kid, method, host, path, query,
	// the documented order.
	s, err := signer.New(key, signer.Options{Algorithm: cfg.Algorithm})
	if err != nil {
		return nil, &ConfigError{Provider: "Soldo", Problems: []Problem{{Field: "Algorithm", Env: "SOLDO_ALG", Reason: err.Error()}}}
	}
	ttl := cfg.JWSTTL
	if ttl == 0 {
		ttl = SoldoDefaultJWSTTL
	}
	if now == nil {
		now = time.Now
	}
	return &SoldoSigner{s: s, keyID: kid, memberID: cfg.MemberID, ttl: ttl, attached: cfg.Attached, expNum: cfg.ExpAsNumber, withPort: cfg.HostWithPort, now: now}, nil
}

// Algorithm returns the signing algorithm.
func (ss *SoldoSigner) Algorithm() signer.Algorithm { return ss.s.Algorithm() }

// Header returns the protected-header fields for req, in the documented order.
func (ss *SoldoSigner) Header(req *http.Request) signer.Header {
	expMs := ss.now().Add(ss.ttl).UnixMilli()
	var exp any = strconv.FormatInt(expMs, 10)
	if ss.expNum {
		exp = expMs
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if ss.withPort {
		if _, _, err := net.SplitHostPort(host); err != nil {
			port := "443"
			if req.URL.Scheme == "http" {
				port = "80"
			}
			host = net.JoinHostPort(strings.Trim(host, "[]"), port)
		}
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	path := req.URL.Path
	if path == "" {
		path = "/"
	}
	h := signer.Header{
		{Name: "typ", Value: "jwt"},
		{Name: "exp", Value: exp},
		{Name: "mid", Value: ss.memberID},
		{Name: "kid", Value: ss.keyID},
		{Name: "method", Value: method},
		{Name: "host", Value: host},
		{Name: "path", Value: path},
	}
	if req.URL.RawQuery != "" {
		h = append(h, signer.Field{Name: "query", Value: req.URL.RawQuery})
	}
	return h
}

// Sign is a transport.SignFunc: it returns "Bearer <jws>" for req with body.
func (ss *SoldoSigner) Sign(req *http.Request, body io.Reader) (string, error) {
	h := ss.Header(req)
	var jws string
	var err error
	if ss.attached {
		var b []byte
		if b, err = io.ReadAll(body); err == nil {
			jws, err = ss.s.SignAttached(h, b)
		}
	} else {
		jws, err = ss.s.SignDetachedReader(h, body)
	}
	if err != nil {
		return "", err
	}
	return "Bearer " + jws, nil
}

// NewSoldo returns an *http.Client whose every request to the configured API origins
// carries a fresh Soldo signature.
func NewSoldo(cfg SoldoConfig, opts ...Option) (*http.Client, error) {
	t, err := NewSoldoTransport(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t}, nil
}

// NewSoldoTransport is NewSoldo's RoundTripper, for composing with other transports.
func NewSoldoTransport(cfg SoldoConfig, opts ...Option) (*transport.Signing, error) {
	o := collectOptions(opts)
	ss, err := NewSoldoSigner(cfg, o.now)
	if err != nil {
		return nil, err
	}
	origins, err := transport.NewOrigins(cfg.APIURLs, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, &ConfigError{Provider: "Soldo", Problems: []Problem{{Field: "APIURLs", Env: "SOLDO_API_URL", Reason: err.Error()}}}
	}
	return &transport.Signing{Base: o.base, Sign: ss.Sign, Origins: origins, MaxBodyBytes: cfg.MaxBodyBytes}, nil
}
