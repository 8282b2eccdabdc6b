package signer_test

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finauth/finauth/signer"
)

// Every file here was written by the real openssl or ssh-keygen (testdata/keys/generate.sh).
var keyFiles = []struct {
	file      string
	encrypted bool
	want      string // describeKey of the loaded key
	alg       signer.Algorithm
}{
	{"test-rsa-pkcs1.pem", false, "RSA 2048-bit key", signer.RS256},
	{"test-rsa-pkcs8.pem", false, "RSA 2048-bit key", signer.RS256},
	{"test-ec-p256-pkcs8.pem", false, "EC P-256 key", signer.ES256},
	{"test-ec-p384-pkcs8.pem", false, "EC P-384 key", signer.ES384},
	{"test-ec-p521-pkcs8.pem", false, "EC P-521 key", signer.ES512},
	{"test-ed25519-pkcs8.pem", false, "Ed25519 key", signer.EdDSA},
	{"test-ec-p256-sec1.pem", false, "EC P-256 key", signer.ES256},
	{"test-ec-p256-sec1-params.pem", false, "EC P-256 key", signer.ES256},
	{"test-rsa-pkcs8-encrypted.pem", true, "RSA 2048-bit key", signer.RS256},
	{"test-ec-p256-pkcs8-encrypted.pem", true, "EC P-256 key", signer.ES256},
	{"test-rsa-legacy-encrypted.pem", true, "RSA 2048-bit key", signer.RS256},
	{"test-ec-p256-legacy-encrypted.pem", true, "EC P-256 key", signer.ES256},
	{"test-rsa-openssh.key", false, "RSA 2048-bit key", signer.RS256},
	{"test-ec-p256-openssh.key", false, "EC P-256 key", signer.ES256},
	{"test-ed25519-openssh.key", false, "Ed25519 key", signer.EdDSA},
	{"test-ed25519-openssh-encrypted.key", true, "Ed25519 key", signer.EdDSA},
	{"test-rsa-openssh-encrypted.key", true, "RSA 2048-bit key", signer.RS256},
	{"test-service-account.json", false, "RSA 2048-bit key", signer.RS256},
}

