package signer_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/finauth/finauth/signer"
)

const testPassphrase = "test-passphrase"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readVector(t testing.TB, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(readTestdata(t, name), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func mustKeyFile(t testing.TB, name string, opts ...signer.LoadOption) *signer.Key {
	t.Helper()
	k, err := signer.LoadKeyFile(filepath.Join("testdata", "keys", name), opts...)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return k
}

func mustSigner(t testing.TB, k *signer.Key, opts signer.Options) *signer.Signer {
	t.Helper()
	s, err := signer.New(k, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustVerifier(t testing.TB, keys *signer.KeySet, algs ...signer.Algorithm) *signer.Verifier {
	t.Helper()
	v, err := signer.NewVerifier(keys, signer.VerifyOptions{Algorithms: algs})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var b64enc = base64.RawURLEncoding

func b64url(b []byte) string { return b64enc.EncodeToString(b) }

// keyFilePerAlgorithm pairs every supported algorithm with a test key that fits it.
var keyFilePerAlgorithm = []struct {
	file string
	alg  signer.Algorithm
}{
	{"test-rsa-pkcs8.pem", signer.RS256},
	{"test-rsa-pkcs8.pem", signer.PS256},
	{"test-ec-p256-pkcs8.pem", signer.ES256},
	{"test-ec-p384-pkcs8.pem", signer.ES384},
	{"test-ec-p521-pkcs8.pem", signer.ES512},
	{"test-ed25519-pkcs8.pem", signer.EdDSA},
}
