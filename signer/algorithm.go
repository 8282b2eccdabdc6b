package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
)

// Algorithm is a JWS signature algorithm ("alg") that finauth can sign and verify.
type Algorithm string

// The algorithms finauth signs with. HMAC algorithms and "none" are deliberately absent:
// every provider we talk to uses asymmetric keys, and a verifier that accepts HMAC next to
// public keys invites algorithm-confusion attacks.
const (
	RS256 Algorithm = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256 (Pismo, Mia-Platform)
	PS256 Algorithm = "PS256" // RSASSA-PSS with SHA-256, salt length 32 (Revolut)
	ES256 Algorithm = "ES256" // ECDSA P-256 with SHA-256 (Soldo default)
	ES384 Algorithm = "ES384" // ECDSA P-384 with SHA-384
	ES512 Algorithm = "ES512" // ECDSA P-521 with SHA-512
	EdDSA Algorithm = "EdDSA" // Ed25519
)

// MinRSABits is the smallest RSA modulus finauth signs or verifies with.
const MinRSABits = 2048

// maxRSABits bounds the work an outside key can make us do.
const maxRSABits = 16384

// Algorithms lists every algorithm finauth supports, in a stable order.
func Algorithms() []Algorithm { return []Algorithm{RS256, PS256, ES256, ES384, ES512, EdDSA} }

// ParseAlgorithm returns the Algorithm named s, or an error naming the supported ones.
func ParseAlgorithm(s string) (Algorithm, error) {
	for _, a := range Algorithms() {
		if string(a) == s {
			return a, nil
		}
	}
	return "", &UnsupportedAlgorithmError{Algorithm: s}
}

// hash is the digest the algorithm signs; 0 for EdDSA, which signs the message itself.
func (a Algorithm) hash() crypto.Hash {
	switch a {
	case RS256, PS256, ES256:
		return crypto.SHA256
	case ES384:
		return crypto.SHA384
	case ES512:
		return crypto.SHA512
	}
	return 0
}

// signerOpts are the crypto.SignerOpts handed to crypto.Signer.Sign.
func (a Algorithm) signerOpts() crypto.SignerOpts {
	if a == PS256 {
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	return a.hash()
}

// curve is the curve an ES algorithm needs, nil for the others.
func (a Algorithm) curve() elliptic.Curve {
	switch a {
	case ES256:
		return elliptic.P256()
	case ES384:
		return elliptic.P384()
	case ES512:
		return elliptic.P521()
	}
	return nil
}

// CheckKey reports whether pub can sign or verify with a, with an error naming both when not.
func (a Algorithm) CheckKey(pub crypto.PublicKey) error {
	mismatch := func(reason string) error {
		return &KeyAlgorithmError{Algorithm: a, Key: describeKey(pub), Reason: reason}
	}
	switch a {
	case RS256, PS256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return mismatch(string(a) + " needs an RSA key")
		}
		if bits := k.N.BitLen(); bits < MinRSABits {
			return mismatch(fmt.Sprintf("RSA keys must have at least %d bits; generate a new one (finauth keygen --alg %s --bits 3072)", MinRSABits, a))
		} else if bits > maxRSABits {
			return mismatch(fmt.Sprintf("RSA keys above %d bits are not supported", maxRSABits))
		}
		return nil
	case ES256, ES384, ES512:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != a.curve() {
			return mismatch(fmt.Sprintf("%s needs an EC %s key", a, a.curve().Params().Name))
		}
		return nil
	case EdDSA:
		if k, ok := pub.(ed25519.PublicKey); !ok || len(k) != ed25519.PublicKeySize {
			return mismatch("EdDSA needs an Ed25519 key")
		}
		return nil
	}
	return &UnsupportedAlgorithmError{Algorithm: string(a)}
}

// DefaultAlgorithm is the algorithm a key signs with when none is configured:
// RSA -> RS256, P-256 -> ES256, P-384 -> ES384, P-521 -> ES512, Ed25519 -> EdDSA.
func DefaultAlgorithm(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return RS256, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ES256, nil
		case elliptic.P384():
			return ES384, nil
		case elliptic.P521():
			return ES512, nil
		}
	case ed25519.PublicKey:
		return EdDSA, nil
	}
	return "", &UnsupportedKeyError{Key: describeKey(pub)}
}

// describeKey names a public key's type and size for messages, e.g. "RSA 2048-bit key",
// "EC P-256 key", "Ed25519 key". It never includes key material.
func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return "empty RSA key"
		}
		return fmt.Sprintf("RSA %d-bit key", k.N.BitLen())
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "empty EC key"
		}
		return "EC " + k.Curve.Params().Name + " key"
	case ed25519.PublicKey:
		return "Ed25519 key"
	case nil:
		return "no key"
	}
	return fmt.Sprintf("%T key", pub)
}
