package clientcredentials_test

import (
	"encoding/json"
	"fmt"
	"log"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/integration/miamock"
	"github.com/finauth/finauth/signer"
)

// Call an API with Mia-Platform client-credentials tokens: here against the strict mock,
// with a test key registered as its public JWK. In production,
// clientcredentials.MiaConfigFromEnv() fills the same configuration from MIA_*.
func ExampleNewClient() {
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-rsa-pkcs8.pem") // test-only key
	if err != nil {
		log.Fatal(err)
	}
	mock, err := miamock.NewServer(miamock.Config{Issuer: "https://mia.example/issuer"})
	if err != nil {
		log.Fatal(err)
	}
	defer mock.Close()
	jwk, _ := json.Marshal(key.Public().WithKeyID("my-key-1")) // what you register: kty, use, alg, kid, n, e
	if err := mock.Register("orders-service", jwk); err != nil {
		log.Fatal(err)
	}

	hc, err := clientcredentials.NewClient(clientcredentials.Config{
		TokenURL: mock.TokenURL(),              // MIA_TOKEN_URL
		APIURLs:  []string{mock.URL},           // MIA_API_URL: the origins that receive the token
		ClientID: "orders-service",             // MIA_CLIENT_ID
		Key:      key,                          // or PrivateKeyFile (+ PrivateKeyPassword)
		KeyID:    "my-key-1",                   // MIA_KEY_ID
		Audience: "https://mia.example/issuer", // MIA_AUDIENCE: the service's issuer
	})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := hc.Get(mock.URL + "/orders")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var echo miamock.Echo
	json.NewDecoder(resp.Body).Decode(&echo)
	fmt.Println(resp.StatusCode, echo.ClientID, mock.Stats().Tokens)
	// Output: 200 orders-service 1
}
