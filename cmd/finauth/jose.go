package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/signer"
)

func (a *app) mint(args []string) error {
	sub, args, err := a.subcommands("mint", args, [][2]string{{"pismo", "a signed Pismo JWT (the one the exchange sends)"}, {"mia", "a Mia-Platform client assertion (private_key_jwt)"}})
	if err != nil {
		return err
	}
	if sub == "mia" {
		return a.mintMia(args)
	}
	args = append([]string{"pismo"}, args...)
	fs := a.newFlags("mint pismo", "mint pismo [--key FILE] [--iss ..] [--sub ..] [--aud ..] [--tenant ..] [--uid ..|--external-account ..] [--group ..] [--claim k=v]... [--ttl 1h]")
	p := providerFlags{mintOnly: true}
	p.common(fs)
	p.pismo(fs)
	uid := fs.String("uid", "", "account ID: an account-specific token (uid)")
	ext := fs.String("external-account", "", "external account ID (external_account_id)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("mint pismo takes no arguments (got %q)", pos)
	}
	acct, err := account(*uid, *ext)
	if err != nil {
		return err
	}
	cfg, err := p.pismoConfig(a)
	if err != nil {
		return err
	}
	jwt, err := pismo.MintJWT(cfg, acct, a.now())
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, jwt)
	return nil
}

// mintMia prints one Mia-Platform client assertion, as a token request would send it.
func (a *app) mintMia(args []string) error {
	fs := a.newFlags("mint mia", "mint mia [--key FILE] [--kid ..] [--client-id ..] [--aud ISSUER] [--ttl 5m] [--alg RS256]")
	p := providerFlags{mintOnly: true}
	p.common(fs)
	p.mia(fs)
	fs.StringVar(&p.aud, "aud", "", "the assertion's audience: the service's issuer (MIA_AUDIENCE)")
	fs.StringVar(&p.ttl, "ttl", "", "the assertion's lifetime, default 5m (MIA_ASSERTION_TTL)")
	fs.StringVar(&p.alg, "alg", "", "RS256 (default), PS256, ES256 or EdDSA (MIA_ALG)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("mint mia takes no arguments (got %q)", pos)
	}
	cfg, err := p.miaConfig(a)
	if err != nil {
		return err
	}
	jwt, err := clientcredentials.MintAssertion(cfg, a.now())
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, jwt)
	return nil
}

func (a *app) sign(args []string) error {
	_, args, err := a.subcommands("sign", args, [][2]string{{"soldo", "the Authorization value of a Soldo request"}})
	if err != nil {
		return err
	}
	args = append([]string{"soldo"}, args...)
	fs := a.newFlags("sign soldo", "sign soldo [--key FILE] [--kid ..] [--mid ..] [-X METHOD] [--data @FILE|-|TEXT] URL")
	var p providerFlags
	p.common(fs)
	p.soldo(fs)
	method := fs.String("X", http.MethodGet, "HTTP method")
	data := fs.String("data", "", "request body: @FILE, - for stdin, or the text")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("sign soldo needs the request URL")
	}
	body, err := a.body(*data)
	if err != nil {
		return err
	}
	if err := checkTarget(pos[0]); err != nil {
		return err
	}
	cfg, err := p.soldoConfig(a, pos[0])
	if err != nil {
		return err
	}
	ss, err := soldo.NewSigner(cfg, soldo.WithClock(a.now))
	if err != nil {
		return err
	}
	req, err := http.NewRequest(strings.ToUpper(*method), pos[0], nil)
	if err != nil {
		return usagef("URL: %v", err)
	}
	auth, err := ss.Sign(req, bytes.NewReader(body))
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, auth)
	return nil
}

func (a *app) body(data string) ([]byte, error) {
	if data == "" {
		return nil, nil
	}
	return a.readData(data)
}

func (a *app) verify(args []string) error {
	fs := a.newFlags("verify", "verify (--key FILE | --jwks FILE) [--alg A,B] [--payload @FILE|-|TEXT] [--crit NAME]... TOKEN|-")
	keyFile := fs.String("key", "", "public or private key file (PEM, JWK...)")
	jwksFile := fs.String("jwks", "", "JWKS file")
	algs := fs.String("alg", "", "allowed algorithms, comma-separated; default those of the keys")
	payload := fs.String("payload", "", "the detached payload: @FILE, - for stdin, or the text")
	var crit multi
	fs.Var(&crit, "crit", "a critical header parameter you check yourself, repeatable")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if (*keyFile == "") == (*jwksFile == "") {
		return usagef("verify needs exactly one of --key or --jwks")
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
	} else if got, err = v.Verify(token); err != nil {
		return &failure{"invalid: " + err.Error()}
	}
	return a.printJSON(map[string]any{"header": json.RawMessage(got.RawHeader), "claims": payloadJSON(got.Payload)})
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
	pos, err := parse(fs, args)
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
