package signer_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/signer"
)

func TestGenerateKey_RoundTripsThroughPEM(t *testing.T) {
	t.Parallel()
	cases := []struct {
		alg  signer.Algorithm
		bits int
		want string
	}{
		{signer.RS256, 2048, "RSA 2048-bit key"},
		{signer.PS256, 3072, "RSA 3072-bit key"},
		{signer.RS256, 4096, "RSA 4096-bit key"},
		{signer.ES256, 0, "EC P-256 key"},
		{signer.EdDSA, 0, "Ed25519 key"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			t.Parallel()
			var k *signer.Key
			var err error
			if c.bits != 0 {
				k, err = signer.GenerateRSAKey(c.alg, c.bits)
			} else {
				k, err = signer.GenerateKey(c.alg)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := signer.DescribeKey(k.Signer().Public()); got != c.want {
				t.Fatalf("generated %s", got)
			}
			if k.Algorithm() != c.alg {
				t.Fatalf("algorithm %s", k.Algorithm())
			}
			plain, err := k.MarshalPKCS8PEM(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(plain), "-----BEGIN PRIVATE KEY-----") {
				t.Fatalf("not PKCS#8: %.30s", plain)
			}
			back, err := signer.ParseKey(plain)
			if err != nil {
				t.Fatal(err)
			}
			if back.Public().Thumbprint() != k.Public().Thumbprint() {
				t.Fatal("PKCS#8 round trip changed the key")
			}
			pub, err := k.Public().MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			set, err := signer.ParsePublicKeys(pub)
			if err != nil || set.Keys()[0].Thumbprint() != k.Public().Thumbprint() {
				t.Fatalf("public PEM round trip: %v", err)
			}
		})
	}
}

// The encrypted PKCS#8 we write is what openssl writes: openssl opens ours, we open its.
// (At openssl's own 2,048 iterations: the default 600,000 costs seconds under -race, and
// TestMarshalPKCS8PEM_DefaultIsSixHundredThousandIterations covers it.)
func TestMarshalPKCS8PEM_EncryptedOpensInOpenSSL(t *testing.T) {
	t.Parallel()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is needed for this cross-check (.ci/run installs it): ", err)
	}
	k, err := signer.GenerateKey(signer.ES256)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := k.MarshalPKCS8PEM([]byte(testPassphrase), signer.WithPBKDF2Iterations(2048))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(enc), "-----BEGIN ENCRYPTED PRIVATE KEY-----") {
		t.Fatalf("not encrypted PKCS#8: %.40s", enc)
	}
	if _, err := signer.ParseKey(enc); !errors.Is(err, signer.ErrPassphraseRequired) {
		t.Fatalf("without passphrase: %v", err)
	}
	if _, err := signer.ParseKey(enc, signer.WithPassphrase([]byte("wrong"))); !errors.Is(err, signer.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	back, err := signer.ParseKey(enc, signer.WithPassphrase([]byte(testPassphrase)))
	if err != nil || back.Public().Thumbprint() != k.Public().Thumbprint() {
		t.Fatalf("round trip: %v", err)
	}
	file := filepath.Join(t.TempDir(), "k.pem")
	must(t, os.WriteFile(file, enc, 0o600))
	out, err := exec.Command(openssl, "pkey", "-in", file, "-passin", "pass:"+testPassphrase, "-pubout").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl cannot open our encrypted key: %s", out)
	}
	set, err := signer.ParsePublicKeys(out)
	if err != nil || set.Keys()[0].Thumbprint() != k.Public().Thumbprint() {
		t.Fatalf("openssl's public key differs: %v", err)
	}
}

