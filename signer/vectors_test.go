package signer_test

import (
	"crypto"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/finauth/finauth/signer"
)

type jwsVector struct {
	JWK     json.RawMessage `json:"jwk"`
	Payload string          `json:"payload"`
	JWS     string          `json:"jws"`
}

func TestRFC7515A2_RS256IsByteExact(t *testing.T) {
	t.Parallel()
	var v jwsVector
	readVector(t, "rfc7515-a2.json", &v)
	key, err := signer.ParseKey(v.JWK)
	if err != nil {
		t.Fatal(err)
	}
	s := mustSigner(t, key, signer.Options{Algorithm: signer.RS256})
	got, err := s.Sign([]byte(v.Payload))
	if err != nil {
		t.Fatal(err)
	}
	if got != v.JWS {
		t.Fatalf("RS256 JWS differs from RFC 7515 A.2:\n got %s\nwant %s", got, v.JWS)
	}
	verified, err := mustVerifier(t, signer.NewKeySet(key.Public()), signer.RS256).Verify(v.JWS)
	if err != nil {
		t.Fatal(err)
	}
	if string(verified.Payload) != v.Payload {
		t.Fatalf("payload %q", verified.Payload)
	}
}

func TestRFC7515A3_ES256Verifies(t *testing.T) {
	t.Parallel()
	var v jwsVector
	readVector(t, "rfc7515-a3.json", &v)
	pubs, err := signer.ParsePublicKeys(v.JWK)
	if err != nil {
		t.Fatal(err)
	}
	ver := mustVerifier(t, pubs, signer.ES256)
	if _, err := ver.Verify(v.JWS); err != nil {
		t.Fatalf("RFC 7515 A.3 JWS does not verify: %v", err)
	}
	// A fresh signature with the RFC key verifies too (ECDSA is randomized, so no byte match).
	key, err := signer.ParseKey(v.JWK)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := mustSigner(t, key, signer.Options{}).Sign([]byte(v.Payload))
	if err != nil {
		t.Fatal(err)
	}
	if fresh == v.JWS {
		t.Fatal("two ECDSA signatures are identical: randomness is not used")
	}
	if _, err := ver.Verify(fresh); err != nil {
		t.Fatal(err)
	}
}

func TestRFC7638_Thumbprint(t *testing.T) {
	t.Parallel()
	var v struct {
		JWK        json.RawMessage `json:"jwk"`
		Thumbprint string          `json:"thumbprint"`
	}
	readVector(t, "rfc7638-3.1.json", &v)
	set, err := signer.ParsePublicKeys(v.JWK)
	if err != nil {
		t.Fatal(err)
	}
	k := set.Keys()[0]
	if got := k.Thumbprint(); got != v.Thumbprint {
		t.Fatalf("thumbprint %s, want %s", got, v.Thumbprint)
	}
	if k.KeyID() != "2011-04-29" {
		t.Fatalf("the JWK's own kid must be kept, got %q", k.KeyID())
	}
	if k.WithKeyID("").KeyID() != v.Thumbprint {
		t.Fatal("a key without kid must default to its thumbprint")
	}
}

// The thumbprint is computed by our own canonical form; go-jose's independent one must agree
// for every key type.
func TestThumbprint_MatchesGoJose(t *testing.T) {
	t.Parallel()
	for _, alg := range []signer.Algorithm{signer.RS256, signer.ES256, signer.ES384, signer.ES512, signer.EdDSA} {
		k, err := signer.GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		jwk := jose.JSONWebKey{Key: k.Public().Key()}
		tp, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := k.Public().Thumbprint(), b64url(tp); got != want {
			t.Errorf("%s: thumbprint %s, go-jose %s", alg, got, want)
		}
	}
}
