package httpsig

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
)

// DigestAlgorithm is a Content-Digest algorithm of RFC 9530: "sha-256" or "sha-512".
type DigestAlgorithm string

// The Content-Digest algorithms RFC 9530 registers as standard.
const (
	DigestSHA256 DigestAlgorithm = "sha-256"
	DigestSHA512 DigestAlgorithm = "sha-512"
)

func (a DigestAlgorithm) hash() (hash.Hash, error) {
	switch a {
	case "", DigestSHA256:
		return sha256.New(), nil
	case DigestSHA512:
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("finauth: httpsig: Content-Digest algorithm %q: use sha-256 or sha-512", string(a))
}

func (a DigestAlgorithm) name() string {
	if a == "" {
		return string(DigestSHA256)
	}
	return string(a)
}

// of is the Content-Digest value of body ("sha-256=:...:") and its length.
func (a DigestAlgorithm) of(body io.Reader) (string, int64, error) {
	h, err := a.hash()
	if err != nil {
		return "", 0, err
	}
	n, err := io.Copy(h, body)
	if err != nil {
		return "", n, fmt.Errorf("finauth: httpsig: reading the body for Content-Digest: %w", err)
	}
	return a.name() + "=:" + base64.StdEncoding.EncodeToString(h.Sum(nil)) + ":", n, nil
}

// ContentDigest is the Content-Digest field value of body with a ("sha-256" when empty).
func ContentDigest(a DigestAlgorithm, body []byte) (string, error) {
	h, err := a.hash()
	if err != nil {
		return "", err
	}
	h.Write(body)
	return a.name() + "=:" + base64.StdEncoding.EncodeToString(h.Sum(nil)) + ":", nil
}

// ErrDigest is wrapped by the error of a Content-Digest that does not match the body, or
// that has no algorithm this package checks.
var ErrDigest = errors.New("finauth: httpsig: Content-Digest does not match the body")

// VerifyContentDigest checks a Content-Digest field value against body: every sha-256 and
// sha-512 digest in it must match, and there must be one; other algorithms are ignored.
func VerifyContentDigest(field string, body []byte) error {
	keys, members, err := parseDictionary(field)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDigest, err)
	}
	checked := 0
	for _, k := range keys {
		a := DigestAlgorithm(k)
		if a != DigestSHA256 && a != DigestSHA512 {
			continue
		}
		m := members[k]
		if m.isList || m.bytes == nil {
			return fmt.Errorf("%w: %s is not a byte sequence", ErrDigest, k)
		}
		h, _ := a.hash()
		h.Write(body)
		if subtle.ConstantTimeCompare(h.Sum(nil), m.bytes) != 1 {
			return fmt.Errorf("%w: %s differs (the body was changed after it was digested)", ErrDigest, k)
		}
		checked++
	}
	if checked == 0 {
		return fmt.Errorf("%w: no sha-256 or sha-512 digest in it", ErrDigest)
	}
	return nil
}
