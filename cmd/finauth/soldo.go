package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/transport"
)

// soldoCLI is Soldo's PSD2 interface, run by Token.io: a detached JWS over every request.
type soldoCLI struct{}

func (soldoCLI) name() string { return "soldo" }

func (soldoCLI) about(cmd string) string {
	switch cmd {
	case "sign":
		return "the Authorization value of a request to Soldo's PSD2 interface (via Token.io; the Business API is soldo-business)"
	case "call":
		return "Soldo's PSD2 interface via Token.io, a detached JWS on every request; the Business API is soldo-business"
	case "check":
		return "the configuration, the key (one request signed, nothing sent), the clock against the API's"
	}
	return ""
}

func (soldoCLI) bindings() []binding {
	return append(append(keyBindings("SOLDO"), originBindings("SOLDO")...),
		binding{flag: "mid", variable: "SOLDO_MEMBER_ID", help: "member ID"},
		binding{flag: "alg", variable: "SOLDO_ALG", help: "RS256, PS256, ES256 or EdDSA, default from the key"},
		binding{flag: "ttl", variable: "SOLDO_JWS_TTL", help: "signature lifetime, at most 60s"},
		binding{flag: "attached", variable: "SOLDO_DETACHED", help: "attached JWS instead of detached", kind: inverted},
	)
}

func (soldoCLI) ownFlags(*flags, string) {}

// config lays the flags over the SOLDO_* variables; target, when given, is allowed as an
// origin if no API URL is configured (the user named that URL on the command line).
func (p soldoCLI) config(a *app, f *flags, target string) (soldo.Config, error) {
	o, err := variables(a, f, p)
	if err != nil {
		return soldo.Config{}, err
	}
	if v, _ := o.lookup("SOLDO_API_URL"); v == "" && target != "" {
		if u, err := url.Parse(target); err == nil {
			o.set["SOLDO_API_URL"] = transport.Origin(u)
		}
	}
	return soldo.ConfigFromLookup(o.lookup)
}

func (p soldoCLI) sign(a *app, f *flags, req *http.Request, body []byte) (string, error) {
	cfg, err := p.config(a, f, req.URL.String())
	if err != nil {
		return "", err
	}
	ss, err := soldo.NewSigner(cfg, soldo.WithClock(clockFunc(a.now)))
	if err != nil {
		return "", err
	}
	return ss.Sign(req, bytes.NewReader(body))
}

func (p soldoCLI) connect(a *app, f *flags, n *network) (*session, error) {
	cfg, err := p.config(a, f, "")
	if err != nil {
		return nil, err
	}
	base, _, err := n.base()
	if err != nil {
		return nil, err
	}
	t, err := soldo.NewTransport(cfg, soldo.WithBaseTransport(base), soldo.WithMeterProvider(n.meter()), soldo.WithTracerProvider(n.tracer()))
	if err != nil {
		return nil, err
	}
	return &session{rt: t, origins: t.Origins(), variable: "SOLDO_API_URL", authorizes: true, close: func() { t.Close() }}, nil
}

// soldoDemo is the Soldo leg's section of demo --json.
type soldoDemo struct {
	Requests int `json:"requests"`
	OK       int `json:"ok"`
	Verified int `json:"signatures_verified"`
	Refused  int `json:"signatures_refused"`
}

func (soldoCLI) demo() demoLeg { return &soldoLeg{} }

// soldoLeg: every request signed, every signature verified by the mock.
type soldoLeg struct {
	m  *soldomock.Server
	t  *soldo.Transport
	hc *http.Client
}

func (l *soldoLeg) start(say sayFunc) error {
	key, err := signer.GenerateKey(signer.ES256)
	if err != nil {
		return err
	}
	if l.m, err = soldomock.NewServer(soldomock.Config{Members: map[string][]*signer.PublicKey{"m:demo": {key.Public().WithKeyID("demo-key")}}}); err != nil {
		return err
	}
	if l.t, err = soldo.NewTransport(soldo.Config{APIURLs: []string{l.m.URL}, Key: key, KeyID: "demo-key", MemberID: "m:demo"}); err != nil {
		return err
	}
	l.hc = &http.Client{Transport: l.t}
	say("  Soldo mock %s: verifies a detached ES256 signature over method, host, path, query and body.", l.m.URL)
	return nil
}

func (l *soldoLeg) kinds() int { return 1 }

// send: a signed POST with a query.
func (l *soldoLeg) send(_, w, i int) (*http.Client, *http.Request, int) {
	req, _ := http.NewRequest(http.MethodPost, l.m.URL+fmt.Sprintf("/banks/iron/consents?ref=%d-%d", w, i), bytes.NewReader(demoBody(w, i)))
	return l.hc, req, http.StatusOK
}

func (l *soldoLeg) midway() {}

func (l *soldoLeg) after(sayFunc) error { return nil }

func (l *soldoLeg) report(res *demoResult, reqs, oks int) bool {
	ss := l.m.Stats()
	res.Soldo = soldoDemo{Requests: reqs, OK: oks, Verified: ss.Verified}
	for _, n := range ss.Rejections {
		res.Soldo.Refused += n
	}
	return reqs == oks
}

func (l *soldoLeg) describe(say sayFunc, res demoResult) {
	say("Soldo (signed requests):")
	say("  %d requests, %d signatures verified by the mock, %d refused.", res.Soldo.Requests, res.Soldo.Verified, res.Soldo.Refused)
}

func (l *soldoLeg) close() {
	if l.t != nil {
		l.t.Close()
	}
	if l.m != nil {
		l.m.Close()
	}
}

// check reads the configuration and the key and signs one request to the first API origin
// (it is not sent: Soldo's PSD2 interface has no token); the clock is compared with the
// Date of a HEAD of that origin, which carries no credentials.
func (p soldoCLI) check(ctx context.Context, a *app, f *flags, net *checkNet) (checked, error) {
	cfg, err := p.config(a, f, "")
	if err != nil {
		return checked{}, err
	}
	ss, err := soldo.NewSigner(cfg)
	if err != nil {
		return checked{}, err
	}
	origin := originOf(cfg.APIURLs[0])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin+"/", nil)
	if err != nil {
		return checked{}, usagef("SOLDO_API_URL %q: %v", redact.URL(cfg.APIURLs[0]), err)
	}
	_, err = ss.Sign(req, bytes.NewReader(nil))
	dateOf(ctx, net, origin)
	return checked{asked: "a request to " + redact.URL(origin) + " signed (not sent)", err: err}, nil
}
