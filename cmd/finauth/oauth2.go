package main

import (
	"context"
	"net/http"

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
