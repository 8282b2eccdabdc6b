package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
)

// GenerateKey makes a new private key for alg: RSA for RS256/PS256 (2048 bits, or the
// size GenerateRSAKey takes), EC P-256/P-384/P-521 for ES256/ES384/ES512, Ed25519 for EdDSA.
// Write it with Key.MarshalPKCS8PEM and its public half with PublicKey.MarshalPEM.
func GenerateKey(alg Algorithm) (*Key, error) {
	if alg == RS256 || alg == PS256 {
		return GenerateRSAKey(alg, MinRSABits)
	}
	var s crypto.Signer
	var err error
	switch alg {
	case ES256, ES384, ES512:
		s, err = ecdsa.GenerateKey(alg.curve(), rand.Reader)
	case EdDSA:
		_, s, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, &UnsupportedAlgorithmError{Algorithm: string(alg)}
	}
	if err != nil {
		return nil, fmt.Errorf("finauth: signer: generate %s key: %w", alg, err)
	}
	return &Key{signer: s, alg: algIfSet(alg, mustDefault(s))}, nil
}

// GenerateRSAKey makes a new RSA key of 2048, 3072 or 4096 bits for RS256 or PS256.
func GenerateRSAKey(alg Algorithm, bits int) (*Key, error) {
	if alg != RS256 && alg != PS256 {
		return nil, &KeyAlgorithmError{Algorithm: alg, Key: fmt.Sprintf("RSA %d-bit key", bits), Reason: "RSA keys sign RS256 or PS256"}
	}
	switch bits {
	case 2048, 3072, 4096:
	default:
		return nil, &KeyAlgorithmError{Algorithm: alg, Key: fmt.Sprintf("RSA %d-bit key", bits), Reason: "choose 2048, 3072 or 4096 bits (3072 or more for keys used beyond 2030)"}
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("finauth: signer: generate RSA key: %w", err)
	}
	return &Key{signer: k, alg: algIfSet(alg, RS256)}, nil
}

func mustDefault(s crypto.Signer) Algorithm {
	a, _ := DefaultAlgorithm(s.Public())
	return a
}
