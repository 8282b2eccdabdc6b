package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/finauth/finauth/signer"
)

func (a *app) body(data string) ([]byte, error) {
	if data == "" {
		return nil, nil
	}
	return a.readData(data)
}

func (a *app) verify(args []string) error {
	fs := a.newFlags("verify", "verify (--key FILE|- | --jwks FILE|-) [--alg A,B] [--payload @FILE|-|TEXT] [--crit NAME]... [--leeway 30s] [--iss I] [--aud A] [--sub S] TOKEN|-\n       finauth verify --rfc9421 --request FILE|- (--key FILE | --jwks FILE) [--tag T] [--require C,D] [--max-age 5m] [--scheme https]")
	keyFile := fs.String("key", "", "public or private key file (PEM, JWK...)")
	jwksFile := fs.String("jwks", "", "JWKS file")
	algs := fs.String("alg", "", "allowed algorithms, comma-separated; default those of the keys")
	payload := fs.String("payload", "", "the detached payload: @FILE, - for stdin, or the text")
	var crit multi
	fs.Var(&crit, "crit", "a critical header parameter you check yourself, repeatable")
	leeway := fs.Duration("leeway", 0, "clock skew allowed when checking exp and nbf")
	var want claimChecks
	fs.StringVar(&want.iss, "iss", "", "require this issuer (iss)")
	fs.StringVar(&want.aud, "aud", "", "require this audience (aud, a string or one of an array)")
	fs.StringVar(&want.sub, "sub", "", "require this subject (sub)")
	rfc9421 := fs.Bool("rfc9421", false, "verify an HTTP message signature (RFC 9421) of the request in --request instead of a JWS")
	request := fs.String("request", "", "with --rfc9421: the request as HTTP/1.1 text (request line, headers, blank line, body): a file, or - for stdin")
	scheme := fs.String("scheme", "https", "with --rfc9421: the scheme the request was sent with (@target-uri, @scheme)")
	tag := fs.String("tag", "", "with --rfc9421: require this tag (fapi-2-request)")
	require := fs.String("require", "", "with --rfc9421: components that must be covered, comma-separated")
	maxAge := fs.Duration("max-age", 0, "with --rfc9421: refuse a signature created longer ago (0: not checked)")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if (*keyFile == "") == (*jwksFile == "") {
		return usagef("verify needs exactly one of --key or --jwks")
	}
	if *rfc9421 {
		if *request == "" || len(pos) != 0 {
			return usagef("verify --rfc9421 takes the request with --request FILE|- and no token")
		}
		keys, err := a.loadPublicKeys(*keyFile + *jwksFile)
		if err != nil {
			return usagef("%v", err)
		}
		return a.verifyRFC9421(*request, keys, *scheme, *tag, *require, *maxAge)
	}
	if stdins := count(*payload == "-", len(pos) == 1 && pos[0] == "-", *keyFile == "-" || *jwksFile == "-"); stdins > 1 {
		return usagef("only one of the token, the payload and the key can come from stdin (-)")
	}
	token, err := a.readToken(pos)
	if err != nil {
		return err
	}
	keys, err := a.loadPublicKeys(*keyFile + *jwksFile)
	if err != nil {
		return usagef("%v", err)
	}
	var allowed []signer.Algorithm
	if *algs != "" {
		for _, s := range strings.Split(*algs, ",") {
			al, err := signer.ParseAlgorithm(strings.TrimSpace(s))
			if err != nil {
				return usagef("--alg: %v", err)
			}
			allowed = append(allowed, al)
		}
	} else {
		for _, k := range keys.Keys() {
			allowed = append(allowed, k.Algorithm())
		}
	}
	v, err := signer.NewVerifier(keys, signer.VerifyOptions{Algorithms: allowed, Critical: crit})
	if err != nil {
		return usagef("%v", err)
	}
	var got *signer.Verified
	if *payload != "" {
		data, err := a.readData(*payload)
		if err != nil {
			return err
		}
		got, err = v.VerifyDetached(token, data)
		if err != nil {
			return &failure{"invalid: " + err.Error()}
		}
	} else {
		if u, derr := signer.DecodeUnverified(token); derr == nil && u.Detached {
			return &failure{"invalid: this is a detached JWS (header..signature), whose payload travels apart: give it with --payload @FILE, - or the text"}
		}
		if got, err = v.Verify(token); err != nil {
			return &failure{"invalid: " + err.Error()}
		}
	}
	if err := want.check(got.Payload, a.now(), *leeway); err != nil {
		return err
	}
	return a.printJSON(map[string]any{"header": json.RawMessage(got.RawHeader), "claims": payloadJSON(got.Payload)})
}

