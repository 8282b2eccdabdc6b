package httpsig

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/finauth/finauth/signer"
)

// Signer signs HTTP messages (RFC 9421) with a key of the signer package: a file, an HSM
// (pkcs11:) or a KMS (awskms:). Its zero value is not usable: set Key and Covered, or use
// FAPI2Request.
type Signer struct {
	// Key signs. Required.
	Key *signer.Key
	// Algorithm; default from the key (DefaultAlgorithm).
	Algorithm Algorithm
	// KeyID is the keyid parameter; default the key's own ID, none when it has none.
	KeyID string
	// Label names the signature in Signature-Input and Signature; default "sig1".
	Label string
	// Covered are the components every signature covers, in this order; a message without
	// one of them is not signed (ErrComponent). A component with parameters is written as
	// in Signature-Input, unquoted: @query-param;name="Pet".
	Covered []string
	// IfPresent are covered after Covered when the message has them ("content-digest",
	// "dpop").
	IfPresent []string
	// Tag is the tag parameter ("fapi-2-request"); "" for none.
	Tag string
	// IncludeAlg adds the alg parameter.
	IncludeAlg bool
	// Expires adds expires = created + Expires; 0 for none.
	Expires time.Duration
	// Nonce adds a random nonce parameter to every signature.
	Nonce bool
	// Digest is the Content-Digest algorithm SignHeaders adds for a body: DigestSHA256
	// (default) or DigestSHA512.
	Digest DigestAlgorithm
	// Now is the clock of created; default time.Now.
	Now func() time.Time
	// OnSign, when set, is told each signature's algorithm and duration (telemetry).
	OnSign func(alg Algorithm, d time.Duration)
}

// FAPI2Request is FAPI 2.0's message-signing profile for requests: covered "@method"
// "@target-uri" "authorization", then "content-digest" when there is a body and "dpop" when a
// DPoP proof is sent; created, keyid and tag="fapi-2-request". A request without an
// Authorization header is refused: the signing transport must sit below the one that sets it.
func FAPI2Request(key *signer.Key, keyID string) *Signer {
	return &Signer{Key: key, KeyID: keyID, Covered: []string{"@method", "@target-uri", "authorization"},
		IfPresent: []string{"content-digest", "dpop"}, Tag: "fapi-2-request"}
}

// ErrNoAuthorization is wrapped by the error of a request that a profile covering
// "authorization" is asked to sign without one: the transports are in the wrong order.
var ErrNoAuthorization = errors.New("finauth: httpsig: the request has no Authorization header to cover: put the message-signing transport below (closer to the network than) the transport that sets Authorization and DPoP")

// Sign signs m: it returns the Signature-Input and Signature member values, label included
// ("sig1=(...);created=...", "sig1=:...:").
func (s *Signer) Sign(m Message) (input, signature string, err error) {
	if s.Key == nil {
		return "", "", errors.New("finauth: httpsig: Signer.Key is required")
	}
	alg := s.Algorithm
	if alg == "" {
		if alg, err = DefaultAlgorithm(s.Key.Signer().Public()); err != nil {
			return "", "", err
		}
	}
	if err := alg.checkKey(s.Key.Signer().Public()); err != nil {
		return "", "", err
	}
	covered := make([]item, 0, len(s.Covered)+len(s.IfPresent))
	for _, c := range s.Covered {
		if c == "authorization" && m.Header.Get("Authorization") == "" && m.Method != "" {
			return "", "", ErrNoAuthorization
		}
		it, err := parseComponent(c)
		if err != nil {
			return "", "", err
		}
		covered = append(covered, it)
	}
	for _, c := range s.IfPresent {
		it, err := parseComponent(c)
		if err != nil {
			return "", "", err
		}
		if _, err := m.componentValue(it); err == nil {
			covered = append(covered, it)
		}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	created := now()
	params := []param{{"created", created.Unix()}}
	if s.Expires > 0 {
		params = append(params, param{"expires", created.Add(s.Expires).Unix()})
	}
	if s.Nonce {
		var b [16]byte
		rand.Read(b[:])
		params = append(params, param{"nonce", base64.RawURLEncoding.EncodeToString(b[:])})
	}
	keyID := s.KeyID
	if keyID == "" {
		keyID = s.Key.KeyID()
	}
	if keyID != "" {
		params = append(params, param{"keyid", keyID})
	}
	if s.IncludeAlg {
		params = append(params, param{"alg", string(alg)})
	}
	if s.Tag != "" {
		params = append(params, param{"tag", s.Tag})
	}
	base, sigParams, err := m.signatureBase(covered, params)
	if err != nil {
		return "", "", err
	}
	start := time.Now()
	sig, err := alg.sign(s.Key.Signer(), base)
	if err != nil {
		return "", "", fmt.Errorf("finauth: httpsig: the key did not sign: %w", err)
	}
	if s.OnSign != nil {
		s.OnSign(alg, time.Since(start))
	}
	label := s.Label
	if label == "" {
		label = "sig1"
	}
	return label + "=" + sigParams, label + "=:" + base64.StdEncoding.EncodeToString(sig) + ":", nil
}

// SignHeaders is a transport.SignHeadersFunc: for a request with a body it adds
// Content-Digest (of the bytes sent), then signs and returns Content-Digest,
// Signature-Input and Signature. Compose it as transport.Signing{SignHeaders: s.SignHeaders,
// ...}, below the transports that set Authorization and DPoP.
func (s *Signer) SignHeaders(req *http.Request, body io.Reader) (http.Header, error) {
	out := http.Header{}
	m := Request(req)
	m.Header = req.Header.Clone()
	if m.Header == nil {
		m.Header = http.Header{}
	}
	if body != nil && body != http.NoBody {
		digest, n, err := s.Digest.of(body)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			m.Header.Set("Content-Digest", digest)
			out.Set("Content-Digest", digest)
		}
	}
	input, sig, err := s.Sign(m)
	if err != nil {
		return nil, err
	}
	out.Set("Signature-Input", input)
	out.Set("Signature", sig)
	return out, nil
}

// String describes the signer without key material.
func (s *Signer) String() string {
	return fmt.Sprintf("httpsig.Signer{alg: %s, keyid: %q, covers: %s + if present %s, tag: %q}", s.Algorithm, s.KeyID,
		strings.Join(s.Covered, " "), strings.Join(s.IfPresent, " "), s.Tag)
}

// parseComponent reads a covered component as Signer takes it: a name, then parameters as
// in Signature-Input (@query-param;name="Pet").
func parseComponent(s string) (item, error) {
	name, rest, has := strings.Cut(s, ";")
	it := item{value: name}
	if has {
		p := &sfParser{s: ";" + rest}
		ps, err := p.params()
		if err != nil || !p.done() {
			return item{}, fmt.Errorf("%w: %q: parameters as in Signature-Input (;name=\"value\")", ErrComponent, s)
		}
		it.params = ps
	}
	return it, nil
}
