package main

import (
	"bytes"
	"context"
	"net/http"

	"github.com/finauth/finauth/integration/oauthmock"
	"github.com/finauth/finauth/signer"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/tokencache"
)

// oauth2CLI is any OAuth 2.0 server's client credentials (mia is the Mia-Platform preset of
// it), with the FAPI 2.0 building blocks: DPoP-bound tokens and message signatures.
type oauth2CLI struct{}

func (oauth2CLI) name() string { return "oauth2" }

func (oauth2CLI) about(cmd string) string {
	switch cmd {
	case "token":
		return "a client-credentials token of any OAuth 2.0 server (DPoP-bound with --dpop)"
	case "mint":
		return "a client assertion (private_key_jwt) for any OAuth 2.0 server"
	case "call":
		return "any OAuth 2.0 server's client credentials; --dpop binds tokens to a key, --signature-key signs requests (RFC 9421, FAPI 2.0)"
	case "check":
		return "the configuration, the keys, one token request (with its DPoP proof), the clock, Redis"
	}
	return ""
}

func (oauth2CLI) bindings() []binding {
	return append(append(keyBindings("OAUTH"), originBindings("OAUTH")...),
		binding{flag: "token-url", variable: "OAUTH_TOKEN_URL", help: "token endpoint"},
		binding{flag: "client-id", variable: "OAUTH_CLIENT_ID", help: "the registered client ID"},
		binding{flag: "client-secret-env", variable: "OAUTH_CLIENT_SECRET", help: "name of the environment variable holding the client secret", kind: indirect},
		binding{flag: "auth-method", variable: "OAUTH_AUTH_METHOD", help: "client_secret_basic (default without a key), client_secret_post or private_key_jwt (default with a key)"},
		binding{flag: "aud", variable: "OAUTH_AUDIENCE", help: "private_key_jwt: the assertion's audience (default the token URL)"},
		binding{flag: "scope", variable: "OAUTH_SCOPE", help: "scopes, space- or comma-separated"},
		binding{flag: "ttl", variable: "OAUTH_ASSERTION_TTL", help: "private_key_jwt: the assertion's lifetime, default 5m"},
		binding{flag: "alg", variable: "OAUTH_ALG", help: "private_key_jwt: RS256 (default), PS256, ES256 or EdDSA"},
		binding{flag: "dpop", variable: "OAUTH_DPOP", help: "bind the tokens to a DPoP key (RFC 9449): a proof on every token and API request", kind: switchOn},
		binding{flag: "dpop-key", variable: "OAUTH_DPOP_KEY_FILE", help: "the DPoP key (a file, pkcs11: or awskms:); default one made for the process"},
		binding{flag: "signature-key", variable: "OAUTH_SIGNATURE_KEY_FILE", help: "sign every API request (RFC 9421, FAPI 2.0 request profile) with this key"},
		binding{flag: "signature-key-id", variable: "OAUTH_SIGNATURE_KEY_ID", help: "the signatures' keyid"},
		binding{flag: "signature-profile", variable: "OAUTH_SIGNATURE_PROFILE", help: "fapi2 (the default and only one)"},
	)
}

func (oauth2CLI) ownFlags(*flags, string) {}

// config lays the flags over the OAUTH_* variables; mint needs neither URL.
func (p oauth2CLI) config(a *app, f *flags, mint bool) (clientcredentials.Config, error) {
	o, err := variables(a, f, p)
	if err != nil {
		return clientcredentials.Config{}, err
	}
	cfg, err := clientcredentials.ConfigFromLookup(o.lookup)
	if mint {
		err = dropProblems(err, "OAUTH_TOKEN_URL", "OAUTH_API_URL")
	}
	return cfg, err
}

func (p oauth2CLI) token(ctx context.Context, a *app, f *flags) (tokencache.Token, error) {
	cfg, err := p.config(a, f, false)
	if err != nil {
		return tokencache.Token{}, err
	}
	return clientcredentials.Token(ctx, cfg)
}

func (p oauth2CLI) mint(a *app, f *flags) (string, error) {
	cfg, err := p.config(a, f, true)
	if err != nil {
		return "", err
	}
	return clientcredentials.MintAssertion(cfg, a.now())
}

func (p oauth2CLI) connect(a *app, f *flags, n *network) (*session, error) {
	cfg, err := p.config(a, f, false)
	if err != nil {
		return nil, err
	}
	return bearerSession(a, n, "OAUTH_API_URL", "", func(base http.RoundTripper, tokenClient *http.Client, store tokencache.Store) (bearerTransport, error) {
		return clientcredentials.NewTransport(cfg, clientcredentials.WithBaseTransport(base), clientcredentials.WithTokenHTTPClient(tokenClient), clientcredentials.WithTokenStore(store), clientcredentials.WithCacheOptions(n.cacheOptions()),
			clientcredentials.WithMeterProvider(n.meter()), clientcredentials.WithTracerProvider(n.tracer()))
	})
}

