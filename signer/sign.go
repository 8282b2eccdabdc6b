package signer

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The signing contract (RFC 7515, RFC 7797):
//
//	header   = {"alg":A[,"kid":K][,"typ":T][,fields in the order given]}   (no whitespace)
//	input    = base64url(header) "." base64url(payload)                     (b64 true, default)
//	input    = base64url(header) "." payload                                (b64 false, RFC 7797)
//	compact  = base64url(header) "." base64url(payload) "." base64url(sig)  (attached)
//	detached = base64url(header) ".." base64url(sig)                        (RFC 7515 Appendix F)
//
// base64url is unpadded (RFC 7515 Appendix C). RS256/PS256/ES*: the input is streamed into
// the hash and only the digest is signed, so a large payload is never copied as base64
// (EdDSA signs the whole input and must hold it). ES* signatures are the raw R||S of
// RFC 7518 section 3.4, converted from the DER that crypto.Signer returns. PS256 uses a salt
// as long as the hash (32 bytes).

var b64 = base64.RawURLEncoding

// Signer signs JWTs and JWSs with one key and algorithm. It is safe for concurrent use.
type Signer struct {
	key       crypto.Signer
	alg       Algorithm
	keyID     string
	typ       string
	rand      io.Reader
	jwtHeader string // base64url of {"alg","kid","typ"}, the header of Sign and SignJWT
	onSign    func(Algorithm, time.Duration)
}

// Options configure a Signer. The zero value signs with the key's algorithm and key ID and
// no "typ".
type Options struct {
	// Algorithm to sign with; default Key.Algorithm(). It must fit the key.
	Algorithm Algorithm
	// KeyID is written as "kid"; default Key.KeyID(). No "kid" when both are empty.
	KeyID string
	// Type is written as "typ" when set (Pismo: "JWT"; Soldo: "jwt").
	Type string
	// Rand is the randomness for ECDSA and PSS; default crypto/rand.Reader.
	Rand io.Reader
	// OnSign, when set, is told the algorithm and duration of every signature that
	// succeeds (the providers feed finauth.signatures and finauth.signature.duration).
	OnSign func(Algorithm, time.Duration)
}

// New returns a Signer for key, refusing a key that does not fit the algorithm.
func New(key *Key, opts Options) (*Signer, error) {
	if key == nil || key.signer == nil {
		return nil, &UnsupportedKeyError{Key: "no key"}
	}
	alg := opts.Algorithm
	if alg == "" {
		alg = key.Algorithm()
	}
	if err := alg.CheckKey(key.signer.Public()); err != nil {
		return nil, err
	}
	s := &Signer{key: key.signer, alg: alg, keyID: opts.KeyID, typ: opts.Type, rand: opts.Rand, onSign: opts.OnSign}
	if s.keyID == "" {
		s.keyID = key.keyID
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	h, err := appendHeaderJSON(nil, alg, s.keyID, s.typ, nil, nil)
	if err != nil {
		return nil, err
	}
	s.jwtHeader = b64.EncodeToString(h)
	return s, nil
}

// WithOnSign returns a copy of s that tells f the algorithm and duration of every signature
// that succeeds (see Options.OnSign).
func (s *Signer) WithOnSign(f func(Algorithm, time.Duration)) *Signer {
	c := *s
	c.onSign = f
	return &c
}

// Algorithm returns the algorithm the Signer signs with.
func (s *Signer) Algorithm() Algorithm { return s.alg }

// KeyID returns the "kid" the Signer writes, or "".
func (s *Signer) KeyID() string { return s.keyID }

// JWTHeader returns the protected header Sign and SignJWT write ({"alg"[,"kid"][,"typ"]}),
// base64url-encoded: with Public().Thumbprint() it is everything of a JWT that its claims
// do not say (what names a client's tokens in a shared store).
func (s *Signer) JWTHeader() string { return s.jwtHeader }

// Public returns the public key that verifies this Signer's signatures.
func (s *Signer) Public() *PublicKey {
	return &PublicKey{key: s.key.Public(), keyID: s.keyID, alg: s.alg, fixedAlg: true}
}

// String describes the Signer without key material.
func (s *Signer) String() string {
	return "signer.Signer(" + string(s.alg) + ", " + describeKey(s.key.Public()) + ", kid " + quote(s.keyID) + ")"
}

// SignJWT marshals claims with encoding/json and returns the compact JWT.
func (s *Signer) SignJWT(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("finauth: signer: the claims cannot be encoded as JSON: %w", err)
	}
	return s.Sign(payload)
}

