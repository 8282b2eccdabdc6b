package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/tokencache"
)

// pismoCLI is Pismo: an RS256 JWT exchanged for tenant and account tokens.
type pismoCLI struct{}

func (pismoCLI) name() string { return "pismo" }

func (pismoCLI) about(cmd string) string {
	switch cmd {
	case "token":
		return "exchange a Pismo JWT for an access token"
	case "mint":
		return "a signed Pismo JWT (the one the exchange sends)"
	case "call":
		return "bearer tokens"
	}
	return ""
}

func (pismoCLI) bindings() []binding {
	return append(append(keyBindings("PISMO"), originBindings("PISMO")...),
		binding{flag: "token-url", variable: "PISMO_TOKEN_URL", help: "token endpoint"},
		binding{flag: "iss", variable: "PISMO_ISSUER", help: "JWT issuer"},
		binding{flag: "sub", variable: "PISMO_SUBJECT", help: "JWT subject"},
		binding{flag: "aud", variable: "PISMO_AUDIENCE", help: "JWT audience"},
		binding{flag: "tenant", variable: "PISMO_TENANT_ID", help: "tenant / org ID"},
		binding{flag: "group", variable: "PISMO_GROUP", help: "pismo.group"},
		binding{flag: "ttl", variable: "PISMO_JWT_TTL", help: "JWT lifetime, at most 1h"},
		binding{flag: "claim", variable: "PISMO_CUSTOM_CLAIMS", kind: own},
	)
}

func (pismoCLI) ownFlags(f *flags, cmd string) {
	f.many("claim", "pismo: custom claim k=v, repeatable; v is JSON when it parses, else a string (PISMO_CUSTOM_CLAIMS)")
	if cmd == "mint" {
		f.text("uid", "account ID: an account-specific token (uid)")
		f.text("external-account", "external account ID (external_account_id)")
		return
	}
	f.text("account", "pismo: account ID for an account-specific token")
	f.text("external-account", "pismo: external account ID")
}

// config lays the flags over the PISMO_* variables; mint needs neither URL.
func (p pismoCLI) config(a *app, f *flags, mint bool) (pismo.Config, error) {
	o, err := variables(a, f, p)
	if err != nil {
		return pismo.Config{}, err
	}
	if kvs := f.list("claim"); len(kvs) > 0 {
		claims := map[string]any{}
		if raw, ok := a.lookup("PISMO_CUSTOM_CLAIMS"); ok && raw != "" {
			if err := json.Unmarshal([]byte(raw), &claims); err != nil {
				return pismo.Config{}, usagef("PISMO_CUSTOM_CLAIMS is not a JSON object")
			}
		}
		for _, kv := range kvs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return pismo.Config{}, usagef("--claim %q: use name=value", kv)
			}
			var parsed any
			if json.Unmarshal([]byte(v), &parsed) != nil {
				parsed = v
			}
			claims[k] = parsed
		}
		b, _ := json.Marshal(claims)
		o.set["PISMO_CUSTOM_CLAIMS"] = string(b)
	}
	cfg, err := pismo.ConfigFromLookup(o.lookup)
	if mint {
		err = dropProblems(err, "PISMO_TOKEN_URL", "PISMO_API_URL")
	}
	return cfg, err
}

// account reads --account (--uid for mint) / --external-account.
func (pismoCLI) account(f *flags) (pismo.Account, error) {
	uid, external := f.get("account")+f.get("uid"), f.get("external-account")
	switch {
	case uid != "" && external != "":
		return pismo.Account{}, usagef("give --uid/--account or --external-account, not both")
	case uid != "":
		return pismo.Account{Kind: pismo.AccountToken, ID: uid}, nil
	case external != "":
		return pismo.Account{Kind: pismo.ExternalAccountToken, ID: external}, nil
	}
	return pismo.Account{}, nil
}

func (p pismoCLI) token(ctx context.Context, a *app, f *flags) (tokencache.Token, error) {
	acct, err := p.account(f)
	if err != nil {
		return tokencache.Token{}, err
	}
	cfg, err := p.config(a, f, false)
	if err != nil {
		return tokencache.Token{}, err
	}
	return pismo.Token(ctx, cfg, acct)
}

func (p pismoCLI) mint(a *app, f *flags) (string, error) {
	acct, err := p.account(f)
	if err != nil {
		return "", err
	}
	cfg, err := p.config(a, f, true)
	if err != nil {
		return "", err
	}
	return pismo.MintJWT(cfg, acct, a.now())
}

func (p pismoCLI) connect(a *app, f *flags, n *network) (*session, error) {
	cfg, err := p.config(a, f, false)
	if err != nil {
		return nil, err
	}
	acct, err := p.account(f)
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
	t, err := pismo.NewTransport(cfg, pismo.WithBaseTransport(base), pismo.WithTokenHTTPClient(tokenClient), pismo.WithTokenStore(store))
	if err != nil {
		closeStore()
		return nil, err
	}
	return &session{rt: t, origins: t.Origins(), variable: "PISMO_API_URL", def: "the token URL's origin",
		prepare: func(req *http.Request) *http.Request {
			switch acct.Kind {
			case pismo.AccountToken:
				return req.WithContext(pismo.WithAccount(req.Context(), acct.ID))
			case pismo.ExternalAccountToken:
				return req.WithContext(pismo.WithExternalAccount(req.Context(), acct.ID))
			}
			return req
		},
		exchanges: func() uint64 { return t.Stats().Fetches }, replays: t.Replays,
		close: func() { t.Close(); closeStore() }}, nil
}