// The one test that pays for the real default: the file says 600,000 iterations of
// PBKDF2-HMAC-SHA256 with AES-256-CBC, and opens with the passphrase.
func TestMarshalPKCS8PEM_DefaultIsSixHundredThousandIterations(t *testing.T) {
	t.Parallel()
	k, err := signer.GenerateKey(signer.ES256)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := k.MarshalPKCS8PEM([]byte(testPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(enc)
	var info struct {
		Algo struct {
			OID    asn1.ObjectIdentifier
			Params struct {
				KDF struct {
					OID    asn1.ObjectIdentifier
					Params struct {
						Salt       []byte
						Iterations int
						PRF        struct{ OID asn1.ObjectIdentifier } `asn1:"optional"`
					}
				}
				Cipher struct{ OID asn1.ObjectIdentifier }
			}
		}
		Data []byte
	}
	if _, err := asn1.Unmarshal(block.Bytes, &info); err != nil {
		t.Fatal(err)
	}
	kdf := info.Algo.Params.KDF.Params
	if kdf.Iterations != 600_000 || len(kdf.Salt) < 16 || !kdf.PRF.OID.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}) ||
		!info.Algo.Params.Cipher.OID.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}) {
		t.Fatalf("PBES2 parameters: %d iterations, %d-byte salt, PRF %v, cipher %v", kdf.Iterations, len(kdf.Salt), kdf.PRF.OID, info.Algo.Params.Cipher.OID)
	}
	back, err := signer.ParseKey(enc, signer.WithPassphrase([]byte(testPassphrase)))
	if err != nil || back.Public().Thumbprint() != k.Public().Thumbprint() {
		t.Fatalf("round trip: %v", err)
	}
	for _, n := range []int{999, 20_000_000} {
		if _, err := k.MarshalPKCS8PEM([]byte(testPassphrase), signer.WithPBKDF2Iterations(n)); err == nil {
			t.Errorf("%d iterations accepted", n)
		}
	}
}

func TestGenerateRSAKey_RefusesOddSizes(t *testing.T) {
	t.Parallel()
	for _, bits := range []int{1024, 2047, 8192} {
		if _, err := signer.GenerateRSAKey(signer.RS256, bits); !errors.Is(err, signer.ErrKeyAlgorithmMismatch) {
			t.Errorf("%d bits: %v", bits, err)
		}
	}
	if _, err := signer.GenerateRSAKey(signer.ES256, 2048); !errors.Is(err, signer.ErrKeyAlgorithmMismatch) {
		t.Error("RSA for ES256 must be refused")
	}
	if _, err := signer.GenerateKey("HS256"); !errors.Is(err, signer.ErrUnsupportedAlgorithm) {
		t.Error("HS256 must be refused")
	}
}

func TestPublicJWK_ExportsOnlyPublicMembers(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"test-rsa-pkcs8.pem", "test-ec-p256-pkcs8.pem", "test-ed25519-pkcs8.pem"} {
		t.Run(f, func(t *testing.T) {
			k := mustKeyFile(t, f)
			raw, err := json.Marshal(k.Public())
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			must(t, json.Unmarshal(raw, &m))
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
				if _, ok := m[private]; ok {
					t.Errorf("%s: JWK exports private member %q", f, private)
				}
			}
			if m["use"] != "sig" || m["alg"] != string(k.Algorithm()) || m["kid"] != k.Public().Thumbprint() || m["kty"] == nil {
				t.Errorf("%s: JWK %s", f, raw)
			}
		})
	}
	k := mustKeyFile(t, "test-rsa-pkcs8.pem", signer.WithKeyID("mia-client-1"))
	set, err := json.Marshal(signer.NewKeySet(k.Public()))
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	must(t, json.Unmarshal(set, &jwks))
	if len(jwks.Keys) != 1 || jwks.Keys[0]["kid"] != "mia-client-1" || jwks.Keys[0]["kty"] != "RSA" || jwks.Keys[0]["e"] != "AQAB" {
		t.Fatalf("JWKS %s", set)
	}
}

// A JWK with its certificate chain carries x5c (base64 DER, leaf first); a certificate of
// another key is refused.
func TestPublicKey_WithCertificatesWritesX5C(t *testing.T) {
	t.Parallel()
	key, err := signer.GenerateRSAKey(signer.PS256, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := signer.GenerateKey(signer.ES256)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "signing"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public().Key(), key.Signer())
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pub, err := key.Public().WithKeyID("sig-1").WithCertificates([]*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(pub)
	var jwk struct {
		Kid string   `json:"kid"`
		X5c []string `json:"x5c"`
	}
	if err := json.Unmarshal(b, &jwk); err != nil || jwk.Kid != "sig-1" || len(jwk.X5c) != 1 || jwk.X5c[0] != base64.StdEncoding.EncodeToString(der) {
		t.Fatalf("%s %v", b, err)
	}
	if _, err := other.Public().WithCertificates([]*x509.Certificate{cert}); !errors.Is(err, signer.ErrCertificateMismatch) {
		t.Fatalf("another key's certificate: %v", err)
	}
}
