package signer_test

import (
	"bytes"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/finauth/finauth/signer"
)

func soldoHeader() signer.Header {
	return signer.Header{
		{Name: "exp", Value: "1700000050000"},
		{Name: "mid", Value: "m:abc"},
		{Name: "method", Value: "POST"},
		{Name: "host", Value: "api.example.com:8443"},
		{Name: "path", Value: "/transactions/O;5823 é<&>"},
		{Name: "query", Value: "a=1&a=2&b=%20+"},
	}
}

func TestSignDetached_HeaderKeptExactlyAsGiven(t *testing.T) {
	t.Parallel()
	k := mustKeyFile(t, "test-ec-p256-pkcs8.pem")
	s := mustSigner(t, k, signer.Options{KeyID: "k1", Type: "jwt"})
	tok, err := s.SignDetached(soldoHeader(), []byte(`{"a": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[1] != "" {
		t.Fatalf("not detached: %s", tok)
	}
	hdr, _ := b64dec(parts[0])
	want := `{"alg":"ES256","kid":"k1","typ":"jwt","exp":"1700000050000","mid":"m:abc","method":"POST","host":"api.example.com:8443","path":"/transactions/O;5823 é<&>","query":"a=1&a=2&b=%20+"}`
	if string(hdr) != want {
		t.Fatalf("header\n got %s\nwant %s", hdr, want)
	}
	v := mustVerifier(t, signer.NewKeySet(s.Public()), signer.ES256)
	got, err := v.VerifyDetached(tok, []byte(`{"a": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := got.HeaderString("path"); p != "/transactions/O;5823 é<&>" {
		t.Fatalf("path %q", p)
	}
	if _, err := v.VerifyDetached(tok, []byte(`{"a":1}`)); !errors.Is(err, signer.ErrInvalidSignature) {
		t.Fatalf("one space less must not verify: %v", err)
	}
}

func TestSignDetached_HeaderOverridesAndErrors(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, mustKeyFile(t, "test-ed25519-pkcs8.pem"), signer.Options{KeyID: "k1", Type: "JWT"})
	tok, err := s.SignDetached(signer.Header{{Name: "typ", Value: "jwt"}, {Name: "kid", Value: "k2"}, {Name: "n", Value: 5}, {Name: "raw", Value: json.RawMessage(`{"x":[1]}`)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := b64dec(strings.Split(tok, ".")[0])
	if string(hdr) != `{"alg":"EdDSA","typ":"jwt","kid":"k2","n":5,"raw":{"x":[1]}}` {
		t.Fatalf("header %s", hdr)
	}
	for name, h := range map[string]signer.Header{
		"alg set":   {{Name: "alg", Value: "none"}},
		"duplicate": {{Name: "a", Value: 1}, {Name: "a", Value: 2}},
		"no name":   {{Name: "", Value: 1}},
		"bad raw":   {{Name: "r", Value: json.RawMessage(`{`)}},
		"bad value": {{Name: "f", Value: func() {}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.SignDetached(h, nil); !errors.Is(err, signer.ErrInvalidHeader) {
				t.Errorf("%s: err = %v", name, err)
			}
		})
	}
}

func TestSignDetachedReader_StreamsAndVerifies(t *testing.T) {
	t.Parallel()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 70_001) // not a multiple of the chunk
	for _, f := range []string{"test-ec-p256-pkcs8.pem", "test-rsa-pkcs8.pem", "test-ed25519-pkcs8.pem"} {
		t.Run(f, func(t *testing.T) {
			s := mustSigner(t, mustKeyFile(t, f), signer.Options{})
			tok, err := s.SignDetachedReader(soldoHeader(), iotestHalfReader{bytes.NewReader(payload)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mustVerifier(t, signer.NewKeySet(s.Public()), s.Algorithm()).VerifyDetached(tok, payload); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		})
	}
	s := mustSigner(t, mustKeyFile(t, "test-ec-p256-pkcs8.pem"), signer.Options{})
	_, err := s.SignDetachedReader(nil, io.MultiReader(bytes.NewReader(payload[:5000]), failingReader{}))
	if !errors.Is(err, signer.ErrPayloadRead) || !errors.Is(err, errBoom) {
		t.Fatalf("a failing body must fail the signature: %v", err)
	}
}

func TestSignUnencodedDetached(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, mustKeyFile(t, "test-ec-p256-pkcs8.pem"), signer.Options{KeyID: "ob-1"})
	payload := []byte(`{"Data":{"Amount":"10.00"}}`)
	tok, err := s.SignUnencodedDetached(signer.Header{{Name: "http://openbanking.org.uk/tan", Value: "openbanking.org.uk"}, {Name: "crit", Value: []string{"b64", "http://openbanking.org.uk/tan"}}}, payload)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := b64dec(strings.Split(tok, ".")[0])
	if string(hdr) != `{"alg":"ES256","kid":"ob-1","b64":false,"http://openbanking.org.uk/tan":"openbanking.org.uk","crit":["b64","http://openbanking.org.uk/tan"]}` {
		t.Fatalf("header %s", hdr)
	}
	strict := mustVerifier(t, signer.NewKeySet(s.Public()), signer.ES256)
	if _, err := strict.VerifyDetached(tok, payload); !errors.Is(err, signer.ErrUnsupportedCritical) {
		t.Fatalf("an unknown crit entry must be refused: %v", err)
	}
	ob, err := signer.NewVerifier(signer.NewKeySet(s.Public()), signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.ES256}, Critical: []string{"http://openbanking.org.uk/tan"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ob.VerifyDetached(tok, payload); err != nil {
		t.Fatalf("with the hook accepting it: %v", err)
	}
	// Same header and payload, but base64-encoded: a different signing input.
	if _, err := ob.VerifyDetached(tok, []byte(b64url(payload))); !errors.Is(err, signer.ErrInvalidSignature) {
		t.Fatal(err)
	}
	for name, h := range map[string]signer.Header{
		"crit without b64": {{Name: "x", Value: 1}, {Name: "crit", Value: []string{"x"}}},
		"b64 true":         {{Name: "b64", Value: true}},
		"crit not strings": {{Name: "crit", Value: 5}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.SignUnencodedDetached(h, payload); !errors.Is(err, signer.ErrInvalidHeader) {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
}

// A JWS verified by a library we did not write: go-jose.
func TestSign_VerifiesWithGoJose(t *testing.T) {
	t.Parallel()
	for _, f := range keyFilePerAlgorithm {
		t.Run(f.file, func(t *testing.T) {
			k := mustKeyFile(t, f.file)
			s := mustSigner(t, k, signer.Options{Algorithm: f.alg, KeyID: "k", Type: "JWT"})
			tok, err := s.SignJWT(map[string]any{"iss": "finauth", "n": 1})
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(f.alg)})
			if err != nil {
				t.Fatalf("%s: go-jose cannot parse: %v", f.alg, err)
			}
			out, err := parsed.Verify(k.Signer().Public())
			if err != nil {
				t.Fatalf("%s: go-jose does not verify: %v", f.alg, err)
			}
			if string(out) != `{"iss":"finauth","n":1}` {
				t.Fatalf("payload %s", out)
			}
			det, err := s.SignDetached(soldoHeader(), []byte("payload"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := jose.ParseDetached(det, []byte("payload"), []jose.SignatureAlgorithm{jose.SignatureAlgorithm(f.alg)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Verify(k.Signer().Public()); err != nil {
				t.Fatalf("%s detached: go-jose does not verify: %v", f.alg, err)
			}
		})
	}
}

// A JWS verified by a tool we did not write: openssl dgst over the signing input.
func TestSign_VerifiesWithOpenSSL(t *testing.T) {
	t.Parallel()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is needed for this cross-check (.ci/run installs it): ", err)
	}
	pubFile := map[string]string{
		"test-rsa-pkcs8.pem":     "testdata/keys/test-rsa-public.pem",
		"test-ec-p256-pkcs8.pem": "testdata/keys/test-ec-p256-public.pem",
	}
	for _, c := range []struct {
		file  string
		alg   signer.Algorithm
		extra []string
	}{
		{"test-rsa-pkcs8.pem", signer.RS256, nil},
		{"test-rsa-pkcs8.pem", signer.PS256, []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"}},
		{"test-ec-p256-pkcs8.pem", signer.ES256, nil},
	} {
		t.Run(c.file+" "+string(c.alg), func(t *testing.T) {
			s := mustSigner(t, mustKeyFile(t, c.file), signer.Options{Algorithm: c.alg})
			body := bytes.Repeat([]byte("x"), 5000)
			tok, err := s.SignDetached(soldoHeader(), body)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok, ".")
			sig, _ := b64dec(parts[2])
			if c.alg == signer.ES256 {
				// openssl wants the DER form of R||S.
				sig, err = asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
				if err != nil {
					t.Fatal(err)
				}
			}
			dir := t.TempDir()
			input := filepath.Join(dir, "input")
			sigFile := filepath.Join(dir, "sig")
			must(t, os.WriteFile(input, []byte(parts[0]+"."+b64url(body)), 0o600))
			must(t, os.WriteFile(sigFile, sig, 0o600))
			args := append([]string{"dgst", "-sha256", "-verify", pubFile[c.file], "-signature", sigFile}, c.extra...)
			out, err := exec.Command(openssl, append(args, input)...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verified OK") {
				t.Fatalf("%s: openssl says %s (%v)", c.alg, out, err)
			}
			// And a tampered input must fail in openssl too, so the check can fail.
			must(t, os.WriteFile(input, []byte(parts[0]+"."+b64url(body[1:])), 0o600))
			if out, err := exec.Command(openssl, append(args, input)...).CombinedOutput(); err == nil {
				t.Fatalf("%s: openssl verified a tampered input: %s", c.alg, out)
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func b64dec(s string) ([]byte, error) { return b64enc.DecodeString(s) }

var errBoom = errors.New("boom")

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errBoom }

// iotestHalfReader returns at most half of what is asked, to exercise short reads.
type iotestHalfReader struct{ r io.Reader }

func (h iotestHalfReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:len(p)/2]
	}
	return h.r.Read(p)
}

func TestSigner_ConcurrentUse(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, mustKeyFile(t, "test-ec-p256-pkcs8.pem"), signer.Options{KeyID: "k"})
	v := mustVerifier(t, signer.NewKeySet(s.Public()), signer.ES256)
	errs := make(chan error, 16)
	for g := range 16 {
		go func() {
			body := bytes.Repeat([]byte{byte(g)}, 100+g)
			for range 25 {
				tok, err := s.SignDetached(signer.Header{{Name: "g", Value: g}}, body)
				if err == nil {
					_, err = v.VerifyDetached(tok, body)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
