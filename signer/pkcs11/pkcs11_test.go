//go:build cgo

package pkcs11_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	miekg "github.com/miekg/pkcs11"

	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/signer/pkcs11"
	"github.com/finauth/finauth/testkit/hsmtest"
)

const keys = "../testdata/keys/"

// Keys made inside SoftHSM2 and keys imported into it sign every algorithm finauth uses
// (RS256, PS256 with a salt as long as the hash, ES256/384/512 as JOSE's r||s, EdDSA with an
// Ed25519 key, which goes to the module directly: crypto11 has no EdDSA), each
// signature verified by signer's verifier with the public key; from 8 goroutines at once.
func TestPKCS11_SignsEveryAlgorithm(t *testing.T) {
	tk := hsmtest.Shared(t)
	tk.Generate(t, "gen-rsa", "rsa:2048")
	tk.Generate(t, "gen-p256", "EC:prime256v1")
	tk.Generate(t, "gen-p384", "EC:secp384r1")
	tk.Generate(t, "gen-p521", "EC:secp521r1")
	tk.Import(t, "imported-rsa", keys+"test-rsa-pkcs8.pem")
	tk.Import(t, "imported-p256", keys+"test-ec-p256-pkcs8.pem")
	tk.Generate(t, "gen-ed25519", "EC:edwards25519")
	for _, tc := range []struct {
		label string
		alg   signer.Algorithm
	}{
		{"gen-rsa", signer.RS256}, {"gen-rsa", signer.PS256}, {"gen-p256", signer.ES256}, {"gen-p384", signer.ES384}, {"gen-p521", signer.ES512},
		{"imported-rsa", signer.PS256}, {"imported-rsa", signer.RS256}, {"imported-p256", signer.ES256},
		{"gen-ed25519", signer.EdDSA},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.label, tc.alg), func(t *testing.T) {
			key, err := signer.LoadKeyFile(tk.URI(tc.label), signer.WithKeyID(tc.label))
			if err != nil {
				t.Fatal(err)
			}
			s, err := signer.New(key, signer.Options{Algorithm: tc.alg})
			if err != nil {
				t.Fatal(err)
			}
			v, err := signer.NewVerifier(signer.NewKeySet(key.Public().WithKeyID(tc.label)), signer.VerifyOptions{Algorithms: []signer.Algorithm{tc.alg}})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					jwt, err := s.SignJWT(map[string]int{"n": g})
					if err == nil {
						_, err = v.Verify(jwt)
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		})
	}
	// The imported key is the file's: its public half matches.
	file, _ := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	hsm, err := signer.LoadKeyFile(tk.URI("imported-rsa"))
	if err != nil || hsm.Public().Thumbprint() != file.Public().Thumbprint() {
		t.Fatalf("the imported key is not the file's: %v", err)
	}
}

// What is wrong is named (token, object), and the PIN appears nowhere: not in an error,
// not in %v, %+v, %#v, %s, %q of the URI or the error, not in JSON or slog.
func TestPKCS11_ErrorsNameTheKeyNeverThePIN(t *testing.T) {
	tk := hsmtest.Shared(t)
	pinURI := "pkcs11:token=" + tk.Label + ";object=no-such-key?module-path=" + hsmtest.Module + "&pin-value=" + tk.PIN
	for name, tc := range map[string]struct {
		uri, want string
	}{
		"no such key":   {pinURI, `cannot find the key (token "finauth", object "no-such-key")`},
		"wrong PIN":     {"pkcs11:token=" + tk.Label + ";object=gen-rsa?module-path=" + hsmtest.Module + "&pin-value=0000-wrong", "PIN"},
		"no module":     {"pkcs11:token=x;object=y?pin-value=" + tk.PIN, "module-path is required"},
		"no token":      {"pkcs11:object=y?module-path=" + hsmtest.Module + "&pin-value=" + tk.PIN, "name the token"},
		"typo":          {"pkcs11:token=x;objekt=y?module-path=m&pin-value=" + tk.PIN, `unknown path attribute "objekt"`},
		"missing file":  {"pkcs11:token=x;object=y?module-path=m&pin-source=file:/nonexistent/pin", "read the PIN"},
		"both":          {"pkcs11:token=x;object=y?module-path=m&pin-source=file:/p&pin-value=" + tk.PIN, "not both"},
		"unknown token": {"pkcs11:token=nope;object=y?module-path=" + hsmtest.Module + "&pin-value=" + tk.PIN, "cannot open the token"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := signer.LoadKeyFile(tc.uri)
			if err == nil || !errors.Is(err, pkcs11.ErrPKCS11) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v: want %q", err, tc.want)
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Error("x", "error", err, "uri", signer.RedactKeyURI(tc.uri))
			j, _ := json.Marshal(map[string]any{"error": err.Error()})
			for _, out := range []string{err.Error(), fmt.Sprintf("%v %+v %#v %s %q", err, err, err, err, err), buf.String(), string(j), signer.RedactKeyURI(tc.uri)} {
				if strings.Contains(out, tk.PIN) || strings.Contains(out, "0000-wrong") {
					t.Fatalf("the PIN shows: %s", out)
				}
			}
		})
	}
}

