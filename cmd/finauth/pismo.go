package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/signer"
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
	case "check":
		return "the configuration, the key, one token request (the tenant's, or --account's), the clock, Redis"
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
		binding{flag: "auth-method", variable: "PISMO_AUTH_METHOD", help: "openid (the default: the JWT), oauth2 (client credentials) or basic (the legacy login)"},
		binding{flag: "client-id", variable: "PISMO_CLIENT_ID", help: "oauth2: the client ID (your server key)"},
		binding{flag: "client-secret-env", variable: "PISMO_CLIENT_SECRET", help: "oauth2: name of the environment variable holding the client secret", kind: indirect},
		binding{flag: "scope", variable: "PISMO_SCOPES", help: "oauth2: the token's permission groups, space- or comma-separated (pismo-v1:accounts:rw ...)"},
		binding{flag: "server-key", variable: "PISMO_SERVER_KEY", help: "basic: the server key"},
		binding{flag: "secret-key-env", variable: "PISMO_SECRET_KEY", help: "basic: name of the environment variable holding the secret key", kind: indirect},
		binding{flag: "basic-secret-field", variable: "PISMO_BASIC_SECRET_FIELD", help: "basic: the login member that carries the secret key: secret_key (default) or server_secret"},
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
	if cmd == "check" {
		return
	}
	f.text("accounts", "pismo: a file of account IDs, one per line: each request uses the next one's token, in turn (load: many accounts at once)")
	f.boolean("shuffle-accounts", "pismo: with --accounts, take the accounts in this process's own random order (replicas then do not all want the same account at once)")
}

// accounts reads --accounts: one account ID a line, blank lines and # comments skipped.
func (pismoCLI) accounts(f *flags) ([]string, error) {
	file := f.get("accounts")
	if file == "" {
		return nil, nil
	}
	if f.get("account") != "" || f.get("external-account") != "" {
		return nil, usagef("give --accounts or --account / --external-account, not both")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usagef("--accounts: %v", errors.Unwrap(err))
	}
	var ids []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			ids = append(ids, line)
		}
	}
	if len(ids) == 0 {
		return nil, usagef("--accounts %s: no account ID in it (one per line)", file)
	}
	if f.on("shuffle-accounts") {
		rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	}
	return ids, nil
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
	ids, err := p.accounts(f)
	if err != nil {
		return nil, err
	}
	var next atomic.Uint64
	s, err := bearerSession(a, n, "PISMO_API_URL", "the token URL's origin", func(base http.RoundTripper, tokenClient *http.Client, store tokencache.Store) (bearerTransport, error) {
		return pismo.NewTransport(cfg, pismo.WithBaseTransport(base), pismo.WithTokenHTTPClient(tokenClient), pismo.WithTokenStore(store), pismo.WithCacheOptions(n.cacheOptions()),
			pismo.WithMeterProvider(n.meter()), pismo.WithTracerProvider(n.tracer()))
	})
	if err != nil {
		return nil, err
	}
	s.prepare = func(req *http.Request) *http.Request {
		if ids != nil {
			return req.WithContext(pismo.WithAccount(req.Context(), ids[(next.Add(1)-1)%uint64(len(ids))]))
		}
		switch acct.Kind {
		case pismo.AccountToken:
			return req.WithContext(pismo.WithAccount(req.Context(), acct.ID))
		case pismo.ExternalAccountToken:
			return req.WithContext(pismo.WithExternalAccount(req.Context(), acct.ID))
		}
		return req
	}
	return s, nil
}

// pismoDemo is the Pismo leg's section of demo --json.
type pismoDemo struct {
	Requests           int `json:"requests"`
	OK                 int `json:"ok"`
	Exchanges          int `json:"token_exchanges"`
	RefreshedAhead     int `json:"refreshed_ahead"`
	Revoked            int `json:"tokens_revoked"`
	RejectedByAPI      int `json:"api_401"`
	Replays            int `json:"replayed_after_401"`
	AccountsWithTokens int `json:"account_tokens"`
	Waited             int `json:"callers_waited_for_a_token"`
}

// demoTokenLifetime is how long the Pismo mock's tokens live in the demo: short, so that
// refreshes ahead of expiry happen while it runs.
const demoTokenLifetime = 3 * time.Second

// demoAccounts is how many Pismo accounts the demo's traffic uses.
const demoAccounts = 3

func (pismoCLI) demo() demoLeg { return &pismoLeg{} }

