package signer_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finauth/finauth/signer"
)

// FuzzParseKey feeds arbitrary bytes to the private-key parser, with and without a
// passphrase: it must return a key or an error, never panic or hang, and an error must not
// echo the input.
func FuzzParseKey(f *testing.F) {
	files, _ := filepath.Glob("testdata/keys/test-*")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err == nil {
			f.Add(b, true)
		}
	}
	for _, name := range []string{"testdata/rfc7515-a2.json", "testdata/rfc7515-a3.json"} {
		b, _ := os.ReadFile(name)
		f.Add(b, false)
	}
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}`), false)
	f.Fuzz(func(t *testing.T, data []byte, withPassphrase bool) {
		var opts []signer.LoadOption
		if withPassphrase {
			opts = append(opts, signer.WithPassphrase([]byte(testPassphrase)))
		}
		k, err := signer.ParseKey(data, opts...)
		if err != nil {
			if len(data) > 40 && strings.Contains(err.Error(), string(data[:40])) {
				t.Fatalf("error echoes the input: %v", err)
			}
			return
		}
		s, err := signer.New(k, signer.Options{})
		if err != nil {
			t.Fatalf("a loaded key must sign with its own algorithm: %v", err)
		}
		tok, err := s.Sign([]byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := signer.NewVerifier(signer.NewKeySet(k.Public()), signer.VerifyOptions{Algorithms: []signer.Algorithm{s.Algorithm()}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(tok); err != nil {
			t.Fatalf("a loaded key's signature must verify: %v", err)
		}
	})
}

// FuzzParsePublicKeys does the same for public keys, JWKs and JWKSs.
func FuzzParsePublicKeys(f *testing.F) {
	for _, name := range []string{"testdata/keys/test-rsa-public.pem", "testdata/keys/test-rsa-public-pkcs1.pem", "testdata/keys/test-rsa-cert.pem", "testdata/keys/test-ec-p256-public.pem", "testdata/rfc7638-3.1.json", "testdata/rfc7515-a3.json"} {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","use":"sig","kid":"a"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := signer.ParsePublicKeys(data)
		if err != nil {
			return
		}
		if set.Len() == 0 {
			t.Fatal("no error and no keys")
		}
		for _, k := range set.Keys() {
			if k.Thumbprint() == "" {
				t.Fatal("empty thumbprint")
			}
			if _, err := k.MarshalJSON(); err != nil {
				t.Fatalf("a parsed key must export: %v", err)
			}
		}
	})
}

// FuzzVerify throws arbitrary tokens and detached payloads at a verifier holding keys of
// every type. Nothing may panic, and nothing but a real signature may verify: whatever
// verifies must carry a signing input (header and payload) that one of our signers signed.
// (The signature bytes themselves may differ: ECDSA's (r, n-s) is valid too, and JOSE does
// not ask for low-s.)
func FuzzVerify(f *testing.F) {
	ec := mustKeyFile(f, "test-ec-p256-pkcs8.pem", signer.WithKeyID("ec"))
	rsaKey := mustKeyFile(f, "test-rsa-pkcs8.pem", signer.WithKeyID("rsa"))
	ed := mustKeyFile(f, "test-ed25519-pkcs8.pem", signer.WithKeyID("ed"))
	keys := signer.NewKeySet(ec.Public(), rsaKey.Public(), ed.Public())
	v, err := signer.NewVerifier(keys, signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.ES256, signer.RS256, signer.PS256, signer.EdDSA}, Critical: []string{"tan"}})
	if err != nil {
		f.Fatal(err)
	}
	valid := map[string]bool{}
	for _, k := range []*signer.Key{ec, rsaKey, ed} {
		s := mustSigner(f, k, signer.Options{})
		tok, _ := s.SignJWT(map[string]string{"sub": "x"})
		det, _ := s.SignDetached(signer.Header{{Name: "mid", Value: "m"}}, []byte("body"))
		unenc, _ := s.SignUnencodedDetached(signer.Header{{Name: "tan", Value: "t"}, {Name: "crit", Value: []string{"b64", "tan"}}}, []byte("body"))
		f.Add(tok, []byte(nil), false)
		f.Add(det, []byte("body"), true)
		f.Add(unenc, []byte("body"), true)
		valid[signedInput(tok, nil)], valid[signedInput(det, []byte("body"))], valid[signedInput(unenc, []byte("body"))] = true, true, true
	}
	f.Add(b64url([]byte(`{"alg":"none"}`))+".e30.", []byte(nil), false)
	f.Add(b64url([]byte(`{"alg":"HS256","kid":"rsa"}`))+".e30.AAAA", []byte(nil), false)
	f.Fuzz(func(t *testing.T, token string, payload []byte, detached bool) {
		var got *signer.Verified
		var err error
		if detached {
			got, err = v.VerifyDetached(token, payload)
		} else {
			got, err = v.Verify(token)
		}
		if err != nil {
			return
		}
		if !detached {
			payload = nil
		}
		if !valid[signedInput(token, payload)] {
			t.Fatalf("verified a signing input no signer signed: %q %q", token, payload)
		}
		if got.Key == nil || got.Algorithm == "" {
			t.Fatal("verified without key or algorithm")
		}
		u, err := signer.DecodeUnverified(token)
		if err != nil || string(u.RawHeader) != string(got.RawHeader) || u.Detached != detached || (!detached && string(u.Payload) != string(got.Payload)) {
			t.Fatalf("DecodeUnverified disagrees with Verify: %v", err)
		}
	})
}

// FuzzDecodeUnverified: any string decodes or is refused with ErrMalformedJWS, never a
// panic; what decodes is a JSON-object header, and detached exactly when the payload
// segment is empty.
func FuzzDecodeUnverified(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
	f.Add("eyJhbGciOiJFUzI1NiIsImI2NCI6ZmFsc2V9.raw payload.c2ln")
	f.Add("eyJhbGciOiJFUzI1NiJ9..c2ln")
	f.Add("e30.e30.e30.e30")
	f.Fuzz(func(t *testing.T, token string) {
		u, err := signer.DecodeUnverified(token)
		if err != nil {
			var ve *signer.VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, signer.ErrMalformedJWS) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 || u.Detached != (parts[1] == "") || u.Header == nil || !json.Valid(u.RawHeader) || u.Signature != parts[2] {
			t.Fatalf("decoded %q into %+v", token, u)
		}
	})
}

// signedInput is what a signature covers: the token up to its last dot, plus the detached
// payload.
func signedInput(token string, payload []byte) string {
	return token[:strings.LastIndex(token, ".")] + "|" + string(payload)
}
