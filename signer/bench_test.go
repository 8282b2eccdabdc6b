package signer_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/finauth/finauth/signer"
)

// pismoClaims is the shape of a real Pismo JWT, so SignJWT pays for realistic JSON.
type pismoClaims struct {
	Iss      string            `json:"iss"`
	Sub      string            `json:"sub"`
	Aud      string            `json:"aud"`
	Iat      int64             `json:"iat"`
	Exp      int64             `json:"exp"`
	TenantID string            `json:"tenant_id"`
	UID      string            `json:"uid"`
	Pismo    map[string]string `json:"pismo"`
}

var benchClaims = pismoClaims{
	Iss: "finauth@tenant.example", Sub: "finauth@tenant.example", Aud: "https://sandbox.pismolabs.io",
	Iat: 1_700_000_000, Exp: 1_700_003_600, TenantID: "test-pbrj4", UID: "12345678910",
	Pismo: map[string]string{"group": "pismo-v2:bankaccounts:rw"},
}

// rawSign is the floor: the standard library's signature over input, hash included, with
// no JOSE around it.
func rawSign(alg signer.Algorithm, key crypto.Signer, input []byte) ([]byte, error) {
	if alg == signer.EdDSA {
		return ed25519.Sign(key.(ed25519.PrivateKey), input), nil
	}
	sum := sha256.Sum256(input)
	switch alg {
	case signer.RS256:
		return rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:])
	case signer.PS256:
		return rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
	return ecdsa.SignASN1(rand.Reader, key.(*ecdsa.PrivateKey), sum[:])
}

func BenchmarkSignJWT(b *testing.B) {
	for _, c := range []struct {
		alg  signer.Algorithm
		file string
	}{
		{signer.RS256, "test-rsa-pkcs8.pem"},
		{signer.PS256, "test-rsa-pkcs8.pem"},
		{signer.ES256, "test-ec-p256-pkcs8.pem"},
		{signer.EdDSA, "test-ed25519-pkcs8.pem"},
	} {
		k := mustKeyFile(b, c.file)
		s := mustSigner(b, k, signer.Options{Algorithm: c.alg, KeyID: "k1", Type: "JWT"})
		tok, err := s.SignJWT(benchClaims)
		if err != nil {
			b.Fatal(err)
		}
		input := []byte(tok[:bytes.LastIndexByte([]byte(tok), '.')])
		b.Run(string(c.alg)+"/finauth", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.SignJWT(benchClaims); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(c.alg)+"/floor", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rawSign(c.alg, k.Signer(), input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSignDetached(b *testing.B) {
	h := signer.Header{
		{Name: "exp", Value: "1700000050000"}, {Name: "mid", Value: "m:abc"}, {Name: "method", Value: "POST"},
		{Name: "host", Value: "api.soldo.example"}, {Name: "path", Value: "/banks/b1/consents"},
	}
	for _, c := range []struct {
		alg  signer.Algorithm
		file string
	}{
		{signer.ES256, "test-ec-p256-pkcs8.pem"},
		{signer.RS256, "test-rsa-pkcs8.pem"},
	} {
		k := mustKeyFile(b, c.file)
		s := mustSigner(b, k, signer.Options{KeyID: "k1", Type: "jwt"})
		for _, size := range []int{1 << 10, 1 << 20} {
			payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
			name := fmt.Sprintf("%s/%dKiB", c.alg, size>>10)
			tok, err := s.SignDetached(h, payload)
			if err != nil {
				b.Fatal(err)
			}
			headerDot := []byte(tok[:bytes.IndexByte([]byte(tok), '.')+1])
			b.Run(name+"/finauth", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := s.SignDetached(h, payload); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/floor", func(b *testing.B) {
				// The same signing input streamed into SHA-256 (header, then the payload through
				// the standard base64 encoder), and the digest signed: the least any JWS needs.
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					d := sha256.New()
					d.Write(headerDot)
					enc := base64.NewEncoder(base64.RawURLEncoding, d)
					enc.Write(payload)
					enc.Close()
					var sum [32]byte
					var err error
					if c.alg == signer.ES256 {
						_, err = ecdsa.SignASN1(rand.Reader, k.Signer().(*ecdsa.PrivateKey), d.Sum(sum[:0]))
					} else {
						_, err = rsa.SignPKCS1v15(rand.Reader, k.Signer().(*rsa.PrivateKey), crypto.SHA256, d.Sum(sum[:0]))
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/gojose", func(b *testing.B) {
				// For reference only: go-jose base64-copies the payload before hashing it.
				js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(c.alg), Key: k.Signer()}, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					obj, err := js.Sign(payload)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := obj.DetachedCompactSerialize(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