func TestLoadKeyFile_EveryFormatLoadsSignsAndVerifies(t *testing.T) {
	t.Parallel()
	for _, kf := range keyFiles {
		t.Run(kf.file, func(t *testing.T) {
			t.Parallel()
			var opts []signer.LoadOption
			if kf.encrypted {
				opts = append(opts, signer.WithPassphrase([]byte(testPassphrase)))
			}
			k := mustKeyFile(t, kf.file, opts...)
			if got := signer.DescribeKey(k.Signer().Public()); got != kf.want {
				t.Fatalf("loaded %s, want %s", got, kf.want)
			}
			if k.Algorithm() != kf.alg {
				t.Fatalf("default algorithm %s, want %s", k.Algorithm(), kf.alg)
			}
			s := mustSigner(t, k, signer.Options{Type: "JWT"})
			tok, err := s.SignJWT(map[string]any{"sub": "test"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mustVerifier(t, signer.NewKeySet(k.Public()), kf.alg).Verify(tok); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadKeyFile_ServiceAccountKeyIDIsPrivateKeyID(t *testing.T) {
	t.Parallel()
	k := mustKeyFile(t, "test-service-account.json")
	if k.KeyID() != "test-service-account-kid" {
		t.Fatalf("kid %q", k.KeyID())
	}
	if mustKeyFile(t, "test-service-account.json", signer.WithKeyID("override")).KeyID() != "override" {
		t.Fatal("WithKeyID must override private_key_id")
	}
}

func TestLoadKeyFile_EncryptedWithoutPassphrase(t *testing.T) {
	t.Parallel()
	for _, kf := range keyFiles {
		t.Run(kf.file, func(t *testing.T) {
			if !kf.encrypted {
				return
			}
			_, err := signer.LoadKeyFile(filepath.Join("testdata", "keys", kf.file))
			if !errors.Is(err, signer.ErrPassphraseRequired) {
				t.Errorf("%s: err = %v, want ErrPassphraseRequired", kf.file, err)
			}
		})
	}
}

func TestLoadKeyFile_WrongPassphraseSaysSo(t *testing.T) {
	t.Parallel()
	for _, kf := range keyFiles {
		t.Run(kf.file, func(t *testing.T) {
			if !kf.encrypted {
				return
			}
			for _, wrong := range []string{"wrong-passphrase", "test-passphrasE", "x"} {
				_, err := signer.LoadKeyFile(filepath.Join("testdata", "keys", kf.file), signer.WithPassphrase([]byte(wrong)))
				if !errors.Is(err, signer.ErrWrongPassphrase) {
					t.Errorf("%s with %q: err = %v, want ErrWrongPassphrase", kf.file, wrong, err)
					continue
				}
				if !strings.Contains(err.Error(), "passphrase is wrong") || strings.Contains(err.Error(), wrong) {
					t.Errorf("%s: message %q", kf.file, err)
				}
			}
		})
	}
}

func TestParsePublicKeys_EveryPublicFormat(t *testing.T) {
	t.Parallel()
	rsaKey := mustKeyFile(t, "test-rsa-pkcs8.pem")
	ecKey := mustKeyFile(t, "test-ec-p256-pkcs8.pem")
	cases := []struct {
		file string
		of   *signer.Key
	}{
		{"test-rsa-public.pem", rsaKey},
		{"test-rsa-public-pkcs1.pem", rsaKey},
		{"test-rsa-cert.pem", rsaKey},
		{"test-ec-p256-public.pem", ecKey},
		{"test-rsa-pkcs8.pem", rsaKey}, // a private key gives its public half
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			set, err := signer.LoadPublicKeysFile(filepath.Join("testdata", "keys", c.file))
			if err != nil {
				t.Errorf("%s: %v", c.file, err)
				return
			}
			if set.Len() != 1 || set.Keys()[0].Thumbprint() != c.of.Public().Thumbprint() {
				t.Errorf("%s: not the public key of its private key", c.file)
			}
		})
	}
	// JWK and JWKS round trip through our own export.
	jwk, err := ecKey.Public().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := signer.NewKeySet(rsaKey.Public(), ecKey.Public()).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"jwk": jwk, "jwks": jwks} {
		t.Run(name, func(t *testing.T) {
			set, err := signer.ParsePublicKeys(data)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, k := range set.Keys() {
				if k.KeyID() != k.Thumbprint() {
					t.Errorf("%s: kid %s is not the thumbprint", name, k.KeyID())
				}
			}
		})
	}
}

func TestKeyAlgorithmMismatch_NamesBoth(t *testing.T) {
	t.Parallel()
	rsaKey := mustKeyFile(t, "test-rsa-pkcs8.pem")
	p384 := mustKeyFile(t, "test-ec-p384-pkcs8.pem")
	ed := mustKeyFile(t, "test-ed25519-pkcs8.pem")
	cases := []struct {
		key      *signer.Key
		alg      signer.Algorithm
		mentions []string
	}{
		{rsaKey, signer.ES256, []string{"RSA 2048-bit key", "ES256"}},
		{p384, signer.ES256, []string{"EC P-384 key", "ES256", "P-256"}},
		{ed, signer.RS256, []string{"Ed25519 key", "RS256"}},
		{rsaKey, signer.EdDSA, []string{"RSA 2048-bit key", "EdDSA"}},
	}
	for _, c := range cases {
		t.Run(c.mentions[0]+" for "+string(c.alg), func(t *testing.T) {
			_, err := signer.New(c.key, signer.Options{Algorithm: c.alg})
			if !errors.Is(err, signer.ErrKeyAlgorithmMismatch) {
				t.Errorf("%s for %s: err = %v", c.key, c.alg, err)
				return
			}
			for _, m := range c.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestRSAUnder2048Refused(t *testing.T) {
	t.Parallel()
	_, err := signer.LoadKeyFile("testdata/keys/test-rsa-1024-too-small.pem")
	if !errors.Is(err, signer.ErrKeyAlgorithmMismatch) || !strings.Contains(err.Error(), "RSA 1024-bit key") || !strings.Contains(err.Error(), "2048") {
		t.Fatalf("err = %v", err)
	}
	// Verification refuses small keys too.
	raw, err := os.ReadFile("testdata/keys/test-rsa-1024-too-small.pem")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signer.ParsePublicKeys(raw); !errors.Is(err, signer.ErrKeyAlgorithmMismatch) {
		t.Fatalf("public 1024-bit key: err = %v", err)
	}
}

func TestParseKey_BadInputIsTypedAndSecretFree(t *testing.T) {
	t.Parallel()
	pem := string(readTestdata(t, "keys/test-rsa-pkcs8.pem"))
	body := strings.Split(pem, "\n")[3] // a line of key material
	cases := map[string]string{
		"empty":             "",
		"garbage":           "hello world",
		"truncated PEM":     pem[:len(pem)/2],
		"public only":       string(readTestdata(t, "keys/test-rsa-public.pem")),
		"corrupted base64":  strings.Replace(pem, body, strings.Repeat("A", len(body)), 1),
		"bad JSON":          `{"kty":`,
		"oct JWK":           `{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}`,
		"public JWK":        `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`,
		"unknown JSON":      `{"hello":"world"}`,
		"service acct bad":  `{"type":"service_account","private_key":"not a key"}`,
		"certificate":       string(readTestdata(t, "keys/test-rsa-cert.pem")),
		"private JWKS none": `{"keys":[]}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := signer.ParseKey([]byte(in))
			if err == nil {
				t.Errorf("%s: no error", name)
				return
			}
			if !errors.Is(err, signer.ErrInvalidKeyData) && !errors.Is(err, signer.ErrUnsupportedKey) && !errors.Is(err, signer.ErrKeyAlgorithmMismatch) {
				t.Errorf("%s: untyped error %v", name, err)
			}
			if strings.Contains(err.Error(), body) || strings.Contains(err.Error(), "AyM1Sy") {
				t.Errorf("%s: error leaks key material: %v", name, err)
			}
		})
	}
}

// A key held in a KMS or HSM is a crypto.Signer with no exported type: it must sign every
// algorithm its key allows, with ECDSA DER converted to R||S.
type opaqueSigner struct{ inner crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.inner.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.inner.Sign(r, d, opts)
}

func TestNewKey_AnyCryptoSigner(t *testing.T) {
	t.Parallel()
	for _, kf := range keyFilePerAlgorithm {
		t.Run(kf.file, func(t *testing.T) {
			inner := mustKeyFile(t, kf.file).Signer()
			k, err := signer.NewKey(opaqueSigner{inner}, signer.WithKeyID("kms-1"))
			if err != nil {
				t.Fatal(err)
			}
			s := mustSigner(t, k, signer.Options{Algorithm: kf.alg})
			tok, err := s.SignDetached(signer.Header{{Name: "mid", Value: "m-1"}}, []byte("body"))
			if err != nil {
				t.Fatalf("%s %s: %v", kf.file, kf.alg, err)
			}
			if _, err := mustVerifier(t, signer.NewKeySet(s.Public()), kf.alg).VerifyDetached(tok, []byte("body")); err != nil {
				t.Fatalf("%s %s: %v", kf.file, kf.alg, err)
			}
			if _, err := k.MarshalPKCS8PEM(nil); err == nil {
				t.Fatal("an opaque signer cannot be exported")
			}
		})
	}
}

func TestKey_FormattingNeverShowsKeyMaterial(t *testing.T) {
	t.Parallel()
	k := mustKeyFile(t, "test-ec-p256-pkcs8.pem", signer.WithKeyID("kid-1"))
	raw, _ := k.Signer().(*ecdsa.PrivateKey).Bytes()
	d := fmt.Sprintf("%x", raw)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		out := fmt.Sprintf(verb, k)
		if strings.Contains(out, d) || strings.Contains(strings.ToLower(out), d[:16]) {
			t.Errorf("%s prints key material: %s", verb, out)
		}
		if !strings.Contains(out, "EC P-256") {
			t.Errorf("%s: %q does not describe the key", verb, out)
		}
	}
}

func TestParseKey_PrivateAndPublicHalvesMustMatch(t *testing.T) {
	t.Parallel()
	// RFC 7515 A.3's public point with another key's private scalar.
	other, err := signer.GenerateKey(signer.ES256)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := other.Signer().(*ecdsa.PrivateKey).Bytes()
	jwk := `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"` + b64url(d) + `"}`
	_, err = signer.ParseKey([]byte(jwk))
	if !errors.Is(err, signer.ErrInvalidKeyData) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), b64url(d)) {
		t.Fatal("error leaks the private scalar")
	}
}

// A "kid: ..." line before the PEM block names the key ID of both halves; WithKeyID still
// wins, and a kid the format carries (a JWK's) is kept.
func TestParseKey_KeyIDPreamble(t *testing.T) {
	t.Parallel()
	pemData, err := os.ReadFile("testdata/keys/test-ec-p256-pkcs8.pem")
	if err != nil {
		t.Fatal(err)
	}
	withKid := signer.WithKeyIDPreamble("from-file", pemData)
	k, err := signer.ParseKey(withKid)
	if err != nil || k.KeyID() != "from-file" {
		t.Fatalf("%v %q", err, k.KeyID())
	}
	if k, _ := signer.ParseKey(withKid, signer.WithKeyID("override")); k.KeyID() != "override" {
		t.Fatalf("WithKeyID: %q", k.KeyID())
	}
	set, err := signer.ParsePublicKeys(withKid)
	if err != nil || set.Keys()[0].KeyID() != "from-file" {
		t.Fatalf("public: %v", err)
	}
	if k, _ := signer.ParseKey(pemData); k.KeyID() != "" {
		t.Fatalf("no preamble: %q", k.KeyID())
	}
}

// Key mismatches read as a person would say them: "an RSA ...", "an EC ...", "an Ed25519 ...".
func TestKeyAlgorithmError_ReadsNaturally(t *testing.T) {
	t.Parallel()
	for file, want := range map[string]string{
		"test-rsa-pkcs8.pem":     "an RSA 2048-bit key cannot be used with ES256",
		"test-ec-p256-pkcs8.pem": "an EC P-256 key cannot be used with ES256",
		"test-ed25519-pkcs8.pem": "an Ed25519 key cannot be used with ES256",
	} {
		t.Run(file, func(t *testing.T) {
			_, err := signer.LoadKeyFile("testdata/keys/"+file, signer.WithAlgorithm(signer.ES384))
			want = strings.Replace(want, "ES256", "ES384", 1)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want %q", err, want)
			}
		})
	}
}

// A PEM pasted with literal \n sequences (from JSON, a .env file, a CI variable) gets a hint
// saying so and how to fix it, for a private and a public key.
func TestParse_LiteralBackslashNGetsAHint(t *testing.T) {
	for _, file := range []string{"testdata/keys/test-rsa-pkcs8.pem", "testdata/keys/test-rsa-public.pem"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		flat := []byte(strings.ReplaceAll(string(data), "\n", `\n`))
		var perr error
		if strings.Contains(file, "public") {
			_, perr = signer.ParsePublicKeys(flat)
		} else {
			_, perr = signer.ParseKey(flat)
		}
		if perr == nil || !strings.Contains(perr.Error(), `literal \n`) || !strings.Contains(perr.Error(), "printf '%b'") {
			t.Errorf("%s with literal \\n: %v", file, perr)
		}
		if _, err := signer.ParseKey([]byte("-----BEGIN nothing")); err != nil && strings.Contains(err.Error(), `literal \n`) {
			t.Errorf("a hint without literal \\n: %v", err)
		}
	}
}
