package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// PismoMaxJWTTTL is the longest lifetime Pismo accepts for the JWT it exchanges
// (exp - iat <= 3600 s).
const PismoMaxJWTTTL = time.Hour

// PismoConfig configures the Pismo client. Fill it directly or with PismoConfigFromEnv.
// Its String/GoString/Format never show the key, the PEM text or the password.
type PismoConfig struct {
	// TokenURL is the exchange endpoint, e.g. https://sandbox.pismolabs.io/passport/v1/oauth2/token.
	TokenURL string
	// APIURLs are the origins that receive the access token; default: TokenURL's origin.
	APIURLs []string

	// The private key: Key (any signer.Key, including a KMS/HSM one), else PrivateKeyPEM
	// (the PEM text), else PrivateKeyFile; PrivateKeyPassword when it is encrypted.
	Key                *signer.Key
	PrivateKeyPEM      string
	PrivateKeyFile     string
	PrivateKeyPassword string
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
	Exchange ExchangeOptions
}

// PismoConfigFromEnv reads PISMO_TOKEN_URL, PISMO_API_URL (comma-separated origins),
// PISMO_PRIVATE_KEY_FILE or PISMO_PRIVATE_KEY (PEM text), PISMO_PRIVATE_KEY_PASSWORD,
// PISMO_KEY_ID, PISMO_ISSUER, PISMO_SUBJECT, PISMO_AUDIENCE, PISMO_TENANT_ID, PISMO_GROUP,
// PISMO_UID, PISMO_CUSTOM_CLAIMS (a JSON object), PISMO_JWT_TTL (seconds or a duration)
// and PISMO_ALLOW_INSECURE_HTTP. Every problem is reported at once, by variable name, in a
// *ConfigError; values of secret variables never appear in it.
func PismoConfigFromEnv() (PismoConfig, error) {
	return pismoConfigFromEnv(os.LookupEnv)
}

// PismoConfigFromLookup is PismoConfigFromEnv over any source of variables (a CLI lays its
// flags over the environment this way).
func PismoConfigFromLookup(lookup func(string) (string, bool)) (PismoConfig, error) {
	return pismoConfigFromEnv(lookup)
}

func pismoConfigFromEnv(lookup env) (PismoConfig, error) {
	var p problems
	c := PismoConfig{
		TokenURL:           lookup.get("PISMO_TOKEN_URL"),
		APIURLs:            lookup.list("PISMO_API_URL"),
		PrivateKeyFile:     lookup.get("PISMO_PRIVATE_KEY_FILE"),
		PrivateKeyPEM:      lookup.get("PISMO_PRIVATE_KEY"),
		PrivateKeyPassword: lookup.get("PISMO_PRIVATE_KEY_PASSWORD"),
		KeyID:              lookup.get("PISMO_KEY_ID"),
		Issuer:             lookup.get("PISMO_ISSUER"),
		Subject:            lookup.get("PISMO_SUBJECT"),
		Audience:           lookup.get("PISMO_AUDIENCE"),
		TenantID:           lookup.get("PISMO_TENANT_ID"),
		Group:              lookup.get("PISMO_GROUP"),
		UID:                lookup.get("PISMO_UID"),
		JWTTTL:             lookup.duration(&p, "JWTTTL", "PISMO_JWT_TTL"),
		AllowInsecureHTTP:  lookup.boolean(&p, "AllowInsecureHTTP", "PISMO_ALLOW_INSECURE_HTTP", false),
	}
	if raw := lookup.get("PISMO_CUSTOM_CLAIMS"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &c.CustomClaims); err != nil || c.CustomClaims == nil {
			p.add("CustomClaims", "PISMO_CUSTOM_CLAIMS", "not a JSON object (e.g. {\"custom1\":\"value\"})")
		}
	}
	c.check(&p)
	return c, p.err("Pismo")
}

// Validate reports every problem of the configuration at once.
func (c PismoConfig) Validate() error {
	var p problems
	c.check(&p)
	return p.err("Pismo")
}

func (c PismoConfig) check(p *problems) {
	p.require(c.TokenURL, "TokenURL", "PISMO_TOKEN_URL")
	p.checkURL(c.TokenURL, "TokenURL", "PISMO_TOKEN_URL", c.AllowInsecureHTTP)
	for _, u := range c.APIURLs {
		p.checkURL(u, "APIURLs", "PISMO_API_URL", c.AllowInsecureHTTP)
	}
	c.checkJWT(p)
}

