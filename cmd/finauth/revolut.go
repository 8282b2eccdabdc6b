package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/tokencache"
)

// revolutCLI is Revolut Open Banking: mutual TLS, consents, request objects, x-jws-signature.
type revolutCLI struct{}

func (revolutCLI) name() string { return "revolut" }

func (revolutCLI) about(cmd string) string {
	switch cmd {
	case "token":
		return "a Revolut client-credentials token, or with --code the user's tokens (mutual TLS)"
	case "mint":
		return "a Revolut consent request object (PS256)"
	case "authorize":
		return "the consent authorisation URL to send the user to"
	case "call":
		return "Open Banking over mutual TLS"
	case "check":
		return "the configuration, the keys, the transport certificate's dates, one client-credentials token over mutual TLS, the clock, Redis"
	}
	return ""
}

func (revolutCLI) bindings() []binding {
	return append(append(keyBindings("REVOLUT"), originBindings("REVOLUT")...),
		binding{flag: "env", variable: "REVOLUT_ENV", help: "sandbox or production: Revolut's URLs and audience for the ones not given"},
		binding{flag: "client-id", variable: "REVOLUT_CLIENT_ID", help: "the application's client ID"},
		binding{flag: "redirect-uri", variable: "REVOLUT_REDIRECT_URI", help: "one of the application's redirect URIs"},
		binding{flag: "tan", variable: "REVOLUT_TAN", help: "root domain of your JWKS URL, x-jws-signature's tan"},
		binding{flag: "auth-url", variable: "REVOLUT_AUTH_URL", help: "the consent authorisation UI"},
		binding{flag: "transport-cert", variable: "REVOLUT_TRANSPORT_CERT_FILE", help: "the transport certificate, PEM"},
		binding{flag: "transport-key", variable: "REVOLUT_TRANSPORT_KEY_FILE", help: "the transport certificate's key, PEM"},
		binding{flag: "token-url", variable: "REVOLUT_TOKEN_URL", help: "token endpoint"},
		binding{flag: "registration-url", variable: "REVOLUT_REGISTRATION_URL", help: "the dynamic client registration endpoint (register revolut); default the token URL's origin + /register"},
		binding{flag: "aud", variable: "REVOLUT_AUDIENCE", help: "the request object's audience"},
		binding{flag: "cacert", variable: "REVOLUT_CA_FILE", help: "PEM file of CA certificates to trust besides the system's"},
		binding{flag: "scope", help: "accounts or payments: the client-credentials token's (token: default accounts; call: default from the path), or the consent's kind (mint, authorize: default payments)"},
	)
}

func (revolutCLI) ownFlags(f *flags, cmd string) {
	switch cmd {
	case "token":
		f.text("code", "exchange this authorization code (from the redirect after the user approved a consent) for the user's tokens")
		f.text("consent", "with --code: the consent ID the code authorises; its access and refresh token are kept in the shared store (FINAUTH_REDIS_URL) for call/load --consent and your services")
	case "mint", "authorize":
		f.text("consent", "the consent ID (ConsentId) to authorise (required)")
		f.text("state", "OAuth state, returned to the redirect URI")
	case "call":
		f.text("token-env", "revolut: the name of the environment variable holding the user's access token (for payments and account data); default the client-credentials token")
		f.text("consent", "revolut: use the user's tokens of this consent from the shared store (FINAUTH_REDIS_URL; put there by token revolut --code CODE --consent ID), renewed with its refresh token by one replica at a time")
	}
}

// config lays the flags over the REVOLUT_* variables. A command that only signs (mint,
// authorize) does not ask for the transport certificate, the token URL or the API.
func (p revolutCLI) config(a *app, f *flags, signOnly bool) (revolut.Config, error) {
	o, err := variables(a, f, p)
	if err != nil {
		return revolut.Config{}, err
	}
	cfg, err := revolut.ConfigFromLookup(o.lookup)
	if signOnly {
		err = dropProblems(err, "REVOLUT_TRANSPORT_CERT_FILE", "REVOLUT_TRANSPORT_KEY_FILE", "REVOLUT_TOKEN_URL", "REVOLUT_API_URL")
	}
	return cfg, err
}

