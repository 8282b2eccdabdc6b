package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/tokencache"
)

// revolutFlags are the Revolut-only flags, over REVOLUT_* variables.
type revolutFlags struct {
	env, clientID, redirectURI, tan, authURL, transportCert, transportKey, caFile string
}

func (r *revolutFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.env, "env", "", "revolut: sandbox or production, Revolut's URLs and audience for the ones not given (REVOLUT_ENV)")
	fs.StringVar(&r.clientID, "client-id", "", "revolut: the application's client ID (REVOLUT_CLIENT_ID)")
	fs.StringVar(&r.redirectURI, "redirect-uri", "", "revolut: one of the application's redirect URIs (REVOLUT_REDIRECT_URI)")
	fs.StringVar(&r.tan, "tan", "", "revolut: root domain of your JWKS URL, x-jws-signature's tan (REVOLUT_TAN)")
	fs.StringVar(&r.authURL, "auth-url", "", "revolut: the consent authorisation UI (REVOLUT_AUTH_URL)")
	fs.StringVar(&r.transportCert, "transport-cert", "", "revolut: the transport certificate, PEM (REVOLUT_TRANSPORT_CERT_FILE)")
	fs.StringVar(&r.transportKey, "transport-key", "", "revolut: the transport certificate's key, PEM (REVOLUT_TRANSPORT_KEY_FILE)")
}

// revolutConfig lays the flags over the REVOLUT_* variables. A command that only signs
// (mint, authorize) does not ask for the transport certificate, the token URL or the API.
func (a *app) revolutConfig(p *providerFlags, r *revolutFlags, signOnly bool) (revolut.Config, error) {
	o, err := p.env(a, "REVOLUT")
	if err != nil {
		return revolut.Config{}, err
	}
	clientID := r.clientID
	if clientID == "" {
		clientID = p.clientID
	}
	for name, v := range map[string]string{"_ENV": r.env, "_CLIENT_ID": clientID, "_REDIRECT_URI": r.redirectURI, "_TAN": r.tan,
		"_AUTH_URL": r.authURL, "_TRANSPORT_CERT_FILE": r.transportCert, "_TRANSPORT_KEY_FILE": r.transportKey,
		"_TOKEN_URL": p.tokenURL, "_AUDIENCE": p.aud, "_CA_FILE": r.caFile} {
		if v != "" {
			o.set["REVOLUT"+name] = v
		}
	}
	cfg, err := revolut.ConfigFromLookup(o.lookup)
	if signOnly {
		err = dropProblems(err, "REVOLUT_TRANSPORT_CERT_FILE", "REVOLUT_TRANSPORT_KEY_FILE", "REVOLUT_TOKEN_URL", "REVOLUT_API_URL")
	}
	return cfg, err
}

// tokenRevolut: a client-credentials token over mutual TLS, or with --code the
// authorization-code exchange (access and refresh token).
func (a *app) tokenRevolut(args []string) error {
	fs := a.newFlags("token revolut", "token revolut [--scope accounts|payments] [--code CODE] [--show-token] [--output json|bare|header]")
	var p providerFlags
	var r revolutFlags
	p.common(fs, "REVOLUT")
	r.register(fs)
	fs.StringVar(&p.tokenURL, "token-url", "", "token endpoint (REVOLUT_TOKEN_URL)")
	fs.StringVar(&r.caFile, "cacert", "", "PEM file of CA certificates to trust besides the system's (REVOLUT_CA_FILE)")
	scope := fs.String("scope", "accounts", "client-credentials scope: accounts or payments")
	code := fs.String("code", "", "exchange this authorization code (from the redirect after the user approved a consent) for the user's tokens")
	show := fs.Bool("show-token", false, "print the tokens themselves (they are secrets)")
	output := fs.String("output", "json", "json (tokens, type, expiry), bare (the access token alone) or header (Authorization: Bearer …); tokens only with --show-token")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	cfg, err := a.revolutConfig(&p, &r, false)
	if err != nil {
		return err
	}
	tr, err := revolut.NewTransport(cfg)
	if err != nil {
		return err
	}
	defer tr.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var tok tokencache.Token
	if *code != "" {
		tok, err = tr.ExchangeCode(ctx, "", *code)
	} else {
		tok, err = tr.ClientCredentialsToken(ctx, *scope)
	}
	if err != nil {
		return err
	}
	if *output != "json" || tok.RefreshToken == "" {
		return a.printToken(tok, *show, *output)
	}
	refresh := fmt.Sprintf("[redacted: %d characters; --show-token prints it]", len(tok.RefreshToken))
	access := fmt.Sprintf("[redacted: %d characters; --show-token prints it]", len(tok.Value))
	if *show {
		access, refresh = tok.Value, tok.RefreshToken
	}
	return a.printJSON(map[string]any{"token_type": tok.Type, "expires_in": int(tok.Expiry.Sub(a.now()).Seconds()),
		"expires_at": tok.Expiry.UTC().Format(time.RFC3339), "access_token": access, "refresh_token": refresh})
}

