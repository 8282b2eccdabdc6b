package signer_test

import (
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/finauth/finauth/signer"
)

// Load an encrypted key written by `openssl genpkey -aes256` and sign a Pismo-style JWT.
func Example() {
	key, err := signer.LoadKeyFile("testdata/keys/test-rsa-pkcs8-encrypted.pem",
		signer.WithPassphrase([]byte("test-passphrase")))
	if err != nil {
		log.Fatal(err)
	}
	s, err := signer.New(key, signer.Options{Algorithm: signer.RS256, KeyID: "pismo-key-1", Type: "JWT"})
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	jwt, err := s.SignJWT(map[string]any{
		"iss": "client@tenant", "sub": "client@tenant", "aud": "https://sandbox.pismolabs.io",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"tenant_id": "test-pbrj4", "uid": "test-pbrj4", "pismo": map[string]string{"group": "pismo-v2:bankaccounts:rw"},
	})
	if err != nil {
		log.Fatal(err)
	}
	v, err := signer.NewVerifier(signer.NewKeySet(s.Public()), signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.RS256}})
	if err != nil {
		log.Fatal(err)
	}
	got, err := v.Verify(jwt)
	if err != nil {
		log.Fatal(err)
	}
	var claims struct {
		TenantID string `json:"tenant_id"`
	}
	if err := got.Claims(&claims); err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Algorithm, claims.TenantID)
	// Output: RS256 test-pbrj4
}

// Sign a request body as a detached JWS with the fields Soldo puts in the header.
func ExampleSigner_SignDetached() {
	key, err := signer.LoadKeyFile("testdata/keys/test-ec-p256-pkcs8.pem")
	if err != nil {
		log.Fatal(err)
	}
	s, err := signer.New(key, signer.Options{KeyID: "soldo-key", Type: "jwt"})
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"amount":"10.00"}`)
	jws, err := s.SignDetached(signer.Header{
		{Name: "exp", Value: "1700000050000"},
		{Name: "mid", Value: "m:member"},
		{Name: "method", Value: "POST"},
		{Name: "host", Value: "api.example.com"},
		{Name: "path", Value: "/transfers"},
	}, body)
	if err != nil {
		log.Fatal(err)
	}
	v, _ := signer.NewVerifier(signer.NewKeySet(s.Public()), signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.ES256}})
	got, err := v.VerifyDetached(jws, body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(got.RawHeader))
	// Output: {"alg":"ES256","kid":"soldo-key","typ":"jwt","exp":"1700000050000","mid":"m:member","method":"POST","host":"api.example.com","path":"/transfers"}
}

// Generate a key and publish its public JWK (kid = RFC 7638 thumbprint).
func ExampleGenerateKey() {
	key, err := signer.GenerateKey(signer.ES256)
	if err != nil {
		log.Fatal(err)
	}
	jwk, err := json.Marshal(key.Public())
	if err != nil {
		log.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(jwk, &m)
	fmt.Println(m["kty"], m["crv"], m["alg"], m["use"], m["kid"] == key.Public().Thumbprint())
	// Output: EC P-256 ES256 sig true
}
