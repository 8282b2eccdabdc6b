package main

import (
	"context"
	"net/http"

	"github.com/finauth/finauth/client/clientcredentials"
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
	base, tokenClient, err := n.base()
	if err != nil {
		return nil, err
	}
	store, closeStore, err := a.tokenStore()
	if err != nil {
		return nil, err
	}
	t, err := clientcredentials.NewTransport(cfg, clientcredentials.WithBaseTransport(base), clientcredentials.WithTokenHTTPClient(tokenClient), clientcredentials.WithTokenStore(store))
	if err != nil {
		closeStore()
		return nil, err
	}
	return &session{rt: t, origins: t.Origins(), variable: "MIA_API_URL",
		prepare:   func(req *http.Request) *http.Request { return req },
		exchanges: func() uint64 { return t.Stats().Fetches }, replays: t.Replays,
		close: func() { t.Close(); closeStore() }}, nil
}
