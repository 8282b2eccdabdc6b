// Package jwks publishes an application's public signing keys as a JWKS (RFC 7517): the
// document verifiers such as Revolut and the Open Banking directory fetch from the
// application's JWKS URL to check its signatures. It knows no provider.
//
// [Load] builds the document from key files (certificate chains, which give x5c and
// x5t#S256, or public keys), refusing what a verifier would refuse (two keys under one kid,
// an expired certificate, a certificate that is not its key's). [Handler] serves it with
// Cache-Control, ETag and If-None-Match, and reloads it when the files change, so that
// publishing the next key of a rotation needs no restart.
//
// Rotating a signing key without downtime (see docs/revolut.md, "Rotating your signing key"):
//  1. publish the next key beside the current one (a second Key; the Handler reloads);
//  2. sign with the next key only once the JWKS holding it has been visible for longer than
//     verifiers cache it (a signer.Ring switches by itself at that time; DefaultCacheTime);
//  3. remove the old key after the same period again.
package jwks

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/finauth/finauth/signer"
)

// DefaultCacheTime is how long verifiers are assumed to cache a JWKS they fetched: the
// least time between publishing a key and signing with it, and between signing with a new
// key and withdrawing the old one (signer.DefaultCacheTime, 24 hours).
const DefaultCacheTime = signer.DefaultCacheTime

// Key is one key to publish: its kid and the file that holds it, a PEM certificate chain
// (the key's own certificate first: the JWK gets x5c and x5t#S256) or a public or private
// key in any format signer reads (only the public half is published).
type Key struct {
	KID  string
	File string
	// Algorithm stated in the JWK; default from the key, PS256 for an RSA key given with a
	// certificate (Open Banking signs PS256).
	Algorithm signer.Algorithm
}

// ParseKey reads "KID=FILE", the form of the CLI's --key.
func ParseKey(spec string) (Key, error) {
	kid, file, ok := strings.Cut(spec, "=")
	if !ok || strings.TrimSpace(kid) == "" || strings.TrimSpace(file) == "" {
		return Key{}, fmt.Errorf("%w: %q: give KID=FILE, e.g. sig-1=signing.pem", ErrKey, spec)
	}
	return Key{KID: kid, File: file}, nil
}

// ErrKey is wrapped by the errors of a key that cannot be read or published.
var ErrKey = errors.New("finauth: jwks: cannot publish the key")

// Load reads every key and returns the set to publish (signer.PublishKeySet: one kid per
// key, certificates valid at now). The keys keep their order.
func Load(now time.Time, keys ...Key) (*signer.KeySet, error) {
	set, _, err := load(now, keys)
	return set, err
}

// expiry is the first certificate of a published set to expire, and its kid.
type expiry struct {
	at  time.Time // zero: no certificate
	kid string
}

// load is Load, also saying which certificate expires first.
func load(now time.Time, keys []Key) (*signer.KeySet, expiry, error) {
	var pubs []*signer.PublicKey
	var first expiry
	for _, k := range keys {
		pub, notAfter, err := loadKey(k)
		if err != nil {
			return nil, expiry{}, err
		}
		if !notAfter.IsZero() && (first.at.IsZero() || notAfter.Before(first.at)) {
			first = expiry{notAfter, k.KID}
		}
		pubs = append(pubs, pub)
	}
	set, err := signer.PublishKeySet(now, pubs...)
	return set, first, err
}

// loadKey reads one key, and when its certificate chain expires (zero for a bare key).
func loadKey(k Key) (pub *signer.PublicKey, notAfter time.Time, err error) {
	if k.KID == "" || k.File == "" {
		return nil, time.Time{}, fmt.Errorf("%w: every key needs its kid and its file", ErrKey)
	}
	data, err := os.ReadFile(k.File)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: kid %q: %w", ErrKey, k.KID, errors.Unwrap(err))
	}
	chain, err := Certificates(data)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: kid %q, %s: %w", ErrKey, k.KID, k.File, err)
	}
	opts := []signer.LoadOption{signer.WithKeyID(k.KID)}
	alg := k.Algorithm
	if alg == "" && len(chain) > 0 {
		if _, isRSA := chain[0].PublicKey.(*rsa.PublicKey); isRSA {
			alg = signer.PS256 // Open Banking signs PS256
		}
	}
	if alg != "" {
		opts = append(opts, signer.WithAlgorithm(alg))
	}
	if len(chain) == 0 {
		set, err := signer.ParsePublicKeys(data, opts...)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: kid %q, %s: %w", ErrKey, k.KID, k.File, err)
		}
		if set.Len() != 1 {
			return nil, time.Time{}, fmt.Errorf("%w: kid %q, %s holds %d keys: give one key per kid", ErrKey, k.KID, k.File, set.Len())
		}
		return set.Keys()[0], time.Time{}, nil
	}
	// A chain: the key is its first certificate's (the leaf's), each certificate issued by
	// the next (x5c's order), and a key the file holds besides must be the leaf's own.
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: kid %q, %s: certificate %d is not issued by certificate %d: give the leaf first, then each issuer (%v)", ErrKey, k.KID, k.File, i+1, i+2, err)
		}
	}
	pub, err = signer.NewPublicKey(chain[0].PublicKey, opts...)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: kid %q, %s: %w", ErrKey, k.KID, k.File, err)
	}
	if rest := withoutCertificates(data); len(bytes.TrimSpace(rest)) > 0 {
		set, err := signer.ParsePublicKeys(rest)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: kid %q, %s: %w", ErrKey, k.KID, k.File, err)
		}
		for _, other := range set.Keys() {
			if other.Thumbprint() != pub.Thumbprint() {
				return nil, time.Time{}, fmt.Errorf("%w: kid %q, %s: %w", ErrKey, k.KID, k.File, signer.ErrCertificateMismatch)
			}
		}
	}
	if pub, err = pub.WithCertificates(chain); err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: kid %q, %s: %w", ErrKey, k.KID, k.File, err)
	}
	notAfter = chain[0].NotAfter
	for _, c := range chain[1:] {
		if c.NotAfter.Before(notAfter) {
			notAfter = c.NotAfter
		}
	}
	return pub, notAfter, nil
}

// withoutCertificates is data with its PEM certificates taken out (what else the file
// holds: a key).
func withoutCertificates(data []byte) []byte {
	var out []byte
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return out
		}
		if block.Type != "CERTIFICATE" {
			out = append(out, pem.EncodeToMemory(block)...)
		}
		data = rest
	}
}

// Certificates returns the PEM certificates in data, in order (none for a bare key).
func Certificates(data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, nil
	}
	var chain []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return chain, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(chain)+1, err)
		}
		chain = append(chain, c)
	}
}