// claimChecks are the claims verify was asked to require.
type claimChecks struct{ iss, aud, sub string }

// check checks exp and nbf (when the payload is a JSON object that has them) against now
// with leeway, and the required iss, aud and sub: a failure (exit 1) says which and when.
func (w claimChecks) check(payload []byte, now time.Time, leeway time.Duration) error {
	var c struct {
		Exp, Nbf *json.Number
		Iss, Sub string
		Aud      json.RawMessage
	}
	if json.Unmarshal(payload, &c) != nil {
		if w != (claimChecks{}) {
			return &failure{"invalid: the payload is not a JSON object of claims, so --iss, --aud and --sub cannot be checked"}
		}
		return nil
	}
	at := func(n *json.Number) (time.Time, bool) {
		if n == nil {
			return time.Time{}, false
		}
		f, err := n.Float64()
		return time.Unix(int64(f), 0), err == nil
	}
	if exp, ok := at(c.Exp); ok && !now.Before(exp.Add(leeway)) {
		return &failure{fmt.Sprintf("invalid: the token expired at %s (%s ago)", exp.UTC().Format(time.RFC3339), now.Sub(exp).Round(time.Second))}
	}
	if nbf, ok := at(c.Nbf); ok && now.Add(leeway).Before(nbf) {
		return &failure{fmt.Sprintf("invalid: the token is not valid before %s (in %s)", nbf.UTC().Format(time.RFC3339), nbf.Sub(now).Round(time.Second))}
	}
	if w.iss != "" && c.Iss != w.iss {
		return &failure{fmt.Sprintf("invalid: iss is %q, not %q", c.Iss, w.iss)}
	}
	if w.sub != "" && c.Sub != w.sub {
		return &failure{fmt.Sprintf("invalid: sub is %q, not %q", c.Sub, w.sub)}
	}
	if w.aud != "" {
		var one string
		var many []string
		if json.Unmarshal(c.Aud, &one) == nil {
			many = []string{one}
		} else {
			json.Unmarshal(c.Aud, &many)
		}
		if !slices.Contains(many, w.aud) {
			return &failure{fmt.Sprintf("invalid: aud %s does not include %q", c.Aud, w.aud)}
		}
	}
	return nil
}

// payloadJSON shows a payload as JSON when it is, else as a string.
func payloadJSON(p []byte) any {
	if json.Valid(p) {
		return json.RawMessage(p)
	}
	return string(p)
}

func (a *app) decode(args []string) error {
	fs := a.newFlags("decode", "decode TOKEN|-")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	token, err := a.readToken(pos)
	if err != nil {
		return err
	}
	u, err := signer.DecodeUnverified(token)
	if err != nil {
		return &failure{"not a compact JWS/JWT: " + strings.TrimPrefix(err.Error(), "finauth: signer: verify: malformed JWS: ")}
	}
	out := map[string]any{"header": json.RawMessage(u.RawHeader), "claims": payloadJSON(u.Payload)}
	if u.Detached {
		out["claims"] = nil
		out["detached"] = true
	}
	fmt.Fprintln(a.stderr, "finauth: decoded WITHOUT verifying the signature (use finauth verify)")
	return a.printJSON(out)
}
