package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is a private signing key: a key loaded from a file, a generated one, or any
// crypto.Signer such as a key held in a KMS or an HSM. Its String, GoString and LogValue
// never show key material.
type Key struct {
	signer crypto.Signer
	keyID  string    // from the source (JWK kid, service-account private_key_id) or WithKeyID
	alg    Algorithm // from the source (JWK alg), may be empty
}

// NewKey wraps a crypto.Signer (an in-memory key or one in a KMS/HSM) as a Key.
// Options WithKeyID and WithAlgorithm set its key ID and preferred algorithm.
func NewKey(s crypto.Signer, opts ...LoadOption) (*Key, error) {
	if s == nil {
		return nil, &UnsupportedKeyError{Key: "nil crypto.Signer"}
	}
	o := collect(opts)
	pub := s.Public()
	if _, err := DefaultAlgorithm(pub); err != nil {
		return nil, err
	}
	if o.alg != "" {
		if err := o.alg.CheckKey(pub); err != nil {
			return nil, err
		}
	}
	return &Key{signer: s, keyID: o.keyID, alg: o.alg}, nil
}

// Signer returns the underlying crypto.Signer.
func (k *Key) Signer() crypto.Signer { return k.signer }

// KeyID returns the key ID the key came with (JWK kid, service-account private_key_id,
// or WithKeyID), or "" when it has none.
func (k *Key) KeyID() string { return k.keyID }

// Algorithm returns the algorithm the key came with (a JWK's alg, or WithAlgorithm), else
// the default for its type (see DefaultAlgorithm).
func (k *Key) Algorithm() Algorithm {
	if k.alg != "" {
		return k.alg
	}
	a, _ := DefaultAlgorithm(k.signer.Public())
	return a
}

// Public returns the public half with the same key ID and algorithm.
func (k *Key) Public() *PublicKey {
	return &PublicKey{key: k.signer.Public(), keyID: k.keyID, alg: k.Algorithm(), fixedAlg: k.alg != ""}
}

// String describes the key without key material.
func (k *Key) String() string {
	if k == nil || k.signer == nil {
		return "signer.Key(<nil>)"
	}
	s := "signer.Key(" + describeKey(k.signer.Public())
	if k.keyID != "" {
		s += ", kid " + quote(k.keyID)
	}
	return s + ")"
}

// GoString is String, so %#v does not print key material either.
func (k *Key) GoString() string { return k.String() }

// LogValue is String, so slog does not print key material.
func (k *Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Format keeps every fmt verb (%v, %+v, %#v, %s, %q, %x) on String.
func (k *Key) Format(f fmt.State, verb rune) { fmt.Fprint(f, k.String()) }

// MarshalOption adjusts MarshalPKCS8PEM.
type MarshalOption func(*marshalOptions)

type marshalOptions struct{ iterations int }

// WithPBKDF2Iterations sets the PBKDF2 iteration count of an encrypted key (default
// 600,000, OWASP's 2023 figure for PBKDF2-HMAC-SHA256; at least 1,000 as RFC 8018 asks).
// Fewer iterations make the passphrase cheaper to guess: lower it only for throwaway keys.
func WithPBKDF2Iterations(n int) MarshalOption {
	return func(o *marshalOptions) { o.iterations = n }
}

// MarshalPKCS8PEM writes the private key as a PKCS#8 "PRIVATE KEY" PEM block, or, when a
// passphrase is given, as an "ENCRYPTED PRIVATE KEY" block (PBES2: PBKDF2-HMAC-SHA256,
// AES-256-CBC), the format `openssl genpkey -aes256` writes. A key held in a KMS/HSM
// cannot be exported.
func (k *Key) MarshalPKCS8PEM(passphrase []byte, opts ...MarshalOption) ([]byte, error) {
	o := marshalOptions{iterations: defaultPBKDF2Iterations}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.iterations < minPBKDF2Iterations || o.iterations > maxPBKDF2Iterations {
		return nil, fmt.Errorf("finauth: signer: %d PBKDF2 iterations is outside [%d, %d]", o.iterations, minPBKDF2Iterations, maxPBKDF2Iterations)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, fmt.Errorf("finauth: signer: %s cannot be exported as PKCS#8 (a key in a KMS or HSM stays there): %w", describeKey(k.signer.Public()), err)
	}
	if len(passphrase) == 0 {
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	enc, err := encryptPKCS8(der, passphrase, o.iterations)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: enc}), nil
}

// PublicKey is a public verification key with its key ID and algorithm. Marshalled to JSON it
// is a public JWK (kty, kid, use "sig", alg and the public members, never private ones).
type PublicKey struct {
	key   crypto.PublicKey
	keyID string
	alg   Algorithm
	// fixedAlg is set when the algorithm was stated (a JWK's "alg", WithAlgorithm) rather
	// than derived from the key type; a verifier then refuses any other algorithm.
	fixedAlg bool
	// certs is the certificate chain written as the JWK's x5c (WithCertificates).
	certs []*x509.Certificate
}

// ErrCertificateMismatch is returned by WithCertificates when the first certificate is not
// the key's.
var ErrCertificateMismatch = errors.New("finauth: signer: the certificate is not this key's")

// WithCertificates returns a copy whose JWK carries chain as "x5c" (base64 DER, the key's own
// certificate first), as Open Banking JWKS need. The first certificate must hold this key.
func (p *PublicKey) WithCertificates(chain []*x509.Certificate) (*PublicKey, error) {
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no certificate given", ErrCertificateMismatch)
	}
	leaf, ok := chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !leaf.Equal(p.key) {
		return nil, fmt.Errorf("%w: the first certificate (%s) holds %s, the key is %s", ErrCertificateMismatch,
			chain[0].Subject.String(), describeKey(chain[0].PublicKey), describeKey(p.key))
	}
	c := *p
	c.certs = append([]*x509.Certificate(nil), chain...)
	return &c, nil
}

