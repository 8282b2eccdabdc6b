// Package dpop makes and checks DPoP proofs (RFC 9449, OAuth 2.0 Demonstrating Proof of
// Possession): the proof-of-possession JWTs that bind access tokens to a key of the client.
//
// A [Prover] holds the client's DPoP key (any key of the signer package: a file, pkcs11:,
// awskms:, or one generated for the process) and makes a fresh proof for every request and
// every attempt: typ dpop+jwt, the public jwk in the header, htm, htu (without query and
// fragment), iat and a unique jti, plus ath (the SHA-256 of the access token) on requests to
// a resource server and the server's nonce when it gave one (DPoP-Nonce). Its
// [Prover.Transport] adds proofs to requests whose Authorization is "DPoP <token>" and sends
// a request again, once, when the resource server asks for a nonce (401, WWW-Authenticate:
// DPoP error="use_dpop_nonce"). Put it below (closer to the network than) the transport
// that sets Authorization.
//
// [Verify] checks a proof as a server does, with a reason for each refusal; the mocks and
// tests use it.
package dpop

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/finauth/finauth/signer"
)

// Typ is the typ header of a DPoP proof.
const Typ = "dpop+jwt"

// Options configure a Prover.
type Options struct {
	// Algorithm of the proofs; default the key's (ES256 for P-256, RS256 for RSA, EdDSA for
	// Ed25519).
	Algorithm signer.Algorithm
	// Now is the clock of iat; default time.Now.
	Now func() time.Time
	// OnSign, when set, is told each proof's algorithm and signing time (telemetry).
	OnSign func(signer.Algorithm, time.Duration)
}

// Prover makes DPoP proofs with one key, and remembers each server's nonce. It is safe for
// concurrent use.
type Prover struct {
	sig    *signer.Signer
	jwk    json.RawMessage
	jkt    string
	now    func() time.Time
	nonces sync.Map // origin -> nonce
}

// NewProver returns a Prover for key. The proofs carry its public half as the header's jwk
// (the key's own ID is not sent: the server binds tokens to the key's thumbprint).
func NewProver(key *signer.Key, o Options) (*Prover, error) {
	if key == nil {
		return nil, errors.New("finauth: dpop: a key is required")
	}
	bare, err := signer.NewKey(key.Signer())
	if err != nil {
		return nil, err
	}
	s, err := signer.New(bare, signer.Options{Algorithm: o.Algorithm, Type: Typ, OnSign: o.OnSign})
	if err != nil {
		return nil, fmt.Errorf("finauth: dpop: %w", err)
	}
	jwk, err := publicJWK(bare.Public())
	if err != nil {
		return nil, err
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Prover{sig: s, jwk: jwk, jkt: bare.Public().Thumbprint(), now: now}, nil
}

// GenerateProver makes a new ES256 key, held in memory for this process, and its Prover.
// Tokens bound to it are this process's alone (see the docs on replicas).
func GenerateProver(o Options) (*Prover, error) {
	key, err := signer.GenerateKey(signer.ES256)
	if err != nil {
		return nil, err
	}
	return NewProver(key, o)
}

// publicJWK is the key's public JWK with the members RFC 7638 uses and nothing else.
func publicJWK(pub *signer.PublicKey) (json.RawMessage, error) {
	b, err := json.Marshal(pub)
	if err != nil {
		return nil, err
	}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	kept := map[string]any{}
	for _, k := range []string{"kty", "crv", "x", "y", "n", "e"} {
		if v, ok := all[k]; ok {
			kept[k] = v
		}
	}
	return json.Marshal(kept)
}

// Thumbprint is the RFC 7638 thumbprint of the key (base64url SHA-256): the jkt a server
// binds tokens to (cnf.jkt, dpop_jkt).
func (p *Prover) Thumbprint() string { return p.jkt }

// Algorithm is the proofs' algorithm.
func (p *Prover) Algorithm() signer.Algorithm { return p.sig.Algorithm() }

// Proof returns a new proof for a request with method to rawURL; with accessToken, it also
// carries ath (the proof for a resource server). The nonce is the one rawURL's server last
// gave, if any.
func (p *Prover) Proof(method, rawURL, accessToken string) (string, error) {
	htu, origin, err := targetURI(rawURL)
	if err != nil {
		return "", err
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	claims := map[string]any{"jti": base64.RawURLEncoding.EncodeToString(id[:]), "htm": method, "htu": htu, "iat": p.now().Unix()}
	if n, ok := p.nonces.Load(origin); ok {
		claims["nonce"] = n
	}
	if accessToken != "" {
		claims["ath"] = AccessTokenHash(accessToken)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return p.sig.SignAttached(signer.Header{{Name: "jwk", Value: p.jwk}}, payload)
}

// SetNonce remembers the nonce rawURL's server gave (a DPoP-Nonce header): the next proofs
// for that origin carry it.
func (p *Prover) SetNonce(rawURL, nonce string) {
	if _, origin, err := targetURI(rawURL); err == nil && nonce != "" && len(nonce) <= 512 {
		p.nonces.Store(origin, nonce)
	}
}

// nonceFor is the nonce remembered for rawURL's origin.
func (p *Prover) nonceFor(rawURL string) string {
	if _, origin, err := targetURI(rawURL); err == nil {
		if n, ok := p.nonces.Load(origin); ok {
			return n.(string)
		}
	}
	return ""
}

// AccessTokenHash is ath: the base64url SHA-256 of the access token's ASCII.
func AccessTokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// targetURI is htu (scheme, host and path, without query and fragment: RFC 9449 section
// 4.2) and the origin of rawURL.
func targetURI(rawURL string) (htu, origin string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", "", fmt.Errorf("finauth: dpop: %q is not an absolute URL", rawURL)
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if port := u.Port(); scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		host = strings.TrimSuffix(host, ":"+port) // the default port is not part of the URI (RFC 3986 6.2.3)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, scheme + "://" + host, nil
}

// String describes the prover without key material.
func (p *Prover) String() string {
	return fmt.Sprintf("dpop.Prover{alg: %s, jkt: %s}", p.sig.Algorithm(), p.jkt)
}