// revolutSigning is what mint revolut and authorize revolut share: flags, configuration,
// signer.
func (a *app) revolutSigning(cmd string, args []string) (s *revolut.Signer, consent, scope, state string, err error) {
	fs := a.newFlags(cmd, cmd+" --consent ID [--scope payments|accounts] [--state S] [provider flags]")
	var p providerFlags
	var r revolutFlags
	p.common(fs, "REVOLUT")
	r.register(fs)
	fs.StringVar(&p.aud, "aud", "", "the request object's audience (REVOLUT_AUDIENCE)")
	c := fs.String("consent", "", "the consent ID (ConsentId) to authorise (required)")
	sc := fs.String("scope", "payments", "payments or accounts: the consent's kind")
	st := fs.String("state", "", "OAuth state, returned to the redirect URI")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, "", "", "", err
	}
	if len(pos) != 0 {
		return nil, "", "", "", usagef("%s takes no arguments (got %q)", cmd, pos)
	}
	if *c == "" {
		return nil, "", "", "", usagef("%s needs --consent (the ConsentId the consent endpoint returned)", cmd)
	}
	cfg, err := a.revolutConfig(&p, &r, true)
	if err != nil {
		return nil, "", "", "", err
	}
	s, err = revolut.NewSigner(cfg, revolut.WithClock(clockFunc(a.now)))
	return s, *c, *sc, *st, err
}

// mintRevolut prints the request object.
func (a *app) mintRevolut(args []string) error {
	s, consent, scope, state, err := a.revolutSigning("mint revolut", args)
	if err != nil {
		return err
	}
	jwt, err := s.RequestObject(consent, scope, state)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, jwt)
	return nil
}

// authorize prints the consent authorisation URL (authorize revolut).
func (a *app) authorize(args []string) error {
	_, args, err := a.subcommands("authorize", args, [][2]string{{"revolut", "the consent authorisation URL to send the user to"}})
	if err != nil {
		return err
	}
	s, consent, scope, state, err := a.revolutSigning("authorize revolut", args)
	if err != nil {
		return err
	}
	link, err := s.AuthorizationURL(consent, scope, state)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, link)
	return nil
}

// clockFunc is a tokencache.Clock over a now function (the CLI's clock, set by tests).
type clockFunc func() time.Time

func (c clockFunc) Now() time.Time { return c() }

func (c clockFunc) AfterFunc(d time.Duration, f func()) tokencache.Timer {
	return tokencache.RealClock{}.AfterFunc(d, f)
}

// cliConsent is the consent the user token of --token-env is kept under.
const cliConsent = "cli"

// revolutTransport is call/load's Revolut transport: mutual TLS from the configuration (with
// -v's logging), the shared token store when configured, and --token-env's user token.
func (r *requestFlags) revolutTransport(a *app, target string) (http.RoundTripper, counters, func(), error) {
	rf := revolutFlags{clientID: r.clientID, caFile: r.cacert}
	cfg, err := a.revolutConfig(&r.providerFlags, &rf, false)
	if err != nil {
		return nil, noCounters, nil, err
	}
	if err := refuseForeign(target, []string{cfg.APIURL}, cfg.AllowInsecureHTTP, "REVOLUT_API_URL", "REVOLUT_ENV's"); err != nil {
		return nil, noCounters, nil, err
	}
	var userToken string
	if r.tokenEnv != "" {
		v, ok := a.lookup(r.tokenEnv)
		if !ok || v == "" {
			return nil, noCounters, nil, usagef("--token-env %s: that variable is not set (put the user's access token in it, e.g. from finauth token revolut --code CODE --show-token)", r.tokenEnv)
		}
		userToken = v
	}
	tc, err := cfg.TLSConfig()
	if err != nil {
		return nil, noCounters, nil, err
	}
	base := client.DefaultTransport()
	base.TLSClientConfig = tc
	var rt http.RoundTripper = base
	if r.verbose != nil {
		rt = &verboseTransport{base: base, w: r.verbose}
	}
	store, closeStore, err := a.tokenStore()
	if err != nil {
		return nil, noCounters, nil, err
	}
	tr, err := revolut.NewTransport(cfg, revolut.WithBaseTransport(rt), revolut.WithTokenStore(store))
	if err != nil {
		closeStore()
		return nil, noCounters, nil, err
	}
	if userToken != "" {
		if err := tr.SetUserToken(cliConsent, tokencache.Token{Value: userToken, Type: "Bearer"}); err != nil {
			tr.Close()
			closeStore()
			return nil, noCounters, nil, err
		}
	}
	count := counters{func() uint64 { return tr.Stats().Fetches }, tr.Replays}
	var out http.RoundTripper = tr
	if r.tokenEnv != "" {
		out = userTokenHint{base: tr, variable: r.tokenEnv}
	}
	return out, count, func() { tr.Close(); base.CloseIdleConnections(); closeStore() }, nil
}

// userTokenHint says, when the API refused --token-env's token and nothing can renew it, which
// variable held it and how to get a new one.
type userTokenHint struct {
	base     http.RoundTripper
	variable string
}

func (u userTokenHint) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := u.base.RoundTrip(req)
	if errors.Is(err, revolut.ErrNoUserToken) {
		return nil, fmt.Errorf("the API refused the access token in %s (401) and there is no refresh token to renew it: get a new one (finauth token revolut --code CODE --show-token)", u.variable)
	}
	return resp, err
}
