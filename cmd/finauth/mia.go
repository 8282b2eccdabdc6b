package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/integration/miamock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// miaCLI is Mia-Platform: OAuth 2.0 client credentials with a private_key_jwt assertion.
type miaCLI struct{}

func (miaCLI) name() string { return "mia" }

func (miaCLI) about(cmd string) string {
	switch cmd {
	case "token":
		return "a Mia-Platform client-credentials token"
	case "mint":
		return "a Mia-Platform client assertion (private_key_jwt)"
	case "call":
		return "Mia-Platform client credentials"
	case "check":
		return "the configuration, the key, one token request, the clock, Redis"
	}
	return ""
}

func (miaCLI) bindings() []binding {
	return append(append(keyBindings("MIA"), originBindings("MIA")...),
		binding{flag: "token-url", variable: "MIA_TOKEN_URL", help: "token endpoint"},
		binding{flag: "client-id", variable: "MIA_CLIENT_ID", help: "the registered client ID"},
		binding{flag: "aud", variable: "MIA_AUDIENCE", help: "the assertion's audience: the service's issuer"},
		binding{flag: "scope", variable: "MIA_SCOPE", help: "scopes, space- or comma-separated"},
		binding{flag: "ttl", variable: "MIA_ASSERTION_TTL", help: "the assertion's lifetime, default 5m"},
		binding{flag: "alg", variable: "MIA_ALG", help: "RS256 (default), PS256, ES256 or EdDSA"},
	)
}

func (miaCLI) ownFlags(*flags, string) {}

// config lays the flags over the MIA_* variables; mint needs neither URL.
func (p miaCLI) config(a *app, f *flags, mint bool) (clientcredentials.Config, error) {
	o, err := variables(a, f, p)
	if err != nil {
		return clientcredentials.Config{}, err
	}
	cfg, err := clientcredentials.MiaConfigFromLookup(o.lookup)
	if mint {
		err = dropProblems(err, "MIA_TOKEN_URL", "MIA_API_URL")
	}
	return cfg, err
}

func (p miaCLI) token(ctx context.Context, a *app, f *flags) (tokencache.Token, error) {
	cfg, err := p.config(a, f, false)
	if err != nil {
		return tokencache.Token{}, err
	}
	return clientcredentials.Token(ctx, cfg)
}

func (p miaCLI) mint(a *app, f *flags) (string, error) {
	cfg, err := p.config(a, f, true)
	if err != nil {
		return "", err
	}
	return clientcredentials.MintAssertion(cfg, a.now())
}

func (p miaCLI) connect(a *app, f *flags, n *network) (*session, error) {
	cfg, err := p.config(a, f, false)
	if err != nil {
		return nil, err
	}
	return bearerSession(a, n, "MIA_API_URL", "", func(base http.RoundTripper, tokenClient *http.Client, store tokencache.Store) (bearerTransport, error) {
		return clientcredentials.NewTransport(cfg, clientcredentials.WithBaseTransport(base), clientcredentials.WithTokenHTTPClient(tokenClient), clientcredentials.WithTokenStore(store), clientcredentials.WithCacheOptions(n.cacheOptions()),
			clientcredentials.WithMeterProvider(n.meter()), clientcredentials.WithTracerProvider(n.tracer()))
	})
}

// miaDemo is the Mia-Platform leg's section of demo --json.
type miaDemo struct {
	Requests      int `json:"requests"`
	OK            int `json:"ok"`
	TokenRequests int `json:"token_requests"`
	Revoked       int `json:"tokens_revoked"`
	Replays       int `json:"replayed_after_401"`
	Refused       int `json:"assertions_refused"`
}

// demoMiaRevokeEvery: the Mia-Platform mock revokes the token of every this-many API uses.
const demoMiaRevokeEvery = 200

func (miaCLI) demo() demoLeg { return &miaLeg{} }

// miaLeg: client credentials with a fresh assertion per token request, a token revoked
// every demoMiaRevokeEvery uses.
type miaLeg struct {
	m  *miamock.Server
	t  *clientcredentials.Transport
	hc *http.Client
}

func (l *miaLeg) start(say sayFunc) error {
	const issuer, clientID, kid = "https://mia.example/issuer", "demo-service", "demo-mia-key"
	key, err := signer.GenerateRSAKey(signer.RS256, 2048)
	if err != nil {
		return err
	}
	if l.m, err = miamock.NewServer(miamock.Config{Issuer: issuer}); err != nil {
		return err
	}
	jwk, err := json.Marshal(key.Public().WithKeyID(kid))
	if err != nil {
		return err
	}
	if err := l.m.Register(clientID, jwk); err != nil {
		return err
	}
	l.m.RevokeEvery(demoMiaRevokeEvery)
	if l.t, err = clientcredentials.NewTransport(clientcredentials.Config{TokenURL: l.m.TokenURL(), APIURLs: []string{l.m.URL},
		ClientID: clientID, Key: key, KeyID: kid, Audience: issuer}); err != nil {
		return err
	}
	l.hc = &http.Client{Transport: l.t}
	say("  Mia-Platform mock %s: verifies every RS256 client assertion (iss, sub, aud, kid, exp, a jti never seen before) and revokes a token every %d uses.", l.m.URL, demoMiaRevokeEvery)
	return nil
}

func (l *miaLeg) kinds() int { return 1 }

// send: a POST with the client-credentials token.
func (l *miaLeg) send(_, w, i int) (*http.Client, *http.Request, int) {
	req, _ := http.NewRequest(http.MethodPost, l.m.URL+"/orders", bytes.NewReader(demoBody(w, i)))
	return l.hc, req, http.StatusOK
}

func (l *miaLeg) midway() {}

func (l *miaLeg) after(sayFunc) error { return nil }

func (l *miaLeg) report(res *demoResult, reqs, oks int) bool {
	ms := l.m.Stats()
	res.Mia = miaDemo{Requests: reqs, OK: oks, TokenRequests: ms.Tokens, Revoked: ms.Revoked, Replays: int(l.t.Replays())}
	for _, n := range ms.Rejections {
		res.Mia.Refused += n
	}
	return reqs == oks
}

func (l *miaLeg) describe(say sayFunc, res demoResult) {
	r := res.Mia
	say("Mia-Platform (client credentials, private_key_jwt):")
	say("  %d requests, %d answered 200; %d token requests, each with a fresh assertion (%d refused): the first, and one per revoked token (%d revoked, %d requests replayed).", r.Requests, r.OK, r.TokenRequests, r.Refused, r.Revoked, r.Replays)
}

func (l *miaLeg) close() {
	if l.t != nil {
		l.t.Close()
	}
	if l.m != nil {
		l.m.Close()
	}
}

// check reads the configuration and the key and asks for one token.
func (p miaCLI) check(ctx context.Context, a *app, f *flags, net *checkNet) (checked, error) {
	cfg, err := p.config(a, f, false)
	if err != nil {
		return checked{}, err
	}
	tok, err := clientcredentials.Token(ctx, cfg, clientcredentials.WithTokenHTTPClient(net.client()))
	return checked{asked: tokenAt(cfg.TokenURL), token: &tok, err: err}, nil
}