// Sign returns the compact JWS of payload (exactly these bytes) with the header
// {"alg"[,"kid"][,"typ"]}.
func (s *Signer) Sign(payload []byte) (string, error) {
	return s.attached(s.jwtHeader, payload)
}

// SignAttached returns the compact JWS "header.payload.signature" with the extra
// protected-header fields of h.
func (s *Signer) SignAttached(h Header, payload []byte) (string, error) {
	hb, err := s.headerB64(nil, h)
	if err != nil {
		return "", err
	}
	return s.attached(hb, payload)
}

func (s *Signer) attached(hb64 string, payload []byte) (string, error) {
	out := make([]byte, 0, len(hb64)+2+b64.EncodedLen(len(payload))+b64.EncodedLen(s.sigSize()))
	out = append(out, hb64...)
	out = append(out, '.')
	out = b64.AppendEncode(out, payload)
	sig, err := s.signInput(out, nil, 0)
	if err != nil {
		return "", err
	}
	out = append(out, '.')
	return string(b64.AppendEncode(out, sig)), nil
}

// SignDetached returns the detached JWS "header..signature" of payload (RFC 7515
// Appendix F), with the extra protected-header fields of h written as given.
func (s *Signer) SignDetached(h Header, payload []byte) (string, error) {
	return s.detached(h, nil, feedBase64(payload), b64.EncodedLen(len(payload)))
}

// SignDetachedReader is SignDetached over a stream: the payload is read once and fed to
// the hash in chunks, so a large body is never held as base64 (EdDSA, which signs the
// whole input, is the exception). A read error fails the signature.
func (s *Signer) SignDetachedReader(h Header, payload io.Reader) (string, error) {
	return s.detached(h, nil, func(w io.Writer) error { return copyBase64(w, payload) }, b64.EncodedLen(lenOf(payload)))
}

// maxSizeHint caps how much a size hint may pre-allocate: a declared length is only a hint.
const maxSizeHint = 16 << 20

// lenOf is the number of bytes a reader says it holds (bytes.Reader, strings.Reader,
// bytes.Buffer, or any reader with Len), 0 when it does not say. Only a sizing hint.
func lenOf(r io.Reader) int {
	if l, ok := r.(interface{ Len() int }); ok {
		return max(l.Len(), 0)
	}
	return 0
}

// unencodedHeader is what RFC 7797 requires in front of an unencoded payload.
var unencodedHeader = Header{{Name: "b64", Value: false}, {Name: "crit", Value: json.RawMessage(`["b64"]`)}}

// SignUnencodedDetached returns a detached JWS over the raw payload bytes (RFC 7797,
// "b64": false, with "b64" listed in "crit"), as Open Banking's x-jws-signature uses. When
// h sets "crit" itself it must list "b64"; when it sets "b64" it must be false.
func (s *Signer) SignUnencodedDetached(h Header, payload []byte) (string, error) {
	pre, err := unencodedPrefix(h)
	if err != nil {
		return "", err
	}
	return s.detached(h, pre, feedRaw(payload), len(payload))
}

// SignUnencodedDetachedReader is SignUnencodedDetached over a stream.
func (s *Signer) SignUnencodedDetachedReader(h Header, payload io.Reader) (string, error) {
	pre, err := unencodedPrefix(h)
	if err != nil {
		return "", err
	}
	return s.detached(h, pre, func(w io.Writer) error { _, err := io.Copy(w, payload); return err }, lenOf(payload))
}