// checkJWT checks what minting a JWT needs: the key and the claims.
func (c PismoConfig) checkJWT(p *problems) {
	p.checkKeySource("PISMO", c.Key, c.PrivateKeyPEM, c.PrivateKeyFile)
	p.require(c.Issuer, "Issuer", "PISMO_ISSUER")
	p.require(c.Subject, "Subject", "PISMO_SUBJECT")
	p.require(c.Audience, "Audience", "PISMO_AUDIENCE")
	p.require(c.TenantID, "TenantID", "PISMO_TENANT_ID")
	p.require(c.Group, "Group", "PISMO_GROUP")
	if c.JWTTTL < 0 || c.JWTTTL > PismoMaxJWTTTL {
		p.add("JWTTTL", "PISMO_JWT_TTL", "%v is outside (0, 1h]: Pismo refuses exp - iat above 3600 s", c.JWTTTL)
	} else if c.JWTTTL != 0 && c.JWTTTL < time.Second {
		p.add("JWTTTL", "PISMO_JWT_TTL", "%v is shorter than a second", c.JWTTTL)
	}
	for k := range c.CustomClaims {
		if k == "" {
			p.add("CustomClaims", "PISMO_CUSTOM_CLAIMS", "a claim has an empty name")
		}
	}
}

// String shows the configuration with secrets redacted.
func (c PismoConfig) String() string {
	return fmt.Sprintf("client.PismoConfig{TokenURL:%q APIURLs:%q Key:%v PrivateKeyPEM:%s PrivateKeyFile:%q PrivateKeyPassword:%s KeyID:%q Issuer:%q Subject:%q Audience:%q TenantID:%q Group:%q UID:%q JWTTTL:%v}",
		c.TokenURL, c.APIURLs, c.Key, redacted(c.PrivateKeyPEM), c.PrivateKeyFile, redacted(c.PrivateKeyPassword), c.KeyID, c.Issuer, c.Subject, c.Audience, c.TenantID, c.Group, c.UID, c.JWTTTL)
}

// GoString is String.
func (c PismoConfig) GoString() string { return c.String() }

// Format keeps every fmt verb on String.
func (c PismoConfig) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

func (c PismoConfig) loadKey() (*signer.Key, error) {
	return loadKey("Pismo", "PISMO", c.Key, c.PrivateKeyPEM, c.PrivateKeyFile, c.PrivateKeyPassword)
}

// Option adjusts a client built by a New* function.
type Option func(*options)

type options struct {
	// owned are the transports the client made itself (not given by the caller): Close
	// releases their idle connections.
	owned        []*http.Transport
	base         http.RoundTripper
	tokenClient  *http.Client
	cacheOptions tokencache.Options
	selector     AccountSelector
	now          func() time.Time
}

// WithBaseTransport sends API requests through rt (default: a tuned clone of
// http.DefaultTransport).
func WithBaseTransport(rt http.RoundTripper) Option { return func(o *options) { o.base = rt } }

// WithTokenHTTPClient sends token-endpoint requests through hc.
func WithTokenHTTPClient(hc *http.Client) Option { return func(o *options) { o.tokenClient = hc } }

// WithCacheOptions sets the token cache's options (refresh window, margin, logger, hooks, clock...).
func WithCacheOptions(co tokencache.Options) Option {
	return func(o *options) { o.cacheOptions = co }
}

// WithAccountSelector replaces AccountFromContext.
func WithAccountSelector(s AccountSelector) Option { return func(o *options) { o.selector = s } }

func collectOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.base == nil {
		t := DefaultTransport()
		o.base, o.owned = t, append(o.owned, t)
	}
	if o.selector == nil {
		o.selector = AccountFromContext
	}
	o.now = time.Now
	if o.cacheOptions.Clock != nil {
		o.now = o.cacheOptions.Clock.Now
	}
	return o
}

