package pismo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"

	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/signer"
)

// Call Pismo with tokens handled for you: here against the strict mock, with a test key.
// In production, pismo.ConfigFromEnv() fills the same configuration from PISMO_*.
func ExampleNewClient() {
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-rsa-pkcs8.pem") // test-only key
	if err != nil {
		log.Fatal(err)
	}
	mock, err := pismomock.NewServer(pismomock.Config{
		Keys:   signer.NewKeySet(key.Public()),
		Issuer: "me@tenant", Subject: "me@tenant", Audience: "https://sandbox.pismolabs.io",
		TenantID: "test-pbrj4", Group: "pismo-v2:bankaccounts:rw",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer mock.Close()

	hc, err := pismo.NewClient(pismo.Config{
		TokenURL: mock.TokenURL(), // PISMO_TOKEN_URL; API origin defaults to the same host
		Key:      key,             // or PrivateKeyFile / PrivateKeyPEM (+ PrivateKeyPassword)
		Issuer:   "me@tenant", Subject: "me@tenant", Audience: "https://sandbox.pismolabs.io",
		TenantID: "test-pbrj4", Group: "pismo-v2:bankaccounts:rw",
	})
	if err != nil {
		log.Fatal(err)
	}

	// An account-specific token, for this request only.
	ctx := pismo.WithAccount(context.Background(), "12345")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, mock.URL+"/accounts/12345", nil)
	resp, err := hc.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var echo pismomock.Echo
	json.NewDecoder(resp.Body).Decode(&echo)
	fmt.Println(resp.StatusCode, echo.Path, echo.UID, mock.Stats().Exchanges)
	// Output: 200 /accounts/12345 12345 1
}
