package signer

import (
	"errors"
	"strings"
)

// Sentinel errors callers branch on with errors.Is. The typed errors below wrap them.
var (
	// ErrPassphraseRequired: the key is encrypted and no passphrase was given.
	ErrPassphraseRequired = errors.New("finauth: signer: the private key is passphrase-protected; pass the passphrase with signer.WithPassphrase")
	// ErrWrongPassphrase: the key is encrypted and the passphrase given does not decrypt it.
	ErrWrongPassphrase = errors.New("finauth: signer: the passphrase is wrong: it does not decrypt the private key")
	// ErrKeyAlgorithmMismatch: the key cannot be used with the algorithm.
	ErrKeyAlgorithmMismatch = errors.New("finauth: signer: key does not fit the algorithm")
	// ErrUnsupportedKey: the key type is not one finauth signs with.
	ErrUnsupportedKey = errors.New("finauth: signer: unsupported key type")
	// ErrUnsupportedAlgorithm: the algorithm is not one finauth supports.
	ErrUnsupportedAlgorithm = errors.New("finauth: signer: unsupported algorithm")
	// ErrInvalidKeyData: the bytes could not be read as a key.
	ErrInvalidKeyData = errors.New("finauth: signer: invalid key data")
	// ErrInvalidHeader: a protected-header field list cannot be signed as given.
	ErrInvalidHeader = errors.New("finauth: signer: invalid protected header")
)

// KeyAlgorithmError says that a key does not fit an algorithm, naming both.
type KeyAlgorithmError struct {
	Algorithm Algorithm
	Key       string // DescribeKey of the key, e.g. "RSA 1024-bit key"
	Reason    string
}

// Error describes the problem and what to do about it.
func (e *KeyAlgorithmError) Error() string {
	return "finauth: signer: " + article(e.Key) + " " + e.Key + " cannot be used with " + string(e.Algorithm) + ": " + e.Reason
}

// article is the indefinite article of a key description, as it is read out: an RSA key,
// an EC key, an Ed25519 key, a Go type's key.
func article(key string) string {
	if strings.HasPrefix(key, "RSA") || strings.ContainsAny(key[:min(1, len(key))], "AEIOUaeiou") {
		return "an"
	}
	return "a"
}

// Unwrap returns ErrKeyAlgorithmMismatch.
func (e *KeyAlgorithmError) Unwrap() error { return ErrKeyAlgorithmMismatch }

// UnsupportedKeyError says that a key's type is not one finauth can sign or verify with.
type UnsupportedKeyError struct{ Key string }

// Error describes the problem and what to do about it.
func (e *UnsupportedKeyError) Error() string {
	return "finauth: signer: unsupported key: " + e.Key + "; use RSA (2048 bits or more), EC P-256/P-384/P-521 or Ed25519"
}

// Unwrap returns ErrUnsupportedKey.
func (e *UnsupportedKeyError) Unwrap() error { return ErrUnsupportedKey }

// UnsupportedAlgorithmError says that an algorithm name is not one finauth supports.
type UnsupportedAlgorithmError struct{ Algorithm string }

// Error describes the problem and what to do about it.
func (e *UnsupportedAlgorithmError) Error() string {
	names := make([]string, 0, 6)
	for _, a := range Algorithms() {
		names = append(names, string(a))
	}
	return "finauth: signer: unsupported algorithm " + quote(e.Algorithm) + "; use one of " + strings.Join(names, ", ")
}

// Unwrap returns ErrUnsupportedAlgorithm.
func (e *UnsupportedAlgorithmError) Unwrap() error { return ErrUnsupportedAlgorithm }

// KeyDataError says why bytes could not be read as a key and what to do about it.
// It never holds key material.
type KeyDataError struct {
	Source string // a file name, or "" for bytes given directly
	Reason string
	Err    error // the underlying cause, if any (never key material)
}

// Error describes the problem and what to do about it.
func (e *KeyDataError) Error() string {
	var b strings.Builder
	b.WriteString("finauth: signer: ")
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns ErrInvalidKeyData and the cause, if any.
func (e *KeyDataError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidKeyData}
	}
	return []error{ErrInvalidKeyData, e.Err}
}

// quote shows an outside string in a message, shortened so that a pasted secret cannot
// ride along in full.
func quote(s string) string {
	const max = 32
	if len(s) > max {
		s = s[:max] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
