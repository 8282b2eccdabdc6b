package httpsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// Algorithm is an HTTP signature algorithm of RFC 9421 section 3.3 (its registry name).
type Algorithm string

// The algorithms of RFC 9421 section 3.3 that asymmetric keys sign with (HMAC, which needs a
// shared secret, is not offered: finauth's keys are asymmetric).
const (
	RSAPSSSHA512    Algorithm = "rsa-pss-sha512"    // RSASSA-PSS, SHA-512, salt 64 bytes
	RSAv15SHA256    Algorithm = "rsa-v1_5-sha256"   // RSASSA-PKCS1-v1_5, SHA-256
	ECDSAP256SHA256 Algorithm = "ecdsa-p256-sha256" // ECDSA P-256, SHA-256, r||s
	ECDSAP384SHA384 Algorithm = "ecdsa-p384-sha384" // ECDSA P-384, SHA-384, r||s
	Ed25519         Algorithm = "ed25519"           // EdDSA over the signature base itself
)

// Algorithms are the algorithms this package signs and verifies.
func Algorithms() []Algorithm {
	return []Algorithm{RSAPSSSHA512, RSAv15SHA256, ECDSAP256SHA256, ECDSAP384SHA384, Ed25519}
}

// ErrAlgorithm is wrapped by the error of an algorithm that does not fit the key, or that
// this package does not know.
var ErrAlgorithm = errors.New("finauth: httpsig: the algorithm does not fit the key")

// DefaultAlgorithm is the algorithm a key signs with when none is given: RSA
// rsa-pss-sha512, EC P-256 ecdsa-p256-sha256, P-384 ecdsa-p384-sha384, Ed25519 ed25519.
func DefaultAlgorithm(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return RSAPSSSHA512, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256SHA256, nil
		case elliptic.P384():
			return ECDSAP384SHA384, nil
		}
		return "", fmt.Errorf("%w: RFC 9421 defines ECDSA on P-256 and P-384 only, not %s", ErrAlgorithm, k.Curve.Params().Name)
	case ed25519.PublicKey:
		return Ed25519, nil
	}
	return "", fmt.Errorf("%w: a %T key", ErrAlgorithm, pub)
}

// checkKey says whether alg can sign with (or verify for) pub.
func (alg Algorithm) checkKey(pub crypto.PublicKey) error {
	switch alg {
	case RSAPSSSHA512, RSAv15SHA256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%w: %s needs an RSA key, not %T", ErrAlgorithm, alg, pub)
		}
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("%w: %s with an RSA key of %d bits: 2048 at least", ErrAlgorithm, alg, k.N.BitLen())
		}
	case ECDSAP256SHA256, ECDSAP384SHA384:
		k, ok := pub.(*ecdsa.PublicKey)
		want := elliptic.P256()
		if alg == ECDSAP384SHA384 {
			want = elliptic.P384()
		}
		if !ok || k.Curve != want {
			return fmt.Errorf("%w: %s needs an EC %s key", ErrAlgorithm, alg, want.Params().Name)
		}
	case Ed25519:
		if _, ok := pub.(ed25519.PublicKey); !ok {
			return fmt.Errorf("%w: ed25519 needs an Ed25519 key, not %T", ErrAlgorithm, pub)
		}
	default:
		return fmt.Errorf("%w: %q is not an algorithm of RFC 9421 this package knows (%v)", ErrAlgorithm, string(alg), Algorithms())
	}
	return nil
}

// digest hashes base for alg (nil for Ed25519, which signs base itself).
func (alg Algorithm) digest(base []byte) ([]byte, crypto.SignerOpts) {
	switch alg {
	case RSAPSSSHA512:
		h := sha512.Sum512(base)
		return h[:], &rsa.PSSOptions{SaltLength: 64, Hash: crypto.SHA512}
	case RSAv15SHA256, ECDSAP256SHA256:
		h := sha256.Sum256(base)
		return h[:], crypto.SHA256
	case ECDSAP384SHA384:
		h := sha512.Sum384(base)
		return h[:], crypto.SHA384
	}
	return nil, crypto.Hash(0)
}

// sign signs base with s (a key in memory, an HSM or a KMS) for alg.
func (alg Algorithm) sign(s crypto.Signer, base []byte) ([]byte, error) {
	d, opts := alg.digest(base)
	if alg == Ed25519 {
		d = base
	}
	sig, err := s.Sign(rand.Reader, d, opts)
	if err != nil {
		return nil, err
	}
	switch alg {
	case ECDSAP256SHA256:
		return derToRaw(sig, 32)
	case ECDSAP384SHA384:
		return derToRaw(sig, 48)
	}
	return sig, nil
}

// verify checks sig over base with pub for alg.
func (alg Algorithm) verify(pub crypto.PublicKey, base, sig []byte) bool {
	d, _ := alg.digest(base)
	switch alg {
	case RSAPSSSHA512:
		return rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA512, d, sig, &rsa.PSSOptions{SaltLength: 64, Hash: crypto.SHA512}) == nil
	case RSAv15SHA256:
		return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, d, sig) == nil
	case ECDSAP256SHA256, ECDSAP384SHA384:
		n := 32
		if alg == ECDSAP384SHA384 {
			n = 48
		}
		if len(sig) != 2*n {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		return ecdsa.Verify(pub.(*ecdsa.PublicKey), d, r, s)
	case Ed25519:
		return ed25519.Verify(pub.(ed25519.PublicKey), base, sig)
	}
	return false
}

// derToRaw turns an ASN.1 ECDSA signature into r||s of n bytes each (RFC 9421 section
// 3.3.4).
func derToRaw(der []byte, n int) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil || len(rest) != 0 || rs.R == nil || rs.S == nil || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 ||
		rs.R.BitLen() > 8*n || rs.S.BitLen() > 8*n {
		return nil, errors.New("finauth: httpsig: the key's ECDSA signature is not DER (r, s)")
	}
	out := make([]byte, 2*n)
	rs.R.FillBytes(out[:n])
	rs.S.FillBytes(out[n:])
	return out, nil
}
