package soldo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"

	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/signer"
)

// Sign every request to Soldo: here against the strict mock, which verifies the signature
// over the method, host, path, query and exact body it received. In production,
// soldo.ConfigFromEnv() fills the same configuration from SOLDO_*.
func ExampleNewClient() {
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-ec-p256-pkcs8.pem") // test-only key
	if err != nil {
		log.Fatal(err)
	}
	mock, err := soldomock.NewServer(soldomock.Config{Members: map[string][]*signer.PublicKey{
		"m:test:1": {key.Public().WithKeyID("ec-1")}, // the key as registered with Soldo
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer mock.Close()

	hc, err := soldo.NewClient(soldo.Config{
		APIURLs:  []string{mock.URL}, // SOLDO_API_URL: the origins whose requests are signed
		Key:      key,                // or PrivateKeyFile / PrivateKeyPEM (+ PrivateKeyPassword)
		KeyID:    "ec-1",
		MemberID: "m:test:1",
	})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := hc.Post(mock.URL+"/banks/iron/consents?ref=42", "application/json", bytes.NewReader([]byte(`{"amount": "2.00"}`)))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var echo soldomock.Echo
	json.NewDecoder(resp.Body).Decode(&echo)
	fmt.Println(resp.StatusCode, echo.Method, echo.Path, echo.Query, echo.Algorithm, echo.Detached)
	// Output: 200 POST /banks/iron/consents ref=42 ES256 true
}
