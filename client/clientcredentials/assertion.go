package clientcredentials

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/signer"
)

// AssertionType is the client_assertion_type of a JWT client assertion (RFC 7523).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// claims are a client assertion's claims (RFC 7523 section 3).
type claims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Jti string `json:"jti"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

// assertions makes client assertions: iss = sub = the client ID, aud, a random 128-bit jti,
// iat, exp.
type assertions struct {
	signer   *signer.Signer
	clientID string
	audience string
	ttl      time.Duration
}

func (c Config) assertions() (*assertions, error) {
	alg := c.Algorithm
	if alg == "" {
		alg = signer.RS256
	}
	s, err := c.keySource().Signer(c.provider(), signer.Options{Algorithm: alg, KeyID: c.KeyID, Type: "JWT"}, "PrivateKeyFile", c.name("PRIVATE_KEY_FILE"))
	if err != nil {
		return nil, err
	}
	aud := c.Audience
	if aud == "" {
		aud = c.TokenURL
	}
	ttl := c.AssertionTTL
	if ttl == 0 {
		ttl = DefaultAssertionTTL
	}
	return &assertions{signer: s, clientID: c.ClientID, audience: aud, ttl: ttl}, nil
}

// claims are the claims of an assertion made at now with the unique ID jti.
func (a *assertions) claims(now time.Time, jti string) any {
	return claims{Iss: a.clientID, Sub: a.clientID, Aud: a.audience, Jti: jti, Iat: now.Unix(), Exp: now.Add(a.ttl).Unix()}
}

// mint signs a new assertion dated now, with a random 128-bit jti.
func (a *assertions) mint(now time.Time) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	return a.signer.SignJWT(a.claims(now, base64.RawURLEncoding.EncodeToString(jti[:])))
}

// MintAssertion signs one client assertion for cfg at now, as a token request would send it
// (for inspection and for the CLI). It needs the key, the client ID and the audience.
func MintAssertion(cfg Config, now time.Time) (string, error) {
	p := config.NewProblems(cfg.provider())
	p.Require(cfg.ClientID, "ClientID", cfg.name("CLIENT_ID"))
	cfg.keySource().Check(p)
	if cfg.Audience == "" {
		p.Require(cfg.TokenURL, "TokenURL", cfg.name("TOKEN_URL"))
	}
	if err := p.Err(); err != nil {
		return "", err
	}
	a, err := cfg.assertions()
	if err != nil {
		return "", err
	}
	jwt, err := a.mint(now)
	if err != nil {
		return "", fmt.Errorf("finauth: clientcredentials: signing the assertion: %w", err)
	}
	return jwt, nil
}