func unencodedPrefix(h Header) (Header, error) {
	if v, ok := h.Get("b64"); ok && v != false {
		return nil, fmt.Errorf(`%w: an unencoded payload needs "b64": false`, ErrInvalidHeader)
	}
	crit, hasCrit := h.Get("crit")
	if !hasCrit {
		if h.has("b64") {
			return Header{unencodedHeader[1]}, nil
		}
		return unencodedHeader, nil
	}
	var names []string
	raw, err := appendJSONValue(nil, crit)
	if err == nil {
		err = json.Unmarshal(raw, &names)
	}
	if err != nil {
		return nil, fmt.Errorf(`%w: "crit" must be an array of strings`, ErrInvalidHeader)
	}
	found := false
	for _, n := range names {
		found = found || n == "b64"
	}
	if !found {
		return nil, fmt.Errorf(`%w: "crit" must list "b64" for an unencoded payload`, ErrInvalidHeader)
	}
	if h.has("b64") {
		return nil, nil
	}
	return Header{unencodedHeader[0]}, nil
}

func (s *Signer) headerB64(pre, h Header) (string, error) {
	var stack [256]byte
	j, err := appendHeaderJSON(stack[:0], s.alg, s.keyID, s.typ, pre, h)
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(j), nil
}

// detached signs header..signature; hint is the size feed will write, when known (EdDSA,
// which must hold the whole input, sizes its buffer with it).
func (s *Signer) detached(h, pre Header, feed func(io.Writer) error, hint int) (string, error) {
	return s.detachedAfter("", h, pre, feed, hint)
}

// detachedAfter is detached written after lead (which is not signed), in one allocation:
// the buffer becomes the string without a copy, since nothing writes to it afterwards.
func (s *Signer) detachedAfter(lead string, h, pre Header, feed func(io.Writer) error, hint int) (string, error) {
	var stack [256]byte
	j, err := appendHeaderJSON(stack[:0], s.alg, s.keyID, s.typ, pre, h)
	if err != nil {
		return "", err
	}
	out := make([]byte, 0, len(lead)+b64.EncodedLen(len(j))+2+b64.EncodedLen(s.sigSize()))
	out = append(out, lead...)
	start := len(out)
	out = b64.AppendEncode(out, j)
	out = append(out, '.')
	sig, err := s.signInput(out[start:], feed, hint)
	if err != nil {
		return "", err
	}
	out = append(out, '.')
	out = b64.AppendEncode(out, sig)
	return unsafe.String(unsafe.SliceData(out), len(out)), nil
}

// SignDetachedReaderAfter is SignDetachedReader returning lead followed by the detached
// JWS, made in one allocation: for a header value such as Soldo's "Bearer " + JWS. lead is
// not signed.
func (s *Signer) SignDetachedReaderAfter(lead string, h Header, payload io.Reader) (string, error) {
	return s.detachedAfter(lead, h, nil, func(w io.Writer) error { return copyBase64(w, payload) }, b64.EncodedLen(lenOf(payload)))
}

// signInput signs prefix followed by what feed writes (feed may be nil; hint is its size
// when known).
func (s *Signer) signInput(prefix []byte, feed func(io.Writer) error, hint int) ([]byte, error) {
	if s.onSign == nil {
		return s.sign(prefix, feed, hint)
	}
	start := time.Now()
	sig, err := s.sign(prefix, feed, hint)
	if err == nil {
		s.onSign(s.alg, time.Since(start))
	}
	return sig, err
}

// sign is signInput without the hook.
func (s *Signer) sign(prefix []byte, feed func(io.Writer) error, hint int) ([]byte, error) {
	var sig []byte
	var err error
	if s.alg == EdDSA {
		msg := prefix
		if feed != nil {
			var buf bytes.Buffer
			buf.Grow(len(prefix) + min(max(hint, 0), maxSizeHint))
			buf.Write(prefix)
			if err := feed(&buf); err != nil {
				return nil, payloadErr(err)
			}
			msg = buf.Bytes()
		}
		sig, err = s.key.Sign(s.rand, msg, crypto.Hash(0))
	} else {
		h := s.alg.hash().New()
		h.Write(prefix)
		if feed != nil {
			if err := feed(h); err != nil {
				return nil, payloadErr(err)
			}
		}
		var sum [64]byte
		sig, err = s.key.Sign(s.rand, h.Sum(sum[:0]), s.alg.signerOpts())
	}
	if err != nil {
		return nil, fmt.Errorf("finauth: signer: %s signature failed: %w", s.alg, err)
	}
	if c := s.alg.curve(); c != nil {
		return ecdsaDERToRaw(sig, (c.Params().BitSize+7)/8)
	}
	return sig, nil
}