// tokenHTTPClient is the client for token-endpoint calls: the one given, else a new one
// that follows no redirects (a token endpoint that redirects is misconfigured, and the JWT
// must not follow it).
func (o *options) tokenHTTPClient() *http.Client {
	if o.tokenClient == nil {
		t := DefaultTransport()
		o.owned = append(o.owned, t)
		o.tokenClient = &http.Client{Transport: t, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return o.tokenClient
}

// DefaultTransport is a clone of http.DefaultTransport with bounded dial, TLS and
// response-header waits and more idle connections per host (we talk to few hosts, a lot).
func DefaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.MaxIdleConnsPerHost = 64
	return t
}

// PismoTransport is the Pismo http.RoundTripper: a transport.Bearer over a token cache
// whose fetch mints the JWT and exchanges it. Close it to stop background refreshes.
type PismoTransport struct {
	bearer *transport.Bearer
	cache  *tokencache.Cache
	owned  []*http.Transport
}

// RoundTrip implements http.RoundTripper.
func (t *PismoTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.bearer.RoundTrip(req)
}

// Close stops the token cache's timers and background refreshes and closes the idle
// connections of the transports the client made itself.
func (t *PismoTransport) Close() error {
	err := t.cache.Close()
	for _, tr := range t.owned {
		tr.CloseIdleConnections()
	}
	return err
}

// Stats returns the token cache's counters (Fetches counts exchanges).
func (t *PismoTransport) Stats() tokencache.Stats { return t.cache.Stats() }

// Replays returns how many requests were replayed after a 401.
func (t *PismoTransport) Replays() uint64 { return t.bearer.Replays() }

// NewPismo returns an *http.Client that authenticates every request to the configured API
// origins with a Pismo access token, fetched, cached, refreshed ahead of expiry and
// replaced after a 401 without the caller noticing.
func NewPismo(cfg PismoConfig, opts ...Option) (*http.Client, error) {
	t, err := NewPismoTransport(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t}, nil
}

// NewPismoTransport is NewPismo's RoundTripper, for composing with other transports.
func NewPismoTransport(cfg PismoConfig, opts ...Option) (*PismoTransport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := cfg.loadKey()
	if err != nil {
		return nil, err
	}
	s, err := signer.New(key, signer.Options{Algorithm: signer.RS256, KeyID: cfg.KeyID, Type: "JWT"})
	if err != nil {
		return nil, &ConfigError{Provider: "Pismo", Problems: []Problem{{Field: "PrivateKeyFile", Env: "PISMO_PRIVATE_KEY_FILE", Reason: err.Error()}}}
	}
	apiURLs := cfg.APIURLs
	if len(apiURLs) == 0 {
		u, _ := url.Parse(cfg.TokenURL)
		apiURLs = []string{u.Scheme + "://" + u.Host}
	}
	origins, err := transport.NewOrigins(apiURLs, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, &ConfigError{Provider: "Pismo", Problems: []Problem{{Field: "APIURLs", Env: "PISMO_API_URL", Reason: err.Error()}}}
	}
	o := collectOptions(opts)
	x := &pismoExchange{cfg: cfg, signer: s, now: o.now,
		endpoint: newTokenEndpoint("Pismo", cfg.TokenURL, o.tokenHTTPClient(), cfg.Exchange, o.cacheOptions.Logger)}
	cache := tokencache.New(x.fetch, o.cacheOptions)
	sel := o.selector
	return &PismoTransport{
		cache: cache,
		owned: o.owned,
		bearer: &transport.Bearer{
			Base:    o.base,
			Tokens:  cache,
			Origins: origins,
			Key: func(req *http.Request) (string, error) {
				a, err := sel(req)
				if err != nil {
					return "", err
				}
				return a.cacheKey()
			},
		},
	}, nil
}

// pismoExchange mints a JWT for a cache key and exchanges it for an access token.
type pismoExchange struct {
	cfg      PismoConfig
	signer   *signer.Signer
	endpoint *tokenEndpoint
	now      func() time.Time
}

// pismoClaims are the JWT claims of PROTOCOLS.md (Pismo).
type pismoClaims struct {
	Iss               string         `json:"iss"`
	Sub               string         `json:"sub"`
	Aud               string         `json:"aud"`
	Iat               int64          `json:"iat"`
	Exp               int64          `json:"exp"`
	TenantID          string         `json:"tenant_id"`
	UID               string         `json:"uid,omitempty"`
	ExternalAccountID string         `json:"external_account_id,omitempty"`
	Pismo             pismoGroup     `json:"pismo"`
	CustomClaims      map[string]any `json:"customClaims,omitempty"`
}

type pismoGroup struct {
	Group string `json:"group"`
}

// claims builds the claims of the token for account at now.
func (x *pismoExchange) claims(account Account, now time.Time) pismoClaims {
	ttl := x.cfg.JWTTTL
	if ttl == 0 {
		ttl = PismoMaxJWTTTL
	}
	c := pismoClaims{
		Iss: x.cfg.Issuer, Sub: x.cfg.Subject, Aud: x.cfg.Audience,
		Iat: now.Unix(), Exp: now.Add(ttl).Unix(),
		TenantID: x.cfg.TenantID, Pismo: pismoGroup{Group: x.cfg.Group}, CustomClaims: x.cfg.CustomClaims,
	}
	switch account.Kind {
	case AccountToken:
		c.UID = account.ID
	case ExternalAccountToken:
		c.ExternalAccountID = account.ID
	default:
		c.UID = x.cfg.UID
		if c.UID == "" {
			c.UID = x.cfg.TenantID
		}
	}
	return c
}

// MintPismoJWT signs the JWT the exchange would send for account (TenantToken for the
// tenant token), for inspection and for the CLI. It needs the key and the claims, not the
// URLs.
func MintPismoJWT(cfg PismoConfig, account Account, now time.Time) (string, error) {
	var p problems
	cfg.checkJWT(&p)
	if err := p.err("Pismo"); err != nil {
		return "", err
	}
	key, err := cfg.loadKey()
	if err != nil {
		return "", err
	}
	s, err := signer.New(key, signer.Options{Algorithm: signer.RS256, KeyID: cfg.KeyID, Type: "JWT"})
	if err != nil {
		return "", err
	}
	x := &pismoExchange{cfg: cfg, signer: s}
	return s.SignJWT(x.claims(account, now))
}

// PismoToken performs one exchange for account and returns the access token, without
// caching (for the CLI and for checking a configuration).
func PismoToken(ctx context.Context, cfg PismoConfig, account Account, opts ...Option) (tokencache.Token, error) {
	if err := cfg.Validate(); err != nil {
		return tokencache.Token{}, err
	}
	key, err := cfg.loadKey()
	if err != nil {
		return tokencache.Token{}, err
	}
	s, err := signer.New(key, signer.Options{Algorithm: signer.RS256, KeyID: cfg.KeyID, Type: "JWT"})
	if err != nil {
		return tokencache.Token{}, err
	}
	cacheKey, err := account.cacheKey()
	if err != nil {
		return tokencache.Token{}, err
	}
	o := collectOptions(opts)
	defer func() {
		for _, t := range o.owned {
			t.CloseIdleConnections()
		}
	}()
	x := &pismoExchange{cfg: cfg, signer: s, now: o.now, endpoint: newTokenEndpoint("Pismo", cfg.TokenURL, o.tokenHTTPClient(), cfg.Exchange, nil)}
	return x.fetch(ctx, cacheKey)
}

func (x *pismoExchange) fetch(ctx context.Context, key string) (tokencache.Token, error) {
	account := accountFromKey(key)
	now := x.now()
	jwt, err := x.signer.SignJWT(x.claims(account, now))
	if err != nil {
		return tokencache.Token{}, fmt.Errorf("%w: Pismo: signing the JWT: %w", ErrTokenExchange, err)
	}
	body, _ := json.Marshal(map[string]string{"token": jwt})
	status, data, err := x.endpoint.post(ctx, "application/json", body)
	if err != nil {
		return tokencache.Token{}, err
	}
	if status != http.StatusOK && status != http.StatusCreated {
		return tokencache.Token{}, fmt.Errorf("%w: Pismo: unexpected status %d for a token answer", ErrTokenResponse, status)
	}
	value, typ, refresh, expiry, err := parseTokenResponse("Pismo", data, now) // lifetime counted from before the request: conservative
	if err != nil {
		return tokencache.Token{}, err
	}
	if typ == "" || strings.EqualFold(typ, "bearer") {
		typ = "Bearer"
	}
	return tokencache.Token{Value: value, Type: typ, RefreshToken: refresh, Expiry: expiry}, nil
}
