package signer_test

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/finauth/finauth/signer"
)

var publishNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// certified returns the key's public half with a self-signed certificate valid from
// notBefore to notAfter.
func certified(t *testing.T, file, kid string, notBefore, notAfter time.Time) (*signer.PublicKey, *x509.Certificate) {
	t.Helper()
	key, err := signer.LoadKeyFile(file, signer.WithKeyID(kid))
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: kid, Organization: []string{"finauth test"}}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public().Key(), key.Signer())
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pub, err := key.Public().WithCertificates([]*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	return pub, cert
}

// A published set holds each key with kid, use, alg and, with a certificate, x5c and
// x5t#S256 (the SHA-256 of the certificate's DER), as go-jose, an independent reader, parses
// it back; the keys keep their order.
func TestPublishKeySet_WritesX5cAndX5tS256(t *testing.T) {
	rsaPub, rsaCert := certified(t, "testdata/keys/test-rsa-pkcs8.pem", "sig-1", publishNow.Add(-time.Hour), publishNow.Add(365*24*time.Hour))
	ec, err := signer.LoadKeyFile("testdata/keys/test-ec-p256-pkcs8.pem", signer.WithKeyID("sig-2"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := signer.PublishKeySet(publishNow, rsaPub, ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(set)
	var parsed jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatalf("go-jose does not read the JWKS: %v\n%s", err, doc)
	}
	if len(parsed.Keys) != 2 || parsed.Keys[0].KeyID != "sig-1" || parsed.Keys[1].KeyID != "sig-2" || parsed.Keys[0].Use != "sig" || parsed.Keys[1].Algorithm != "ES256" {
		t.Fatalf("%s", doc)
	}
	sum := sha256.Sum256(rsaCert.Raw)
	if string(parsed.Keys[0].CertificateThumbprintSHA256) != string(sum[:]) || len(parsed.Keys[0].Certificates) != 1 || !parsed.Keys[0].Certificates[0].Equal(rsaCert) {
		t.Fatalf("x5t#S256 / x5c: %s", doc)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	json.Unmarshal(doc, &raw)
	if raw.Keys[0]["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) || raw.Keys[1]["x5c"] != nil || raw.Keys[0]["d"] != nil {
		t.Fatalf("%s", doc)
	}
}

// Every problem of a set is named at once: two keys with one kid, an expired certificate, a
// certificate not valid yet, no key at all.
func TestPublishKeySet_RefusesWhatVerifiersWouldRefuse(t *testing.T) {
	valid, _ := certified(t, "testdata/keys/test-rsa-pkcs8.pem", "sig-1", publishNow.Add(-time.Hour), publishNow.Add(time.Hour))
	expired, _ := certified(t, "testdata/keys/test-ec-p256-pkcs8.pem", "sig-2", publishNow.Add(-48*time.Hour), publishNow.Add(-24*time.Hour))
	future, _ := certified(t, "testdata/keys/test-ed25519-pkcs8.pem", "sig-3", publishNow.Add(time.Hour), publishNow.Add(48*time.Hour))
	_, err := signer.PublishKeySet(publishNow, valid, valid.WithKeyID("sig-1"), expired, future)
	var pe *signer.PublishError
	if !errors.As(err, &pe) || !errors.Is(err, signer.ErrPublish) || len(pe.Problems) != 3 {
		t.Fatalf("%v", err)
	}
	for _, want := range []string{`keys 1 and 2 have the same kid "sig-1"`, `kid "sig-2": the certificate (CN=sig-2,O=finauth test) expired on 2026-11-30T12:00:00Z`, `kid "sig-3": the certificate (CN=sig-3,O=finauth test) is not valid before 2026-12-01T13:00:00Z`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nwant %q", err, want)
		}
	}
	if _, err := signer.PublishKeySet(publishNow); !errors.Is(err, signer.ErrPublish) || !strings.Contains(err.Error(), "no key given") {
		t.Fatalf("no key: %v", err)
	}
}
