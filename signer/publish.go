package signer

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrPublish is wrapped by every reason PublishKeySet refuses a set of keys.
var ErrPublish = errors.New("finauth: signer: cannot publish the key set")

// PublishError lists every problem of a key set given to PublishKeySet, one line per key.
type PublishError struct {
	Problems []string
}

// Error names each problem and what to do about it.
func (e *PublishError) Error() string {
	return ErrPublish.Error() + ": " + strings.Join(e.Problems, "; ")
}

// Unwrap returns ErrPublish.
func (e *PublishError) Unwrap() error { return ErrPublish }

// PublishKeySet checks keys for publication as a JWKS that verifiers fetch (Open Banking's,
// Revolut's) and returns them as a KeySet: every key has its own kid (two keys with one kid
// make a verifier pick either), and a key published with its certificate chain
// (WithCertificates: x5c, and x5t#S256 of the first certificate) holds a certificate that is
// valid at now (an expired or not yet valid one makes the verifier refuse every signature
// made with the key). WithCertificates has already checked that the certificate is the
// key's. The keys keep their order: the first is the one signing now, by convention.
func PublishKeySet(now time.Time, keys ...*PublicKey) (*KeySet, error) {
	var problems []string
	if len(keys) == 0 {
		problems = append(problems, "no key given: a JWKS holds at least the key you sign with")
	}
	seen := map[string]int{}
	for i, k := range keys {
		if k == nil {
			problems = append(problems, fmt.Sprintf("key %d is nil", i+1))
			continue
		}
		kid := k.KeyID()
		if j, dup := seen[kid]; dup {
			problems = append(problems, fmt.Sprintf("keys %d and %d have the same kid %q: give each key its own", j+1, i+1, kid))
		} else {
			seen[kid] = i
		}
		for n, c := range k.certs {
			which := "the certificate"
			if n > 0 {
				which = fmt.Sprintf("certificate %d of the chain", n+1)
			}
			switch {
			case now.After(c.NotAfter):
				problems = append(problems, fmt.Sprintf("kid %q: %s (%s) expired on %s: publish a renewed certificate", kid, which, c.Subject, c.NotAfter.UTC().Format(time.RFC3339)))
			case now.Before(c.NotBefore):
				problems = append(problems, fmt.Sprintf("kid %q: %s (%s) is not valid before %s", kid, which, c.Subject, c.NotBefore.UTC().Format(time.RFC3339)))
			}
		}
	}
	if problems != nil {
		return nil, &PublishError{Problems: problems}
	}
	return NewKeySet(keys...), nil
}