// scope is --scope, or def.
func scope(f *flags, def string) string {
	if s := f.get("scope"); s != "" {
		return s
	}
	return def
}

// token: a client-credentials token over mutual TLS, or with --code the authorization-code
// exchange (access and refresh token).
func (p revolutCLI) token(ctx context.Context, a *app, f *flags) (tokencache.Token, error) {
	cfg, err := p.config(a, f, false)
	if err != nil {
		return tokencache.Token{}, err
	}
	code, consent := f.get("code"), f.get("consent")
	if code == "" {
		if consent != "" {
			return tokencache.Token{}, usagef("token revolut --consent needs --code: the authorization code the redirect URI received for that consent")
		}
		return revolut.Token(ctx, cfg, scope(f, "accounts"))
	}
	store, closeStore, err := a.tokenStore()
	if err != nil {
		return tokencache.Token{}, err
	}
	defer closeStore()
	if consent != "" && store == nil {
		return tokencache.Token{}, usagef("token revolut --consent keeps the consent's tokens in the shared store: set FINAUTH_REDIS_URL (without --consent the tokens are only printed)")
	}
	tr, err := revolut.NewTransport(cfg, revolut.WithTokenStore(store), revolut.WithLogger(a.logger()))
	if err != nil {
		return tokencache.Token{}, err
	}
	defer tr.Close()
	return tr.ExchangeCode(ctx, consent, code)
}

// signer is what mint revolut and authorize revolut share: the consent and the signer.
func (p revolutCLI) signer(a *app, f *flags, cmd string) (*revolut.Signer, string, error) {
	consent := f.get("consent")
	if consent == "" {
		return nil, "", usagef("%s revolut needs --consent (the ConsentId the consent endpoint returned)", cmd)
	}
	cfg, err := p.config(a, f, true)
	if err != nil {
		return nil, "", err
	}
	s, err := revolut.NewSigner(cfg, revolut.WithClock(clockFunc(a.now)))
	return s, consent, err
}

func (p revolutCLI) mint(a *app, f *flags) (string, error) {
	s, consent, err := p.signer(a, f, "mint")
	if err != nil {
		return "", err
	}
	return s.RequestObject(consent, scope(f, "payments"), f.get("state"))
}

func (p revolutCLI) authorize(a *app, f *flags) (string, error) {
	s, consent, err := p.signer(a, f, "authorize")
	if err != nil {
		return "", err
	}
	return s.AuthorizationURL(consent, scope(f, "payments"), f.get("state"))
}

// cliConsent is the consent the user token of --token-env is kept under: named after the
// token (a hash of it), so that users of one client ID sharing a Redis never adopt each
// other's token, while replicas given the same token share it.
func cliConsent(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "cli-" + hex.EncodeToString(sum[:12])
}