// pismoLeg: tenant and account tokens, refreshed ahead of expiry, every token revoked half
// way.
type pismoLeg struct {
	m       *pismomock.Server
	t       *pismo.Transport
	hc      *http.Client
	revoked atomic.Int64
}

func (l *pismoLeg) start(say sayFunc) error {
	key, err := signer.GenerateRSAKey(signer.RS256, 2048)
	if err != nil {
		return err
	}
	cfg := pismo.Config{Issuer: "demo@tenant", Subject: "demo@tenant", Audience: "https://sandbox.pismolabs.io", TenantID: "demo-tenant", Group: "pismo-v2:demo:rw"}
	if l.m, err = pismomock.NewServer(pismomock.Config{
		Keys: signer.NewKeySet(key.Public()), Issuer: cfg.Issuer, Subject: cfg.Subject,
		Audience: cfg.Audience, TenantID: cfg.TenantID, Group: cfg.Group, TokenLifetime: demoTokenLifetime,
	}); err != nil {
		return err
	}
	cfg.TokenURL, cfg.Key = l.m.TokenURL(), key
	if l.t, err = pismo.NewTransport(cfg); err != nil {
		return err
	}
	l.hc = &http.Client{Transport: l.t}
	say("  Pismo mock %s: verifies every JWT (RS256, claims, expiry), issues tokens living %v; every token is revoked half way.", l.m.URL, demoTokenLifetime)
	return nil
}

func (l *pismoLeg) kinds() int { return 3 }

// send: a tenant-token GET, an account-token GET, a tenant-token POST.
func (l *pismoLeg) send(k, w, i int) (*http.Client, *http.Request, int) {
	var req *http.Request
	switch k {
	case 0:
		req, _ = http.NewRequest(http.MethodGet, l.m.URL+"/cards/v1/cards", nil)
	case 1:
		id := fmt.Sprintf("acct-%d", i%demoAccounts)
		req, _ = http.NewRequestWithContext(pismo.WithAccount(context.Background(), id), http.MethodGet, l.m.URL+"/accounts/"+id+"/balance", nil)
	default:
		req, _ = http.NewRequest(http.MethodPost, l.m.URL+"/payments/v1/payments", bytes.NewReader(demoBody(w, i)))
	}
	return l.hc, req, http.StatusOK
}

func (l *pismoLeg) midway() { l.revoked.Store(int64(l.m.RevokeAll())) }

func (l *pismoLeg) after(sayFunc) error { return nil }

func (l *pismoLeg) report(res *demoResult, reqs, oks int) bool {
	ps, cs := l.m.Stats(), l.t.Stats()
	res.Pismo = pismoDemo{Requests: reqs, OK: oks, Exchanges: ps.Exchanges, RefreshedAhead: int(cs.BackgroundRefreshes),
		Revoked: int(l.revoked.Load()), RejectedByAPI: ps.APICalls[401], Replays: int(l.t.Replays()),
		AccountsWithTokens: demoAccounts, Waited: int(cs.Misses + cs.Waits)}
	return reqs == oks
}

func (l *pismoLeg) describe(say sayFunc, res demoResult) {
	r := res.Pismo
	say("Pismo (bearer tokens):")
	say("  %d requests, %d answered 200.", r.Requests, r.OK)
	say("  %d token exchanges for %d keys (the tenant token and %d account tokens), each an RS256 JWT exchanged at the mock.", r.Exchanges, r.AccountsWithTokens+1, r.AccountsWithTokens)
	say("  %d of them were refreshes ahead of expiry, in the background: only %d requests ever waited for a token (the first ones, and those whose token was revoked).", r.RefreshedAhead, r.Waited)
	say("  %d live tokens were revoked mid-run; the API answered 401 %d times, and each of those requests was replayed once with a fresh token (%d replays, one exchange per key shared by all).", r.Revoked, r.RejectedByAPI, r.Replays)
}

func (l *pismoLeg) close() {
	if l.t != nil {
		l.t.Close()
	}
	if l.m != nil {
		l.m.Close()
	}
}

// check reads the configuration and the key and asks for one token (the tenant's, or the
// account's).
func (p pismoCLI) check(ctx context.Context, a *app, f *flags, net *checkNet) (checked, error) {
	acct, err := p.account(f)
	if err != nil {
		return checked{}, err
	}
	cfg, err := p.config(a, f, false)
	if err != nil {
		return checked{}, err
	}
	tok, err := pismo.Token(ctx, cfg, acct, pismo.WithTokenHTTPClient(net.client()))
	return checked{asked: tokenAt(cfg.TokenURL), token: &tok, err: err}, nil
}
