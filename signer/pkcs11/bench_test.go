//go:build cgo

package pkcs11_test

import (
	"testing"

	"github.com/finauth/finauth/signer"
	_ "github.com/finauth/finauth/signer/awskms"
	"github.com/finauth/finauth/testkit/hsmtest"
	"github.com/finauth/finauth/testkit/kmstest"
)

// BenchmarkSignatureWhereTheKeyLives: one JWS signature with the same key in memory,
// through SoftHSM2 (PKCS#11, in process) and through the local KMS (HTTP on loopback), side
// by side: RS256 with the RSA 2048 test key, ES256 with the P-256 one, EdDSA with an Ed25519
// key (in memory, and one generated in SoftHSM2). A per-request
// signing provider (Soldo, Revolut's x-jws-signature) pays this on every request.
func BenchmarkSignatureWhereTheKeyLives(b *testing.B) {
	tk := hsmtest.Shared(b)
	tk.Import(b, "imported-rsa", keys+"test-rsa-pkcs8.pem")
	tk.Import(b, "imported-p256", keys+"test-ec-p256-pkcs8.pem")
	tk.Generate(b, "gen-ed25519", "EC:edwards25519")
	k := kmstest.Shared(b, keys)
	for _, kind := range []struct {
		alg            signer.Algorithm
		file, hsm, kms string
	}{
		{signer.RS256, keys + "test-rsa-pkcs8.pem", tk.URI("imported-rsa"), "awskms:" + k.ARN(kmstest.RSAKeyID)},
		{signer.ES256, keys + "test-ec-p256-pkcs8.pem", tk.URI("imported-p256"), "awskms:" + k.ARN(kmstest.ECKeyID)},
		{signer.EdDSA, keys + "test-ed25519-pkcs8.pem", tk.URI("gen-ed25519"), ""}, // KMS has no Ed25519 for JOSE
	} {
		for _, where := range []struct{ name, uri string }{{"memory", kind.file}, {"softhsm2", kind.hsm}, {"local-kms", kind.kms}} {
			if where.uri == "" {
				continue
			}
			b.Run(string(kind.alg)+"/"+where.name, func(b *testing.B) {
				key, err := signer.LoadKeyFile(where.uri)
				if err != nil {
					b.Fatal(err)
				}
				s, err := signer.New(key, signer.Options{Algorithm: kind.alg, KeyID: "k"})
				if err != nil {
					b.Fatal(err)
				}
				payload := []byte(`{"amount":"2.00","currency":"EUR"}`)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Sign(payload); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