// connect is call/load's Revolut transport: mutual TLS from the configuration (with -v's
// trace), the shared token store when configured, and --token-env's user token.
func (p revolutCLI) connect(a *app, f *flags, n *network) (*session, error) {
	cfg, err := p.config(a, f, false)
	if err != nil {
		return nil, err
	}
	tokenEnv, consent := f.get("token-env"), f.get("consent")
	if tokenEnv != "" && consent != "" {
		return nil, usagef("--token-env and --consent: give one (--consent reads the consent's tokens from the shared store)")
	}
	var userToken string
	if tokenEnv != "" {
		v, ok := a.lookup(tokenEnv)
		if !ok || v == "" {
			return nil, usagef("--token-env %s: that variable is not set (put the user's access token in it, e.g. from finauth token revolut --code CODE --show-token)", tokenEnv)
		}
		userToken = v
	}
	tc, err := cfg.TLSConfig()
	if err != nil {
		return nil, err
	}
	base := client.DefaultTransport()
	base.TLSClientConfig = tc
	store, closeStore, err := a.tokenStore()
	if err != nil {
		return nil, err
	}
	if consent != "" && store == nil {
		closeStore()
		return nil, usagef("--consent reads the consent's tokens from the shared store: set FINAUTH_REDIS_URL (the one token revolut --code CODE --consent %s used)", consent)
	}
	tr, err := revolut.NewTransport(cfg, revolut.WithBaseTransport(n.trace(base)), revolut.WithTokenStore(store),
		revolut.WithCacheOptions(n.cacheOptions()), revolut.WithLogger(a.logger()), revolut.WithMeterProvider(n.meter()), revolut.WithTracerProvider(n.tracer()))
	if err != nil {
		closeStore()
		return nil, err
	}
	closeAll := func() { tr.Close(); base.CloseIdleConnections(); closeStore() }
	if userToken != "" {
		if err := tr.SetUserToken(cliConsent(userToken), tokencache.Token{Value: userToken, Type: "Bearer"}); err != nil {
			closeAll()
			return nil, err
		}
	}
	var rt http.RoundTripper = tr
	if tokenEnv != "" || consent != "" {
		rt = userTokenHint{base: tr, variable: tokenEnv, consent: consent}
	}
	sc := f.get("scope")
	return &session{rt: rt, origins: tr.Origins(), variable: "REVOLUT_API_URL", def: "REVOLUT_ENV's", authorizes: true,
		prepare: func(req *http.Request) *http.Request {
			switch {
			case tokenEnv != "":
				req = req.WithContext(revolut.WithConsent(req.Context(), cliConsent(userToken)))
			case consent != "":
				req = req.WithContext(revolut.WithConsent(req.Context(), consent))
			}
			if sc != "" {
				req = req.WithContext(revolut.WithScope(req.Context(), sc))
			}
			return req
		},
		exchanges: func() uint64 { return tr.Stats().Fetches }, replays: tr.Replays, close: closeAll}, nil
}

// userTokenHint says, when there is no user token to use or renew, how to get one: for
// --token-env, which variable held the refused token; for --consent, the exchange that puts
// the consent's tokens in the shared store.
type userTokenHint struct {
	base              http.RoundTripper
	variable, consent string
}

func (u userTokenHint) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := u.base.RoundTrip(req)
	switch {
	case !errors.Is(err, revolut.ErrNoUserToken):
	case u.consent != "":
		return nil, fmt.Errorf("consent %s has no user token in the shared store: exchange the code of its authorisation first (finauth token revolut --code CODE --consent %s, with the same FINAUTH_REDIS_URL)", u.consent, u.consent)
	default:
		return nil, fmt.Errorf("the API refused the access token in %s (401) and there is no refresh token to renew it: get a new one (finauth token revolut --code CODE --show-token)", u.variable)
	}
	return resp, err
}

// clockFunc is a tokencache.Clock over a now function (the CLI's clock, set by tests).
type clockFunc func() time.Time

func (c clockFunc) Now() time.Time { return c() }

func (c clockFunc) AfterFunc(d time.Duration, f func()) tokencache.Timer {
	return tokencache.RealClock{}.AfterFunc(d, f)
}

// revolutDemo is the Revolut leg's section of demo --json.
type revolutDemo struct {
	URL           string `json:"url"`
	Consents      int    `json:"consents"`
	Authorised    int    `json:"consents_authorised"`
	Payments      int    `json:"payments"`
	TokenRequests int    `json:"token_requests"`
	Refused       int    `json:"refused"`
	Error         string `json:"error,omitempty"`
}

const demoRevolutPayments = 5

// check reads the configuration and the keys, reports the transport certificate (whatever
// its dates: the check says when it expires), and asks for one client-credentials token over
// mutual TLS.
func (p revolutCLI) check(ctx context.Context, a *app, f *flags, net *checkNet) (checked, error) {
	cfg, err := p.config(a, f, false)
	if err != nil {
		return checked{}, err
	}
	tc, err := cfg.TLSConfig()
	if err != nil {
		return checked{}, err
	}
	found := checked{asked: tokenAt(cfg.TokenURL), certs: map[string]*x509.Certificate{}}
	if leaf := leafOf(tc); leaf != nil {
		found.certs["transport"] = leaf
	}
	base := client.DefaultTransport()
	base.TLSClientConfig = tc
	defer base.CloseIdleConnections()
	tok, err := revolut.Token(ctx, cfg, scope(f, "accounts"), revolut.WithBaseTransport(net.over(base)), revolut.WithLogger(a.logger()))
	found.token, found.err = &tok, err
	return found, nil
}
