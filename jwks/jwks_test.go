package jwks_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/finauth/finauth/jwks"
	"github.com/finauth/finauth/signer"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const (
	rsaKeyFile = "../signer/testdata/keys/test-rsa-pkcs8.pem"
	ecKeyFile  = "../signer/testdata/keys/test-ec-p256-pkcs8.pem"
)

// writeCert writes a PEM certificate of the key in keyFile, self-signed, valid from
// notBefore to notAfter, into dir and returns its path. RSA PKCS #1 v1.5 signatures are
// deterministic, so the same inputs make the same file.
func writeCert(t *testing.T, dir, name, keyFile string, notBefore, notAfter time.Time) string {
	t.Helper()
	key, err := signer.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: name, Organization: []string{"finauth test"}},
		NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(nil, tpl, tpl, key.Public().Key(), key.Signer())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The document of a certificate (RSA: PS256, x5c, x5t#S256) and a bare EC public key is the
// golden one, and go-jose, an independent reader, reads it back with the same kids, algs and
// certificate.
func TestLoad_GoldenDocument(t *testing.T) {
	dir := t.TempDir()
	cert := writeCert(t, dir, "signing", rsaKeyFile, testNow.Add(-24*time.Hour), testNow.Add(365*24*time.Hour))
	set, err := jwks.Load(testNow, jwks.Key{KID: "sig-2026", File: cert}, jwks.Key{KID: "ec-1", File: ecKeyFile})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := "testdata/golden.jwks.json"
	if *update {
		os.WriteFile(golden, append(doc, '\n'), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(doc)+"\n" {
		t.Fatalf("the JWKS differs from %s:\n%s", golden, doc)
	}
	var parsed jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatal(err)
	}
	k := parsed.Keys[0]
	if len(parsed.Keys) != 2 || k.KeyID != "sig-2026" || k.Algorithm != "PS256" || k.Use != "sig" || len(k.Certificates) != 1 ||
		parsed.Keys[1].KeyID != "ec-1" || parsed.Keys[1].Algorithm != "ES256" || len(parsed.Keys[1].Certificates) != 0 {
		t.Fatalf("go-jose reads: %+v", parsed.Keys)
	}
}

// What a verifier would refuse is refused by name: two keys under one kid, an expired
// certificate, a certificate that is not its key's, a file that is not there, a bad spec.
func TestLoad_Refusals(t *testing.T) {
	dir := t.TempDir()
	expired := writeCert(t, dir, "old", rsaKeyFile, testNow.Add(-48*time.Hour), testNow.Add(-time.Hour))
	good := writeCert(t, dir, "good", rsaKeyFile, testNow.Add(-time.Hour), testNow.Add(time.Hour))
	// A certificate followed by another key's private key: the certificate is not its key's.
	mixed := filepath.Join(dir, "mixed.pem")
	certPEM, _ := os.ReadFile(good)
	ecPEM, _ := os.ReadFile(ecKeyFile)
	os.WriteFile(mixed, append(append([]byte{}, ecPEM...), certPEM...), 0o600)
	for name, tc := range map[string]struct {
		keys []jwks.Key
		want string
	}{
		"same kid":       {[]jwks.Key{{KID: "a", File: good}, {KID: "a", File: ecKeyFile}}, `the same kid "a"`},
		"expired":        {[]jwks.Key{{KID: "a", File: expired}}, "expired on"},
		"not its key":    {[]jwks.Key{{KID: "a", File: mixed}}, ""},
		"missing file":   {[]jwks.Key{{KID: "a", File: filepath.Join(dir, "nope.pem")}}, "no such file"},
		"no kid":         {[]jwks.Key{{File: good}}, "needs its kid"},
		"nothing at all": {nil, "no key given"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jwks.Load(testNow, tc.keys...)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, jwks.ErrKey) && !errors.Is(err, signer.ErrPublish) {
				t.Fatalf("untyped: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v: want %q", err, tc.want)
			}
		})
	}
	if _, err := jwks.ParseKey("sig-1"); !errors.Is(err, jwks.ErrKey) || !strings.Contains(err.Error(), "KID=FILE") {
		t.Fatalf("ParseKey: %v", err)
	}
	if k, err := jwks.ParseKey("sig-1=a=b.pem"); err != nil || k.KID != "sig-1" || k.File != "a=b.pem" {
		t.Fatalf("ParseKey: %+v %v", k, err)
	}
}

// writeChain writes a leaf certificate of the key in keyFile issued by a CA made here, the
// leaf first and the CA after it (as x5c has them), and returns its path and the two
// certificates' DER.
func writeChain(t *testing.T, dir, keyFile string, reversed bool) (string, [][]byte) {
	t.Helper()
	key, err := signer.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := signer.GenerateKey(signer.ES256)
	if err != nil {
		t.Fatal(err)
	}
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Issuing CA"}, NotBefore: testNow.Add(-time.Hour),
		NotAfter: testNow.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(nil, caTpl, caTpl, caKey.Public().Key(), caKey.Signer())
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "signing"}, NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	leafDER, err := x509.CreateCertificate(nil, leafTpl, ca, key.Public().Key(), caKey.Signer())
	if err != nil {
		t.Fatal(err)
	}
	ders := [][]byte{leafDER, caDER}
	if reversed {
		ders = [][]byte{caDER, leafDER}
	}
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	path := filepath.Join(dir, "chain.pem")
	os.WriteFile(path, out, 0o644)
	return path, ders
}

// Issue 31 (12): a leaf certificate followed by its issuing CA is one key with a chain (x5c
// holds both, leaf first), not "2 keys"; a chain whose certificates do not issue each other,
// leaf first, is refused by name.
func TestLoad_ACertificateChainIsOneKeyWithItsChain(t *testing.T) {
	dir := t.TempDir()
	chain, ders := writeChain(t, dir, rsaKeyFile, false)
	set, err := jwks.Load(testNow, jwks.Key{KID: "sig-1", File: chain})
	if err != nil {
		t.Fatalf("a leaf and its CA: %v", err)
	}
	doc, _ := json.Marshal(set)
	var back jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &back); err != nil || len(back.Keys) != 1 {
		t.Fatalf("go-jose reads %d keys (%v) from %s", len(back.Keys), err, doc)
	}
	if got := back.Keys[0].Certificates; len(got) != 2 || string(got[0].Raw) != string(ders[0]) || string(got[1].Raw) != string(ders[1]) {
		t.Fatalf("x5c holds %d certificates, want the leaf then the CA", len(got))
	}
	reversed, _ := writeChain(t, t.TempDir(), rsaKeyFile, true)
	if _, err := jwks.Load(testNow, jwks.Key{KID: "sig-1", File: reversed}); !errors.Is(err, jwks.ErrKey) || !strings.Contains(err.Error(), "issued") {
		t.Fatalf("the CA first: %v", err)
	}
}
