package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// Verification errors. Every error Verify returns is a *VerifyError that wraps one of these.
var (
	ErrMalformedJWS        = errors.New("malformed JWS")
	ErrAlgNone             = errors.New(`"alg": "none" is never accepted`)
	ErrAlgHMAC             = errors.New("HMAC algorithms are refused: a public key cannot verify them (algorithm confusion)")
	ErrAlgNotAllowed       = errors.New("algorithm not allowed")
	ErrUnknownKeyID        = errors.New("unknown key ID")
	ErrUnsupportedCritical = errors.New("unsupported critical header parameter")
	ErrInvalidSignature    = errors.New("signature does not verify")
	ErrDetachedPayload     = errors.New("payload mismatch between detached and attached form")
	ErrVerifierConfig      = errors.New("verifier misconfigured")
)

// VerifyError says why a JWS was refused. Err is one of the ErrXxx sentinels above;
// Detail adds what was seen (an algorithm or a kid, never a token or a key).
type VerifyError struct {
	Err    error
	Detail string
}

// Error describes the problem and what to do about it.
func (e *VerifyError) Error() string {
	s := "finauth: signer: verify: " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the sentinel.
func (e *VerifyError) Unwrap() error { return e.Err }

func verr(err error, format string, args ...any) error {
	return &VerifyError{Err: err, Detail: fmt.Sprintf(format, args...)}
}

// strict refuses non-canonical base64url (non-zero trailing bits), so that one signature has
// exactly one encoding and a token cannot be altered without breaking it.
var strict = b64.Strict()

// maxHeaderBytes bounds the protected header a verifier decodes.
const maxHeaderBytes = 16 << 10

// VerifyOptions configure a Verifier.
type VerifyOptions struct {
	// Algorithms allowed; required. A token whose alg is not listed is refused even if the
	// key could verify it.
	Algorithms []Algorithm
	// Critical names the "crit" header parameters the caller understands and checks itself
	// (for example "http://openbanking.org.uk/tan"). "b64" (RFC 7797) is always understood.
	Critical []string
}

// Verifier checks compact and detached JWSs against a key set. It refuses "alg": "none",
// HMAC algorithms, algorithms outside the allowed list, unknown "kid"s, keys that do not
// fit the algorithm, and "crit" parameters it was not told about. It does not judge
// claims (exp, aud, ...): callers check what their protocol needs in the returned claims.
// It is safe for concurrent use.
type Verifier struct {
	keys     []*PublicKey
	algs     []Algorithm
	critical []string
}

// NewVerifier returns a Verifier for keys.
func NewVerifier(keys *KeySet, opts VerifyOptions) (*Verifier, error) {
	if keys == nil || len(keys.keys) == 0 {
		return nil, verr(ErrVerifierConfig, "no keys")
	}
	if len(opts.Algorithms) == 0 {
		return nil, verr(ErrVerifierConfig, "no allowed algorithms; list them in VerifyOptions.Algorithms")
	}
	for _, a := range opts.Algorithms {
		if _, err := ParseAlgorithm(string(a)); err != nil {
			return nil, err
		}
	}
	return &Verifier{keys: keys.Keys(), algs: append([]Algorithm(nil), opts.Algorithms...), critical: append([]string(nil), opts.Critical...)}, nil
}

// Verified is a JWS that passed verification.
type Verified struct {
	// Header holds the protected-header members as raw JSON.
	Header map[string]json.RawMessage
	// RawHeader is the decoded protected header exactly as signed.
	RawHeader []byte
	// Payload is the signed payload (the claims of a JWT; for a detached JWS, the payload
	// that was given).
	Payload []byte
	// Algorithm and Key are what verified the signature.
	Algorithm Algorithm
	Key       *PublicKey
}

// Claims decodes the payload as JSON into dst.
func (v *Verified) Claims(dst any) error {
	if err := json.Unmarshal(v.Payload, dst); err != nil {
		return fmt.Errorf("finauth: signer: the payload is not the expected JSON: %w", jsonErr(err))
	}
	return nil
}

// HeaderString returns a string-valued header member.
func (v *Verified) HeaderString(name string) (string, bool) { return headerString(v.Header, name) }

// Verify checks a compact JWS "header.payload.signature" and returns its header and payload.
func (v *Verifier) Verify(token string) (*Verified, error) {
	return v.verify(token, false, nil)
}

// VerifyDetached checks a detached JWS "header..signature" (RFC 7515 Appendix F) against
// payload. A header with "b64": false (RFC 7797) means the payload is signed unencoded.
func (v *Verifier) VerifyDetached(token string, payload []byte) (*Verified, error) {
	return v.verify(token, true, payload)
}

func (v *Verifier) verify(token string, detached bool, payload []byte) (*Verified, error) {
	u, hb64, pb64, err := decodeSegments(token)
	if err != nil {
		return nil, err
	}
	header, rawHeader, sb64 := u.Header, u.RawHeader, u.Signature
	var alg string
	if json.Unmarshal(header["alg"], &alg) != nil || alg == "" {
		return nil, verr(ErrMalformedJWS, `header has no string "alg"`)
	}
	algorithm, err := v.checkAlg(alg)
	if err != nil {
		return nil, err
	}
	encoded, err := v.checkCrit(header)
	if err != nil {
		return nil, err
	}
	if detached && pb64 != "" {
		return nil, verr(ErrDetachedPayload, "expected a detached JWS (header..signature) but the token carries a payload")
	}
	if !detached {
		if encoded {
			if payload, err = strict.DecodeString(pb64); err != nil {
				return nil, verr(ErrMalformedJWS, "payload is not base64url")
			}
		} else {
			payload = []byte(pb64)
		}
	}
	key, err := v.findKey(header, algorithm)
	if err != nil {
		return nil, err
	}
	sig, err := strict.DecodeString(sb64)
	if err != nil {
		return nil, verr(ErrMalformedJWS, "signature is not base64url")
	}
	input := make([]byte, 0, len(hb64)+1+b64.EncodedLen(len(payload)))
	input = append(input, hb64...)
	input = append(input, '.')
	if encoded {
		input = b64.AppendEncode(input, payload)
	} else {
		input = append(input, payload...)
	}
	if err := verifySignature(algorithm, key.key, input, sig); err != nil {
		return nil, err
	}
	return &Verified{Header: header, RawHeader: rawHeader, Payload: payload, Algorithm: algorithm, Key: key}, nil
}

func (v *Verifier) checkAlg(alg string) (Algorithm, error) {
	switch {
	case strings.EqualFold(alg, "none"):
		return "", verr(ErrAlgNone, "")
	case strings.HasPrefix(alg, "HS"):
		return "", verr(ErrAlgHMAC, "alg %s", quote(alg))
	}
	for _, a := range v.algs {
		if string(a) == alg {
			return a, nil
		}
	}
	allowed := make([]string, len(v.algs))
	for i, a := range v.algs {
		allowed[i] = string(a)
	}
	return "", verr(ErrAlgNotAllowed, "alg %s is not in the allowed list [%s]", quote(alg), strings.Join(allowed, ", "))
}

// checkCrit applies RFC 7515 section 4.1.11 and RFC 7797 section 6, and reports whether the
// payload is base64url-encoded.
func (v *Verifier) checkCrit(header map[string]json.RawMessage) (encoded bool, err error) {
	encoded = true
	b64raw, hasB64 := header["b64"]
	if hasB64 {
		var b bool
		if json.Unmarshal(b64raw, &b) != nil {
			return false, verr(ErrMalformedJWS, `"b64" must be a boolean`)
		}
		encoded = b
	}
	critRaw, hasCrit := header["crit"]
	if !hasCrit {
		if !encoded {
			return false, verr(ErrMalformedJWS, `"b64": false must be listed in "crit" (RFC 7797 section 6)`)
		}
		return encoded, nil
	}
	var crit []string
	if json.Unmarshal(critRaw, &crit) != nil || len(crit) == 0 {
		return false, verr(ErrMalformedJWS, `"crit" must be a non-empty array of strings`)
	}
	listedB64 := false
	for i, name := range crit {
		for _, prev := range crit[:i] {
			if prev == name {
				return false, verr(ErrMalformedJWS, "%s is listed twice in \"crit\"", quote(name))
			}
		}
		if registeredHeader[name] {
			return false, verr(ErrMalformedJWS, "%s is a registered header parameter and must not be in \"crit\"", quote(name))
		}
		if _, present := header[name]; !present {
			return false, verr(ErrMalformedJWS, "%s is listed in \"crit\" but absent from the header", quote(name))
		}
		if name == "b64" {
			listedB64 = true
			continue
		}
		understood := false
		for _, c := range v.critical {
			understood = understood || c == name
		}
		if !understood {
			return false, verr(ErrUnsupportedCritical, "%s", quote(name))
		}
	}
	if !encoded && !listedB64 {
		return false, verr(ErrMalformedJWS, `"b64": false must be listed in "crit" (RFC 7797 section 6)`)
	}
	return encoded, nil
}

// registeredHeader are the RFC 7515 header parameters, which "crit" must not list.
var registeredHeader = map[string]bool{
	"alg": true, "jku": true, "jwk": true, "kid": true, "x5u": true, "x5c": true,
	"x5t": true, "x5t#S256": true, "typ": true, "cty": true, "crit": true,
}

// findKey picks the key: by "kid" when the token has one (a key without an explicit ID
// matches its thumbprint; the only key of a set without IDs matches any kid), else the
// only key of the set.
func (v *Verifier) findKey(header map[string]json.RawMessage, alg Algorithm) (*PublicKey, error) {
	var key *PublicKey
	if raw, ok := header["kid"]; ok {
		var kid string
		if json.Unmarshal(raw, &kid) != nil {
			return nil, verr(ErrMalformedJWS, `"kid" must be a string`)
		}
		for _, k := range v.keys {
			if k.keyID == kid || (k.keyID == "" && k.Thumbprint() == kid) {
				key = k
				break
			}
		}
		if key == nil && len(v.keys) == 1 && v.keys[0].keyID == "" {
			key = v.keys[0]
		}
		if key == nil {
			return nil, verr(ErrUnknownKeyID, "kid %s", quote(kid))
		}
	} else {
		if len(v.keys) != 1 {
			return nil, verr(ErrUnknownKeyID, "the token has no \"kid\" and the key set holds %d keys", len(v.keys))
		}
		key = v.keys[0]
	}
	if err := alg.CheckKey(key.key); err != nil {
		return nil, &VerifyError{Err: ErrAlgNotAllowed, Detail: err.Error()}
	}
	if key.fixedAlg && key.alg != alg {
		return nil, verr(ErrAlgNotAllowed, "the key is registered for %s, the token says %s", key.alg, alg)
	}
	return key, nil
}

func verifySignature(alg Algorithm, pub crypto.PublicKey, input, sig []byte) error {
	bad := verr(ErrInvalidSignature, "")
	if alg == EdDSA {
		if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub.(ed25519.PublicKey), input, sig) {
			return bad
		}
		return nil
	}
	h := alg.hash().New()
	h.Write(input)
	digest := h.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if len(sig) != k.Size() {
			return bad
		}
		var err error
		if alg == PS256 {
			err = rsa.VerifyPSS(k, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
		} else {
			err = rsa.VerifyPKCS1v15(k, alg.hash(), digest, sig)
		}
		if err != nil {
			return bad
		}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return bad
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return bad
		}
	default:
		return bad
	}
	return nil
}

// parseHeaderObject decodes a JSON object, refusing duplicate members (RFC 7515 section 5.2
// allows refusing them, and a second "alg" must not silently win).
func parseHeaderObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("invalid JSON")
		}
		name, _ := tok.(string)
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("member %s appears twice", quote(name))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errors.New("invalid JSON")
		}
		out[name] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, errors.New("invalid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return out, nil
}