// check reads the configuration and the keys and asks for one token (with its proof).
func (p oauth2CLI) check(ctx context.Context, a *app, f *flags, net *checkNet) (checked, error) {
	cfg, err := p.config(a, f, false)
	if err != nil {
		return checked{}, err
	}
	// The transport reads the DPoP and signature keys (a token request needs neither built).
	t, err := clientcredentials.NewTransport(cfg)
	if err != nil {
		return checked{}, err
	}
	t.Close()
	tok, err := clientcredentials.Token(ctx, cfg, clientcredentials.WithTokenHTTPClient(net.client()))
	return checked{asked: tokenAt(cfg.TokenURL), token: &tok, err: err}, nil
}

// oauth2Demo is the FAPI 2.0 leg's section of demo --json.
type oauth2Demo struct {
	Requests      int `json:"requests"`
	OK            int `json:"ok"`
	TokenRequests int `json:"token_requests"`
	DPoPBound     int `json:"tokens_dpop_bound"`
	Signed        int `json:"signatures_verified"`
	NoncesAsked   int `json:"nonces_asked"`
	OtherRefusals int `json:"other_refusals"`
}

// demoOAuthRevokeEvery: the OAuth mock revokes a token after this many uses.
const demoOAuthRevokeEvery = 250

func (oauth2CLI) demo() demoLeg { return &oauth2Leg{} }

// oauth2Leg: DPoP-bound tokens and FAPI 2.0 message signatures against the strict mock,
// which asks for nonces and rotates them midway, and revokes tokens.
type oauth2Leg struct {
	m  *oauthmock.Server
	t  *clientcredentials.Transport
	hc *http.Client
}

func (l *oauth2Leg) start(say sayFunc) error {
	sigKey, err := signer.GenerateKey(signer.ES256)
	if err != nil {
		return err
	}
	if l.m, err = oauthmock.NewServer(oauthmock.Config{Clients: map[string]string{"demo-fapi": "demo-secret"}, RequireDPoP: true, Nonces: true,
		SignatureKeys: signer.NewKeySet(sigKey.Public().WithKeyID("demo-sig")), RevokeEvery: demoOAuthRevokeEvery}); err != nil {
		return err
	}
	if l.t, err = clientcredentials.NewTransport(clientcredentials.Config{TokenURL: l.m.TokenURL(), APIURLs: []string{l.m.URL}, ClientID: "demo-fapi",
		ClientSecret: "demo-secret", DPoP: true, SignatureKey: sigKey, SignatureKeyID: "demo-sig"}); err != nil {
		return err
	}
	l.hc = &http.Client{Transport: l.t}
	say("  OAuth 2.0 mock %s (FAPI 2.0 building blocks): requires a DPoP proof (RFC 9449) on every token and API request, asks for nonces, requires an RFC 9421 signature on every API request, and revokes a token every %d uses.", l.m.URL, demoOAuthRevokeEvery)
	return nil
}

func (l *oauth2Leg) kinds() int { return 1 }

// send: a signed POST with a DPoP-bound token.
func (l *oauth2Leg) send(_, w, i int) (*http.Client, *http.Request, int) {
	req, _ := http.NewRequest(http.MethodPost, l.m.URL+"/payments", bytes.NewReader(demoBody(w, i)))
	return l.hc, req, http.StatusCreated
}

func (l *oauth2Leg) midway() { l.m.RotateNonce() }

func (l *oauth2Leg) after(sayFunc) error { return nil }

func (l *oauth2Leg) report(res *demoResult, reqs, oks int) bool {
	st := l.m.Stats()
	res.OAuth2 = oauth2Demo{Requests: reqs, OK: oks, TokenRequests: st.Tokens, DPoPBound: st.DPoPBound, Signed: st.Signed, NoncesAsked: st.Refusals["use_dpop_nonce"]}
	for reason, n := range st.Refusals {
		if reason != "use_dpop_nonce" && reason != "invalid_token" {
			res.OAuth2.OtherRefusals += n
		}
	}
	return reqs == oks && res.OAuth2.OtherRefusals == 0
}

func (l *oauth2Leg) describe(say sayFunc, res demoResult) {
	r := res.OAuth2
	say("OAuth 2.0, FAPI 2.0 building blocks (DPoP-bound tokens, RFC 9421 message signatures):")
	say("  %d requests, %d answered 201, each with its own DPoP proof and signature (%d signatures verified); %d token requests, %d of them DPoP-bound; %d nonces asked for and sent; %d other refusals.", r.Requests, r.OK, r.Signed, r.TokenRequests, r.DPoPBound, r.NoncesAsked, r.OtherRefusals)
}

func (l *oauth2Leg) close() {
	if l.t != nil {
		l.t.Close()
	}
	if l.m != nil {
		l.m.Close()
	}
}