// A token whose sessions are all closed under the process (an HSM restart, a network HSM's
// failover, another part of the process calling C_CloseAllSessions) is logged in to again,
// and the signature that found the sessions gone is made, not failed.
func TestPKCS11_SessionsLostAreReopened(t *testing.T) {
	tk := hsmtest.Shared(t)
	tk.Generate(t, "gen-p256", "EC:prime256v1")
	key, err := signer.LoadKeyFile(tk.URI("gen-p256"), signer.WithKeyID("k"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := signer.New(key, signer.Options{})
	if _, err := s.Sign([]byte("before")); err != nil {
		t.Fatal(err)
	}
	p := miekg.New(hsmtest.Module)
	p.Initialize() // already initialised by this process: CKR_CRYPTOKI_ALREADY_INITIALIZED
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	closed := 0
	for _, slot := range slots {
		if info, err := p.GetTokenInfo(slot); err == nil && strings.TrimSpace(info.Label) == tk.Label {
			if err := p.CloseAllSessions(slot); err != nil {
				t.Fatal(err)
			}
			closed++
		}
	}
	if closed != 1 {
		t.Fatalf("closed the sessions of %d slots", closed)
	}
	for i := range 3 {
		if _, err := s.Sign([]byte("after")); err != nil {
			t.Fatalf("signature %d after the sessions were closed: %v", i+1, err)
		}
	}
}

// An Ed25519 key's sessions lost are reopened too.
func TestPKCS11_Ed25519SessionsLostAreReopened(t *testing.T) {
	tk := hsmtest.Shared(t)
	tk.Generate(t, "gen-ed25519", "EC:edwards25519")
	key, err := signer.LoadKeyFile(tk.URI("gen-ed25519"), signer.WithKeyID("k"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := signer.New(key, signer.Options{})
	if _, err := s.Sign([]byte("before")); err != nil {
		t.Fatal(err)
	}
	closeAllSessions(t, tk.Label)
	if _, err := s.Sign([]byte("after")); err != nil {
		t.Fatalf("after the sessions were closed: %v", err)
	}
}

// closeAllSessions closes every session of the token, under the process's feet.
func closeAllSessions(t *testing.T, label string) {
	t.Helper()
	p := miekg.New(hsmtest.Module)
	p.Initialize()
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range slots {
		if info, err := p.GetTokenInfo(slot); err == nil && strings.TrimSpace(info.Label) == label {
			if err := p.CloseAllSessions(slot); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no token %q", label)
}

// printings is v through every fmt verb, encoding/json and slog's text and JSON handlers.
func printings(v any) []string {
	out := []string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		out = append(out, fmt.Sprintf(verb, v))
	}
	if b, err := json.Marshal(v); err == nil {
		out = append(out, string(b))
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v)
	return append(out, text.String(), js.String())
}

// Issue 31 (13): a PKCS#11 key's crypto.Signer (Key.Signer(), what a caller hands to other
// code) never prints the PIN it logs in with, through any verb, JSON or slog; nor does its
// Ed25519 form.
func TestPKCS11_TheSignerNeverPrintsThePIN(t *testing.T) {
	tk := hsmtest.Shared(t)
	tk.Generate(t, "print-rsa", "rsa:2048")
	tk.Generate(t, "print-ed25519", "EC:edwards25519")
	for _, label := range []string{"print-rsa", "print-ed25519"} {
		key, err := signer.LoadKeyFile(tk.URI(label))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []any{key.Signer(), key} {
			for _, out := range printings(v) {
				if strings.Contains(out, tk.PIN) {
					t.Errorf("%s: the PIN shows: %s", label, out)
				}
			}
		}
	}
}

// Issue 31 (17): a PIN holding ";", "&", "?", "#", "=" or a bad "%" shows no part of itself
// in a redacted URI, in ParseURI's errors, nor in a parsed URI through any verb, JSON or slog.
func TestURI_NoPartOfThePINShowsWhateverItHolds(t *testing.T) {
	for _, pin := range []string{"k9;q7", "k9&q7", "k9%zzq7", "k9%q7", "k9?q7", "k9#q7", "k9=q7", "k9&module-path=q7"} {
		for _, raw := range []string{
			"pkcs11:token=t;object=o?module-path=/lib/m.so&pin-value=" + pin,
			"pkcs11:token=t;object=o?pin-value=" + pin + "&module-path=/lib/m.so",
			"pkcs11:token=t;pin-value=" + pin + ";object=o?module-path=/lib/m.so",
		} {
			outs := []string{signer.RedactKeyURI(raw)}
			u, err := pkcs11.ParseURI(raw)
			if err != nil {
				outs = append(outs, err.Error())
			} else {
				outs = append(append(outs, printings(u)...), printings(*u)...)
			}
			for _, out := range outs {
				if strings.Contains(out, "k9") || strings.Contains(out, "q7") {
					t.Errorf("PIN %q in %q: a part shows: %s", pin, raw, out)
				}
			}
		}
	}
}