// NewPublicKey wraps an *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
// Options WithKeyID and WithAlgorithm set its key ID and algorithm.
func NewPublicKey(pub crypto.PublicKey, opts ...LoadOption) (*PublicKey, error) {
	switch k := pub.(type) {
	case ed25519.PrivateKey, *ed25519.PrivateKey, *rsa.PrivateKey, *ecdsa.PrivateKey:
		return nil, &UnsupportedKeyError{Key: "a private key given as a public key (call Public() first)"}
	case *ed25519.PublicKey:
		if k != nil {
			pub = *k
		}
	}
	def, err := DefaultAlgorithm(pub)
	if err != nil {
		return nil, err
	}
	o := collect(opts)
	alg := def
	if o.alg != "" {
		alg = o.alg
	}
	if err := alg.CheckKey(pub); err != nil {
		return nil, err
	}
	return &PublicKey{key: pub, keyID: o.keyID, alg: alg, fixedAlg: o.alg != ""}, nil
}

// Key returns the crypto public key.
func (p *PublicKey) Key() crypto.PublicKey { return p.key }

// KeyID returns the key ID it was given, or its RFC 7638 thumbprint when it has none.
func (p *PublicKey) KeyID() string {
	if p.keyID != "" {
		return p.keyID
	}
	return p.Thumbprint()
}

// Algorithm returns the algorithm the key is used with.
func (p *PublicKey) Algorithm() Algorithm { return p.alg }

// WithKeyID returns a copy with the key ID set.
func (p *PublicKey) WithKeyID(kid string) *PublicKey {
	c := *p
	c.keyID = kid
	return &c
}

// Thumbprint returns the RFC 7638 JWK thumbprint: base64url(SHA-256(canonical JWK)),
// computed by go-jose.
func (p *PublicKey) Thumbprint() string {
	jwk := jose.JSONWebKey{Key: p.key}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

// MarshalJSON writes the public JWK with kty, kid (the thumbprint unless set), use "sig"
// and alg, and with a certificate chain (WithCertificates) x5c and x5t#S256.
func (p *PublicKey) MarshalJSON() ([]byte, error) {
	jwk := jose.JSONWebKey{Key: p.key, KeyID: p.KeyID(), Algorithm: string(p.alg), Use: "sig", Certificates: p.certs}
	if len(p.certs) > 0 {
		sum := sha256.Sum256(p.certs[0].Raw)
		jwk.CertificateThumbprintSHA256 = sum[:] // x5t#S256: what verifiers match a certificate by
	}
	return jwk.MarshalJSON()
}

// MarshalPEM writes the key as a PKIX "PUBLIC KEY" PEM block (what `openssl pkey -pubout`
// writes).
func (p *PublicKey) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(p.key)
	if err != nil {
		return nil, fmt.Errorf("finauth: signer: %s cannot be written as PEM: %w", describeKey(p.key), err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// String describes the key and its ID.
func (p *PublicKey) String() string {
	return "signer.PublicKey(" + describeKey(p.key) + ", " + string(p.alg) + ", kid " + quote(p.KeyID()) + ")"
}

// KeySet is a list of public keys, marshalled to JSON as a JWKS ({"keys":[...]}).
type KeySet struct {
	keys []*PublicKey
}

// NewKeySet returns a set holding keys.
func NewKeySet(keys ...*PublicKey) *KeySet {
	return &KeySet{keys: append([]*PublicKey(nil), keys...)}
}

// Keys returns the keys in the set.
func (s *KeySet) Keys() []*PublicKey { return append([]*PublicKey(nil), s.keys...) }

// Len returns the number of keys.
func (s *KeySet) Len() int { return len(s.keys) }

// MarshalJSON writes the JWKS.
func (s *KeySet) MarshalJSON() ([]byte, error) {
	keys := s.keys
	if keys == nil {
		keys = []*PublicKey{}
	}
	return json.Marshal(struct {
		Keys []*PublicKey `json:"keys"`
	}{keys})
}

// LoadOption configures key loading and wrapping (LoadKeyFile, ParseKey, NewKey, ...).
type LoadOption func(*loadOptions)

type loadOptions struct {
	passphrase []byte
	keyID      string
	alg        Algorithm
	source     string
}

func collect(opts []LoadOption) loadOptions {
	var o loadOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// WithPassphrase gives the passphrase of an encrypted key (encrypted PKCS#8, legacy
// encrypted PEM, or OpenSSH). It is ignored for keys that are not encrypted.
func WithPassphrase(passphrase []byte) LoadOption {
	return func(o *loadOptions) { o.passphrase = passphrase }
}

// WithKeyID sets the key ID, replacing one the source carries (a JWK's kid, a service
// account's private_key_id).
func WithKeyID(kid string) LoadOption {
	return func(o *loadOptions) { o.keyID = kid }
}

// WithAlgorithm sets the algorithm the key is meant for; loading fails if the key does not
// fit it.
func WithAlgorithm(alg Algorithm) LoadOption {
	return func(o *loadOptions) { o.alg = alg }
}
