package revolut

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// Request objects (the JWT of Revolut's documentation): nbf five minutes in the past, exp 55 minutes after nbf,
// as Revolut recommends; Revolut refuses exp more than 60 minutes after nbf.
const (
	RequestObjectBackdate = 5 * time.Minute
	RequestObjectLifetime = 55 * time.Minute
)

// The x-jws-signature's critical header parameter: the trust anchor (root domain of the
// JWKS URL).
const (
	TANHeader = "http://openbanking.org.uk/tan"
	iatHeader = "http://openbanking.org.uk/iat"
	issHeader = "http://openbanking.org.uk/iss"
)

// ErrRequestObject is wrapped by the errors of request objects and authorisation URLs.
var ErrRequestObject = errors.New("finauth: revolut: cannot make the request object")

// Signer makes Revolut's request objects, consent authorisation URLs and x-jws-signature
// values with the application's PS256 signing key. It is safe for concurrent use.
type Signer struct {
	cfg       Config
	ring      *signer.Ring // the current key, and the next one during a rotation
	clock     tokencache.Clock
	legacyIss string
	noNonce   bool
}

// NewSigner checks what signing needs (client ID, key ID, key, redirect URI, audience, the
// authorisation URL; the tan for x-jws-signature) and loads the key: for signing alone
// (the CLI's mint and authorize). A Transport has its own ([Transport.Signer]).
func NewSigner(cfg Config, opts ...Option) (*Signer, error) {
	cfg = cfg.withDefaults()
	p := config.NewProblems(provider)
	p.Require(cfg.ClientID, "ClientID", "REVOLUT_CLIENT_ID")
	p.Require(cfg.KeyID, "KeyID", "REVOLUT_KEY_ID")
	p.Require(cfg.RedirectURI, "RedirectURI", "REVOLUT_REDIRECT_URI")
	p.Require(cfg.Audience, "Audience", "REVOLUT_AUDIENCE")
	cfg.keySource().Check(p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return newSigner(cfg, collect(opts))
}

// newSigner loads the key of a configuration already checked, with its defaults applied.
func newSigner(cfg Config, o *options) (*Signer, error) {
	r, err := cfg.ring(o.Cache.Clock.Now, o.OnSign())
	if err != nil {
		return nil, err
	}
	return &Signer{cfg: cfg, ring: r, clock: o.Cache.Clock, legacyIss: o.legacyIss, noNonce: o.noNonce}, nil
}

// current is the key that signs now (during a rotation, the next one once Revolut has had
// KeyCacheTime to fetch the JWKS holding it).
func (s *Signer) current() *signer.Signer { return s.ring.Current() }

// KeyID is the kid of the key that signs now.
func (s *Signer) KeyID() string { return s.ring.Current().KeyID() }

// Ring is the signer's keys: the current one and, during a rotation, the next one and when
// it starts to sign (Ring.Next).
func (s *Signer) Ring() *signer.Ring { return s.ring }

// requestClaims are the request object's claims, in the member order of Revolut's example.
type requestClaims struct {
	ResponseType string        `json:"response_type"`
	ClientID     string        `json:"client_id"`
	RedirectURI  string        `json:"redirect_uri"`
	Audience     string        `json:"aud"`
	Scope        string        `json:"scope"`
	State        string        `json:"state,omitempty"`
	Nonce        string        `json:"nonce,omitempty"`
	NotBefore    int64         `json:"nbf"`
	Expiry       int64         `json:"exp"`
	Claims       idTokenClaims `json:"claims"`
}

type idTokenClaims struct {
	IDToken struct {
		Intent struct {
			Value string `json:"value"`
		} `json:"openbanking_intent_id"`
	} `json:"id_token"`
}

// RequestObject returns the PS256 JWT that authorises consent consentID for scope
// ("accounts" or "payments"), with state when given: header {"alg":"PS256","kid":...}. It
// carries a random nonce (128 bits, new for each request object): OpenID Connect requires
// one for response_type "code id_token", and so does FAPI 1.0 Advanced, which Revolut
// follows; Revolut's documentation does not list it (WithoutNonce leaves it out).
func (s *Signer) RequestObject(consentID, scope, state string) (string, error) {
	if err := checkConsent(consentID, scope); err != nil {
		return "", err
	}
	nbf := s.clock.Now().Add(-RequestObjectBackdate).Unix()
	c := requestClaims{ResponseType: "code id_token", ClientID: s.cfg.ClientID, RedirectURI: s.cfg.RedirectURI,
		Audience: s.cfg.Audience, Scope: scope, State: state, NotBefore: nbf, Expiry: nbf + int64(RequestObjectLifetime/time.Second)}
	if !s.noNonce {
		var n [16]byte
		if _, err := rand.Read(n[:]); err != nil {
			return "", errors.Join(ErrRequestObject, err)
		}
		c.Nonce = base64.RawURLEncoding.EncodeToString(n[:])
	}
	c.Claims.IDToken.Intent.Value = consentID
	return s.current().SignJWT(c)
}

func checkConsent(consentID, scope string) error {
	var missing []string
	if strings.TrimSpace(consentID) == "" {
		missing = append(missing, "the consent ID (the ConsentId the consent endpoint returned)")
	}
	if strings.TrimSpace(scope) == "" {
		missing = append(missing, "the scope (accounts or payments)")
	}
	if missing != nil {
		return errors.Join(ErrRequestObject, errors.New("finauth: revolut: give "+strings.Join(missing, " and ")))
	}
	return nil
}

// AuthorizationURL returns the consent authorisation URL to send the user to: AuthURL with
// response_type "code id_token", client_id, redirect_uri, scope, state (when given) and the
// request object.
func (s *Signer) AuthorizationURL(consentID, scope, state string) (string, error) {
	if s.cfg.AuthURL == "" {
		return "", config.Problemf(provider, "AuthURL", "REVOLUT_AUTH_URL", "required (or REVOLUT_ENV=sandbox|production for Revolut's)")
	}
	u, err := url.Parse(s.cfg.AuthURL)
	if err != nil {
		return "", config.Problemf(provider, "AuthURL", "REVOLUT_AUTH_URL", "%s does not parse: %s", redact.URL(s.cfg.AuthURL), redact.URLError(s.cfg.AuthURL, err))
	}
	ro, err := s.RequestObject(consentID, scope, state)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("response_type", "code id_token")
	q.Set("client_id", s.cfg.ClientID)
	q.Set("redirect_uri", s.cfg.RedirectURI)
	q.Set("scope", scope)
	if state != "" {
		q.Set("state", state)
	}
	q.Set("request", ro)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// JWSHeader returns the protected header fields of x-jws-signature beside alg and kid.
func (s *Signer) JWSHeader() signer.Header {
	if s.legacyIss != "" {
		return signer.Header{
			{Name: "typ", Value: "JOSE"},
			{Name: iatHeader, Value: s.clock.Now().Unix()},
			{Name: issHeader, Value: s.legacyIss},
			{Name: TANHeader, Value: s.cfg.TAN},
			{Name: "crit", Value: []string{"b64", iatHeader, issHeader, TANHeader}},
		}
	}
	return signer.Header{
		{Name: "typ", Value: "JOSE"},
		{Name: "crit", Value: []string{TANHeader}},
		{Name: TANHeader, Value: s.cfg.TAN},
	}
}

// ErrNoTAN is returned by JWSSignature when Config.TAN is not set.
var ErrNoTAN = errors.New("finauth: revolut: x-jws-signature needs the tan: set REVOLUT_TAN (Config.TAN) to the root domain of your JWKS URL")

// JWSSignature returns the x-jws-signature of body (exactly its bytes): a detached compact
// JWS "header..signature". Its signature fits transport.Signing's SignFunc.
func (s *Signer) JWSSignature(_ *http.Request, body io.Reader) (string, error) {
	if s.cfg.TAN == "" {
		return "", ErrNoTAN
	}
	if s.legacyIss != "" {
		return s.current().SignUnencodedDetachedReader(s.JWSHeader(), body)
	}
	return s.current().SignDetachedReader(s.JWSHeader(), body)
}