// ErrPayloadRead wraps an error from reading the payload of a streaming signature.
var ErrPayloadRead = errors.New("finauth: signer: reading the payload failed")

func payloadErr(err error) error { return fmt.Errorf("%w: %w", ErrPayloadRead, err) }

func (s *Signer) sigSize() int {
	switch s.alg {
	case EdDSA:
		return 64
	case ES256, ES384, ES512:
		return 2 * ((s.alg.curve().Params().BitSize + 7) / 8)
	}
	return 512 // RSA: an upper bound is enough for a capacity hint
}

// feedRaw writes the payload as it is (RFC 7797 unencoded payload).
func feedRaw(p []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(p); return err }
}

// feedBase64 writes the payload base64url-encoded.
func feedBase64(p []byte) func(io.Writer) error {
	return func(w io.Writer) error { return writeBase64(w, p) }
}

// chunk is a multiple of 3, so each chunk encodes to base64 without padding in between.
const chunk = 3 * 1024

// b64Buffers are the scratch space of one streamed encoding: raw input and its base64.
type b64Buffers struct {
	in  [chunk]byte
	out [chunk / 3 * 4]byte
}

// writeBase64 writes the base64url encoding of p to w, a chunk at a time.
func writeBase64(w io.Writer, p []byte) error {
	return encodeChunks(w, p, new([chunk / 3 * 4]byte))
}

func encodeChunks(w io.Writer, p []byte, out *[chunk / 3 * 4]byte) error {
	for len(p) > 0 {
		n := min(len(p), chunk)
		m := b64.EncodedLen(n)
		b64.Encode(out[:m], p[:n])
		if _, err := w.Write(out[:m]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// b64Pool recycles the scratch buffers of streamed signatures; they never leave
// copyBase64, so reuse is safe.
var b64Pool = sync.Pool{New: func() any { return new(b64Buffers) }}

// copyBase64 reads r to the end and writes its base64url encoding to w, with one pair of
// buffers for the whole stream.
func copyBase64(w io.Writer, r io.Reader) error {
	buf := b64Pool.Get().(*b64Buffers)
	defer b64Pool.Put(buf)
	for {
		n, err := io.ReadFull(r, buf.in[:])
		if n > 0 {
			if werr := encodeChunks(w, buf.in[:n], &buf.out); werr != nil {
				return werr
			}
		}
		switch err {
		case nil:
			continue
		case io.EOF, io.ErrUnexpectedEOF:
			return nil
		default:
			return err
		}
	}
}

// ecdsaDERToRaw converts an ASN.1 ECDSA signature to JOSE's fixed-size R||S.
func ecdsaDERToRaw(der []byte, size int) ([]byte, error) {
	in := cryptobyte.String(der)
	var seq, r, s cryptobyte.String
	if !in.ReadASN1(&seq, casn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1(&r, casn1.INTEGER) || !seq.ReadASN1(&s, casn1.INTEGER) || !seq.Empty() {
		return nil, errors.New("finauth: signer: the ECDSA signer returned a malformed DER signature")
	}
	out := make([]byte, 2*size)
	for i, v := range [2][]byte{r, s} {
		if len(v) == 0 || v[0]&0x80 != 0 {
			return nil, errors.New("finauth: signer: the ECDSA signer returned a negative or empty integer")
		}
		for len(v) > 1 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > size {
			return nil, errors.New("finauth: signer: the ECDSA signature does not fit the curve")
		}
		copy(out[(i+1)*size-len(v):(i+1)*size], v)
	}
	return out, nil
}
