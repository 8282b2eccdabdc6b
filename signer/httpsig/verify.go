package httpsig

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/finauth/finauth/signer"
)

// Verifier checks the HTTP message signatures of RFC 9421, for servers, mocks and tests.
type Verifier struct {
	// Key returns the public key of a keyid (and the algorithm it is for, "" for any the
	// key fits). Required.
	Key func(keyID string) (crypto.PublicKey, Algorithm, error)
	// Algorithms allowed; default all of Algorithms().
	Algorithms []Algorithm
	// Label, when set, is the signature checked; otherwise the first whose tag is Tag (or
	// the first at all).
	Label string
	// Required components must be covered (for example "@method", "@target-uri",
	// "authorization").
	Required []string
	// Tag, when set, must be the signature's tag parameter.
	Tag string
	// MaxAge, when set, bounds how old created may be (and created is then required); a
	// signature past its expires is refused whatever this says.
	MaxAge time.Duration
	// Skew is how far in the future created may be; default 5 s.
	Skew time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verified is what a valid signature said.
type Verified struct {
	Label, KeyID, Tag, Nonce string
	Algorithm                Algorithm
	Created, Expires         time.Time
	Covered                  []string
}

// VerifyError is a refused signature: Reason is one of a fixed set (no_signature,
// malformed, missing_component, unknown_key, algorithm, bad_signature, expired, too_old,
// tag), for counting and for a mock's answer; the message says what and how.
type VerifyError struct {
	Reason string
	Err    error
}

func (e *VerifyError) Error() string { return "finauth: httpsig: " + e.Reason + ": " + e.Err.Error() }

func (e *VerifyError) Unwrap() error { return e.Err }

func refuse(reason, format string, args ...any) error {
	return &VerifyError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// KeySet is a Verifier.Key over a signer.KeySet: a key by its kid, for any algorithm it fits.
func KeySet(ks *signer.KeySet) func(string) (crypto.PublicKey, Algorithm, error) {
	return func(kid string) (crypto.PublicKey, Algorithm, error) {
		for _, k := range ks.Keys() {
			if k.KeyID() == kid {
				return k.Key(), "", nil
			}
		}
		return nil, "", fmt.Errorf("no key has keyid %q", kid)
	}
}

// Verify checks m's signature: it parses Signature-Input and Signature, rebuilds the
// signature base from m, and verifies it with the key of its keyid.
func (v *Verifier) Verify(m Message) (*Verified, error) {
	inputs, signatures := m.Header.Values("Signature-Input"), m.Header.Values("Signature")
	if len(inputs) == 0 || len(signatures) == 0 {
		return nil, refuse("no_signature", "the message has no Signature-Input and Signature")
	}
	inKeys, in, err := parseDictionary(joinFields(inputs))
	if err != nil {
		return nil, refuse("malformed", "Signature-Input: %v", err)
	}
	_, sigs, err := parseDictionary(joinFields(signatures))
	if err != nil {
		return nil, refuse("malformed", "Signature: %v", err)
	}
	label := v.Label
	if label == "" {
		for _, k := range inKeys {
			if in[k].isList && (v.Tag == "" || paramString(in[k].params, "tag") == v.Tag) {
				label = k
				break
			}
		}
		if label == "" {
			return nil, refuse("tag", "no signature has tag %q", v.Tag)
		}
	}
	input, ok := in[label]
	if !ok || !input.isList {
		return nil, refuse("no_signature", "Signature-Input has no signature %q", label)
	}
	sig, ok := sigs[label]
	if !ok || sig.isList || sig.bytes == nil {
		return nil, refuse("no_signature", "Signature has no signature %q (a byte sequence)", label)
	}
	got := &Verified{Label: label}
	for _, c := range input.list {
		got.Covered = append(got.Covered, c.value)
	}
	for _, r := range v.Required {
		if !slices.Contains(got.Covered, r) {
			return nil, refuse("missing_component", "%s is not covered (covered: %v)", serializeString(r), got.Covered)
		}
	}
	for _, p := range input.params {
		switch p.name {
		case "created", "expires":
			n, ok := p.value.(int64)
			if !ok {
				return nil, refuse("malformed", "%s is not an integer", p.name)
			}
			if p.name == "created" {
				got.Created = time.Unix(n, 0)
			} else {
				got.Expires = time.Unix(n, 0)
			}
		case "keyid", "alg", "nonce", "tag":
			s, ok := p.value.(string)
			if !ok {
				return nil, refuse("malformed", "%s is not a string", p.name)
			}
			switch p.name {
			case "keyid":
				got.KeyID = s
			case "alg":
				got.Algorithm = Algorithm(s)
			case "nonce":
				got.Nonce = s
			case "tag":
				got.Tag = s
			}
		}
	}
	if v.Tag != "" && got.Tag != v.Tag {
		return nil, refuse("tag", "the tag is %q, not %q", got.Tag, v.Tag)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now()
	skew := v.Skew
	if skew == 0 {
		skew = 5 * time.Second
	}
	switch {
	case !got.Expires.IsZero() && !t.Before(got.Expires):
		return nil, refuse("expired", "the signature expired at %s", got.Expires.UTC().Format(time.RFC3339))
	case v.MaxAge > 0 && got.Created.IsZero():
		return nil, refuse("malformed", "the signature has no created parameter")
	case v.MaxAge > 0 && t.Sub(got.Created) > v.MaxAge:
		return nil, refuse("too_old", "created %s, more than %v ago", got.Created.UTC().Format(time.RFC3339), v.MaxAge)
	case !got.Created.IsZero() && got.Created.Sub(t) > skew:
		return nil, refuse("too_old", "created %s is in the future", got.Created.UTC().Format(time.RFC3339))
	}
	if v.Key == nil {
		return nil, errors.New("finauth: httpsig: Verifier.Key is required")
	}
	pub, keyAlg, err := v.Key(got.KeyID)
	if err != nil || pub == nil {
		return nil, refuse("unknown_key", "keyid %q: %v", got.KeyID, err)
	}
	alg := got.Algorithm
	switch {
	case alg == "" && keyAlg != "":
		alg = keyAlg
	case alg == "":
		if alg, err = DefaultAlgorithm(pub); err != nil {
			return nil, refuse("algorithm", "%v", err)
		}
	case keyAlg != "" && alg != keyAlg:
		return nil, refuse("algorithm", "the signature says %s, the key is for %s", alg, keyAlg)
	}
	allowed := v.Algorithms
	if allowed == nil {
		allowed = Algorithms()
	}
	if !slices.Contains(allowed, alg) {
		return nil, refuse("algorithm", "%s is not allowed (%v)", alg, allowed)
	}
	if err := alg.checkKey(pub); err != nil {
		return nil, refuse("algorithm", "%v", err)
	}
	got.Algorithm = alg
	base, _, err := m.signatureBase(input.list, input.params)
	if err != nil {
		return nil, refuse("missing_component", "%v", err)
	}
	if !alg.verify(pub, base, sig.bytes) {
		return nil, refuse("bad_signature", "the signature does not verify with keyid %q (%s) over the components as received", got.KeyID, alg)
	}
	return got, nil
}

// joinFields joins the lines of a field as one value.
func joinFields(lines []string) string {
	out := ""
	for i, l := range lines {
		if i > 0 {
			out += ", "
		}
		out += l
	}
	return out
}

func paramString(ps []param, name string) string {
	for _, p := range ps {
		if p.name == name {
			s, _ := p.value.(string)
			return s
		}
	}
	return ""
}
