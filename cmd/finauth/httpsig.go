package main

import (
	"bufio"
	"bytes"
	"crypto"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/signer/httpsig"
)

// rfc9421CLI signs a request as an HTTP message signature (RFC 9421): finauth sign rfc9421.
// It has no variables: the key and the choices are flags.
type rfc9421CLI struct{}

func (rfc9421CLI) name() string { return "rfc9421" }

func (rfc9421CLI) about(cmd string) string {
	if cmd == "sign" {
		return "the Content-Digest, Signature-Input and Signature of a request (RFC 9421; FAPI 2.0's request profile by default)"
	}
	return ""
}

func (rfc9421CLI) bindings() []binding { return nil }

func (rfc9421CLI) ownFlags(f *flags, cmd string) {
	f.text("key", "rfc9421: the signing key (a file, pkcs11: or awskms:)")
	f.text("kid", "rfc9421: the keyid parameter")
	f.text("alg", "rfc9421: rsa-pss-sha512, rsa-v1_5-sha256, ecdsa-p256-sha256, ecdsa-p384-sha384 or ed25519; default from the key")
	f.text("profile", `rfc9421: fapi2 (the default: "@method" "@target-uri" "authorization", "content-digest" with a body, "dpop" with a DPoP header; tag fapi-2-request), or none with --cover`)
	f.text("cover", `rfc9421: with --profile none, the covered components, comma-separated (@method,@target-uri,content-type,...)`)
	f.text("tag", "rfc9421: with --profile none, the tag parameter")
	f.text("label", "rfc9421: the signature's label (default sig1)")
}

// signer is the Signer the flags describe.
func (rfc9421CLI) signer(a *app, f *flags) (*httpsig.Signer, error) {
	if f.get("key") == "" {
		return nil, usagef("sign rfc9421 needs --key (the signing key)")
	}
	key, err := signer.LoadKeyFile(f.get("key"))
	if err != nil {
		return nil, usagef("--key: %v", err)
	}
	var s *httpsig.Signer
	switch f.get("profile") {
	case "", "fapi2":
		if f.get("cover") != "" {
			return nil, usagef("--cover goes with --profile none (fapi2 covers what FAPI 2.0 says)")
		}
		s = httpsig.FAPI2Request(key, f.get("kid"))
	case "none":
		if f.get("cover") == "" {
			return nil, usagef("--profile none needs --cover (the components to cover)")
		}
		s = &httpsig.Signer{Key: key, KeyID: f.get("kid"), Tag: f.get("tag"), IfPresent: []string{"content-digest"}}
		for _, c := range strings.Split(f.get("cover"), ",") {
			s.Covered = append(s.Covered, strings.TrimSpace(c))
		}
	default:
		return nil, usagef("--profile %q: fapi2 or none", f.get("profile"))
	}
	s.Algorithm, s.Label, s.Now = httpsig.Algorithm(f.get("alg")), f.get("label"), a.now
	return s, nil
}

// sign returns the three headers, one a line.
func (p rfc9421CLI) sign(a *app, f *flags, req *http.Request, body []byte) (string, error) {
	s, err := p.signer(a, f)
	if err != nil {
		return "", err
	}
	h, err := s.SignHeaders(req, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for _, name := range []string{"Content-Digest", "Signature-Input", "Signature"} {
		if v := h.Get(name); v != "" {
			fmt.Fprintf(&out, "%s: %s\n", name, v)
		}
	}
	return strings.TrimSuffix(out.String(), "\n"), nil
}

// verifyRFC9421 checks the message signature of a request given as HTTP/1.1 text (a file or
// -): the signature with the keys (by keyid), the components required, the tag, the age, and
// the body's Content-Digest.
func (a *app) verifyRFC9421(requestFile string, keys *signer.KeySet, scheme, tag, require string, maxAge time.Duration) error {
	raw, err := a.readData(requestFile)
	if err != nil {
		return err
	}
	// Lines may end in \n alone (a file typed by hand, the RFC's examples).
	text := strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n", "\r\n")
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(text)))
	if err != nil {
		return usagef("--request: not an HTTP/1.1 request (a request line, headers, a blank line, the body): %v", err)
	}
	var body bytes.Buffer
	body.ReadFrom(req.Body)
	m := httpsig.ServerRequest(req)
	m.URL.Scheme = scheme
	v := &httpsig.Verifier{Key: func(kid string) (crypto.PublicKey, httpsig.Algorithm, error) {
		if keys.Len() == 1 { // one key (--key): it is the one, whatever keyid the signature names
			return keys.Keys()[0].Key(), "", nil
		}
		for _, k := range keys.Keys() { // a JWKS: by keyid
			if k.KeyID() == kid {
				return k.Key(), "", nil
			}
		}
		return nil, "", fmt.Errorf("no key of --key/--jwks has keyid %q", kid)
	}, Tag: tag, MaxAge: maxAge, Now: a.now}
	if require != "" {
		for _, c := range strings.Split(require, ",") {
			v.Required = append(v.Required, strings.TrimSpace(c))
		}
	}
	got, err := v.Verify(m)
	if err != nil {
		return &failure{"invalid: " + err.Error()}
	}
	digest := "none"
	if body.Len() > 0 {
		if err := httpsig.VerifyContentDigest(req.Header.Get("Content-Digest"), body.Bytes()); err != nil {
			return &failure{"invalid: " + err.Error()}
		}
		digest = "matches the body"
	}
	out := map[string]any{"label": got.Label, "keyid": got.KeyID, "alg": got.Algorithm, "covered": got.Covered, "content_digest": digest}
	if !got.Created.IsZero() {
		out["created"] = got.Created.UTC().Format(time.RFC3339)
	}
	if got.Tag != "" {
		out["tag"] = got.Tag
	}
	return a.printJSON(out)
}
