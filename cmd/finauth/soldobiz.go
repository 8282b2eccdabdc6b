package main

import (
	"context"
	"crypto/rsa"
	"fmt"
	"net/http"
	"strings"

	"github.com/finauth/finauth/client/soldo/business"
	"github.com/finauth/finauth/integration/soldobizmock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// soldoBusinessCLI is the Soldo Business API v2: an OAuth token and the internal token on
// every request, fingerprint signatures where the endpoint needs them.
type soldoBusinessCLI struct{}

func (soldoBusinessCLI) name() string { return "soldo-business" }

func (soldoBusinessCLI) about(cmd string) string {
	switch cmd {
	case "token":
		return "a Soldo Business API v2 token (api.soldo.com; not the PSD2 interface via Token.io: that is soldo)"
	case "call":
		return "Soldo Business API v2: token, internal token, fingerprint signatures"
	case "check":
		return "the configuration, the fingerprint key, one token request, the clock, Redis"
	}
	return ""
}

func (soldoBusinessCLI) bindings() []binding {
	return []binding{
		{flag: "api-url", variable: "SOLDO_BUSINESS_API_URL", help: "the API base: https://api.soldo.com, or https://api-demo.soldocloud.net"},
		{flag: "allow-insecure-http", variable: "SOLDO_BUSINESS_ALLOW_INSECURE_HTTP", help: "permit plain http to hosts that are not loopback", kind: switchOn},
		{flag: "token-url", variable: "SOLDO_BUSINESS_TOKEN_URL", help: "token endpoint, default the API base + /oauth/authorize"},
		{flag: "client-id", variable: "SOLDO_BUSINESS_CLIENT_ID", help: "the API credentials' client ID"},
		{flag: "client-secret-env", variable: "SOLDO_BUSINESS_CLIENT_SECRET", help: "name of the environment variable holding the client secret", kind: indirect},
		{flag: "internal-token-env", variable: "SOLDO_BUSINESS_INTERNAL_TOKEN", help: "name of the environment variable holding the internal token", kind: indirect},
		{flag: "key", variable: "SOLDO_BUSINESS_PRIVATE_KEY_FILE", help: "the RSA key for fingerprint signatures: a file, or a pkcs11: or awskms: URI", clears: "SOLDO_BUSINESS_PRIVATE_KEY"},
		{flag: "passphrase-env", variable: "SOLDO_BUSINESS_PRIVATE_KEY_PASSWORD", help: "name of the environment variable holding the key's passphrase", kind: indirect},
	}
}

func (soldoBusinessCLI) ownFlags(f *flags, cmd string) {
	if cmd == "token" || cmd == "check" {
		return
	}
	f.text("fingerprint-order", "soldo-business: the request's fingerprint order, comma-separated and ending with token, from Soldo's \"Fingerprint order\" page (for an endpoint finauth's table does not know)")
	f.boolean("standard-auth", "soldo-business: send a write with standard authentication only (an endpoint Soldo does not fingerprint)")
}

func (p soldoBusinessCLI) config(a *app, f *flags) (business.Config, error) {
	o, err := variables(a, f, p)
	if err != nil {
		return business.Config{}, err
	}
	return business.ConfigFromLookup(o.lookup)
}

func (p soldoBusinessCLI) token(ctx context.Context, a *app, f *flags) (tokencache.Token, error) {
	cfg, err := p.config(a, f)
	if err != nil {
		return tokencache.Token{}, err
	}
	return business.Token(ctx, cfg)
}

func (p soldoBusinessCLI) connect(a *app, f *flags, n *network) (*session, error) {
	cfg, err := p.config(a, f)
	if err != nil {
		return nil, err
	}
	var order []string
	if o := f.get("fingerprint-order"); o != "" {
		for _, name := range strings.Split(o, ",") {
			order = append(order, strings.TrimSpace(name))
		}
		if f.on("standard-auth") {
			return nil, usagef("--fingerprint-order and --standard-auth: give one (a request is fingerprinted or not)")
		}
	}
	s, err := bearerSession(a, n, "SOLDO_BUSINESS_API_URL", "", func(base http.RoundTripper, tokenClient *http.Client, store tokencache.Store) (bearerTransport, error) {
		return business.NewTransport(cfg, business.WithBaseTransport(base), business.WithTokenHTTPClient(tokenClient), business.WithTokenStore(store),
			business.WithCacheOptions(n.cacheOptions()), business.WithMeterProvider(n.meter()), business.WithTracerProvider(n.tracer()))
	})
	if err != nil {
		return nil, err
	}
	standard := f.on("standard-auth")
	s.prepare = func(req *http.Request) *http.Request {
		switch {
		case order != nil:
			return req.WithContext(business.WithFingerprintOrder(req.Context(), order...))
		case standard:
			return req.WithContext(business.WithStandardAuthentication(req.Context()))
		}
		return req
	}
	return s, nil
}

// soldoBusinessDemo is the Soldo Business leg's section of demo --json.
type soldoBusinessDemo struct {
	Requests      int `json:"requests"`
	OK            int `json:"ok"`
	TokenRequests int `json:"token_requests"`
	Revoked       int `json:"tokens_revoked"`
	Fingerprints  int `json:"fingerprints_verified"`
	Refused       int `json:"refused"`
}

// demoSoldoBusinessRevokeEvery: the mock revokes the token of every this-many API uses.
const demoSoldoBusinessRevokeEvery = 250

func (soldoBusinessCLI) demo() demoLeg { return &soldoBusinessLeg{} }

// soldoBusinessLeg: standard reads, transaction searches and internal transfers, a token
// revoked every demoSoldoBusinessRevokeEvery uses.
type soldoBusinessLeg struct {
	m  *soldobizmock.Server
	t  *business.Transport
	hc *http.Client
}

func (l *soldoBusinessLeg) start(say sayFunc) error {
	key, err := signer.GenerateRSAKey(signer.RS256, 2048)
	if err != nil {
		return err
	}
	const id, secret, internal = "demo-business", "demo-secret", "demo-internal-token"
	if l.m, err = soldobizmock.NewServer(soldobizmock.Config{ClientID: id, ClientSecret: secret, InternalToken: internal,
		PublicKey: key.Signer().Public().(*rsa.PublicKey)}); err != nil {
		return err
	}
	l.m.RevokeEvery(demoSoldoBusinessRevokeEvery)
	if l.t, err = business.NewTransport(business.Config{APIURL: l.m.URL, ClientID: id, ClientSecret: secret, InternalToken: internal, Key: key}); err != nil {
		return err
	}
	l.hc = &http.Client{Transport: l.t}
	say("  Soldo Business mock %s: checks the token, the internal token, and each advanced request's SHA-512 fingerprint and its SHA512withRSA signature; revokes a token every %d uses.", l.m.URL, demoSoldoBusinessRevokeEvery)
	return nil
}

func (l *soldoBusinessLeg) kinds() int { return 1 }

// send: a standard read, a transaction search or an internal transfer, in turn.
func (l *soldoBusinessLeg) send(_, w, i int) (*http.Client, *http.Request, int) {
	var req *http.Request
	switch i % 3 {
	case 0:
		req, _ = http.NewRequest(http.MethodGet, l.m.URL+"/business/v2/wallets", nil)
	case 1:
		req, _ = http.NewRequest(http.MethodGet, l.m.URL+fmt.Sprintf("/business/v2/transactions?type=company&fromDate=2026-01-01&text=w%d", w), nil)
	default:
		req, _ = http.NewRequest(http.MethodPut, l.m.URL+fmt.Sprintf("/business/v2/wallets/internalTransfer/main-%d/team-%d", w, i),
			strings.NewReader(fmt.Sprintf("amount=%d.50&currencyCode=EUR", i%100)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return l.hc, req, http.StatusOK
}

func (l *soldoBusinessLeg) midway() {}

func (l *soldoBusinessLeg) after(sayFunc) error { return nil }

func (l *soldoBusinessLeg) report(res *demoResult, reqs, oks int) bool {
	ms := l.m.Stats()
	res.SoldoBusiness = soldoBusinessDemo{Requests: reqs, OK: oks, TokenRequests: ms.Tokens, Revoked: ms.Revoked, Fingerprints: ms.Verified}
	for reason, n := range ms.APIDenials {
		if reason != soldobizmock.ReasonRevokedToken {
			res.SoldoBusiness.Refused += n
		}
	}
	return reqs == oks && res.SoldoBusiness.Refused == 0
}

func (l *soldoBusinessLeg) describe(say sayFunc, res demoResult) {
	r := res.SoldoBusiness
	say("Soldo Business API v2 (token, internal token, fingerprint signatures):")
	say("  %d requests, %d answered 200; %d fingerprints verified by the mock, %d refused; %d token requests: the first, and one per revoked token (%d revoked).", r.Requests, r.OK, r.Fingerprints, r.Refused, r.TokenRequests, r.Revoked)
}

func (l *soldoBusinessLeg) close() {
	if l.t != nil {
		l.t.Close()
	}
	if l.m != nil {
		l.m.Close()
	}
}

// check reads the configuration and the fingerprint key and asks for one token. Without a
// key (standard endpoints only) the token line says so.
func (p soldoBusinessCLI) check(ctx context.Context, a *app, f *flags, net *checkNet) (checked, error) {
	cfg, err := p.config(a, f)
	if err != nil {
		return checked{}, err
	}
	// The transport reads the fingerprint key (the token request does not need it).
	t, err := business.NewTransport(cfg)
	if err != nil {
		return checked{}, err
	}
	t.Close()
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = strings.TrimSuffix(cfg.APIURL, "/") + business.TokenPath
	}
	tok, err := business.Token(ctx, cfg, business.WithTokenHTTPClient(net.client()))
	asked := tokenAt(tokenURL)
	if cfg.Key == nil && cfg.PrivateKeyPEM == "" && cfg.PrivateKeyFile == "" {
		asked += " (no SOLDO_BUSINESS_PRIVATE_KEY_FILE: standard endpoints only, no fingerprints)"
	}
	return checked{asked: asked, token: &tok, err: err}, nil
}
