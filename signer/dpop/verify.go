package dpop

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/finauth/finauth/signer"
)

// VerifyOptions are what a server checks a proof against.
type VerifyOptions struct {
	// Method and URL of the request the proof came with (htm, htu).
	Method, URL string
	// AccessToken, for a request to a resource server: ath must be its hash. Empty at the
	// token endpoint, where a proof must not carry ath.
	AccessToken string
	// Thumbprint, when set, is the key the access token is bound to (cnf.jkt): the proof's
	// key must be it.
	Thumbprint string
	// Nonce, when set, must be the proof's nonce.
	Nonce string
	// MaxAge bounds how far iat may be from now, either way; default 60 s.
	MaxAge time.Duration
	// Algorithms allowed; default ES256, ES384, PS256, RS256, EdDSA.
	Algorithms []signer.Algorithm
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Proof is a verified proof's content.
type Proof struct {
	JTI, HTM, HTU, Nonce, ATH string
	IAT                       time.Time
	// Thumbprint is the RFC 7638 thumbprint of the proof's key.
	Thumbprint string
	Algorithm  signer.Algorithm
}

// Error is a refused proof. Reason is one of a fixed set: missing, malformed, typ, alg, jwk,
// signature, htm, htu, iat, ath, key, use_dpop_nonce.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return "finauth: dpop: " + e.Reason + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

func refuse(reason, format string, args ...any) error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// maxProof bounds a proof's size.
const maxProof = 8 << 10

// Verify checks a DPoP proof (the DPoP header's value) as RFC 9449 section 4.3 says: one
// JWS, typ dpop+jwt, an asymmetric alg, a public jwk in the header that verifies it, htm and
// htu of this request, iat within MaxAge, ath of the access token (or none at the token
// endpoint), the key the token is bound to, and the nonce asked for. A replayed jti is the
// caller's to refuse: Proof.JTI and Proof.IAT say what to remember, and for how long.
func Verify(proof string, o VerifyOptions) (*Proof, error) {
	if proof == "" {
		return nil, refuse("missing", "no DPoP header")
	}
	if len(proof) > maxProof {
		return nil, refuse("malformed", "the proof is longer than %d bytes", maxProof)
	}
	u, err := signer.DecodeUnverified(proof)
	if err != nil || u.Detached {
		return nil, refuse("malformed", "not a JWS: %v", err)
	}
	var typ string
	if json.Unmarshal(u.Header["typ"], &typ) != nil || typ != Typ {
		return nil, refuse("typ", "typ must be %q", Typ)
	}
	raw, ok := u.Header["jwk"]
	if !ok {
		return nil, refuse("jwk", "the header has no jwk")
	}
	var members map[string]any
	if json.Unmarshal(raw, &members) != nil {
		return nil, refuse("jwk", "jwk is not a JSON object")
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
		if _, has := members[private]; has {
			return nil, refuse("jwk", "jwk holds a private member (%s)", private)
		}
	}
	keys, err := signer.ParsePublicKeys(raw)
	if err != nil || keys.Len() != 1 {
		return nil, refuse("jwk", "jwk is not one public key: %v", err)
	}
	algs := o.Algorithms
	if algs == nil {
		algs = []signer.Algorithm{signer.ES256, signer.ES384, signer.PS256, signer.RS256, signer.EdDSA}
	}
	v, err := signer.NewVerifier(keys, signer.VerifyOptions{Algorithms: algs})
	if err != nil {
		return nil, refuse("jwk", "%v", err)
	}
	verified, err := v.Verify(proof)
	if err != nil {
		return nil, refuse("signature", "%v", err)
	}
	var c struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		IAT   *int64 `json:"iat"`
		Nonce string `json:"nonce"`
		ATH   string `json:"ath"`
	}
	if err := json.Unmarshal(verified.Payload, &c); err != nil {
		return nil, refuse("malformed", "the claims are not a JSON object of strings and an integer iat: %v", err)
	}
	p := &Proof{JTI: c.JTI, HTM: c.HTM, HTU: c.HTU, Nonce: c.Nonce, ATH: c.ATH, Thumbprint: keys.Keys()[0].Thumbprint(), Algorithm: verified.Algorithm}
	if c.JTI == "" || len(c.JTI) > 256 {
		return nil, refuse("malformed", "jti is missing or too long")
	}
	if c.HTM != o.Method {
		return nil, refuse("htm", "htm %q is not the request's method %q", c.HTM, o.Method)
	}
	want, _, err := targetURI(o.URL)
	if err != nil {
		return nil, refuse("htu", "%v", err)
	}
	got, _, err := targetURI(c.HTU)
	if err != nil || got != want {
		return nil, refuse("htu", "htu %q is not the request's URI %q", c.HTU, want)
	}
	if c.IAT == nil {
		return nil, refuse("iat", "no iat")
	}
	p.IAT = time.Unix(*c.IAT, 0)
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	maxAge := o.MaxAge
	if maxAge == 0 {
		maxAge = time.Minute
	}
	if d := now().Sub(p.IAT); d > maxAge || d < -maxAge {
		return nil, refuse("iat", "iat %s is more than %v from now", p.IAT.UTC().Format(time.RFC3339), maxAge)
	}
	switch {
	case o.AccessToken == "" && c.ATH != "":
		return nil, refuse("ath", "a proof for the token endpoint carries ath")
	case o.AccessToken != "" && c.ATH != AccessTokenHash(o.AccessToken):
		return nil, refuse("ath", "ath is not the hash of the access token sent")
	}
	if o.Thumbprint != "" && p.Thumbprint != o.Thumbprint {
		return nil, refuse("key", "the proof's key is not the one the token is bound to")
	}
	if o.Nonce != "" && c.Nonce != o.Nonce {
		return nil, refuse("use_dpop_nonce", "the proof must carry the server's nonce")
	}
	return p, nil
}
