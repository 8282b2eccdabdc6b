package main

import (
	"bytes"
	"net/http"
	"net/url"

	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/transport"
)

// soldoCLI is Soldo: a detached JWS over every request.
type soldoCLI struct{}

func (soldoCLI) name() string { return "soldo" }

func (soldoCLI) about(cmd string) string {
	switch cmd {
	case "sign":
		return "the Authorization value of a Soldo request"
	case "call":
		return "signed requests"
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
	t, err := soldo.NewTransport(cfg, soldo.WithBaseTransport(base))
	if err != nil {
		return nil, err
	}
	return &session{rt: t, origins: t.Origins(), variable: "SOLDO_API_URL", close: func() { t.Close() }}, nil
}
