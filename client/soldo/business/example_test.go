package business_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/finauth/finauth/client/soldo/business"
	"github.com/finauth/finauth/integration/soldobizmock"
	"github.com/finauth/finauth/signer"
)

// Call the Soldo Business API: here against the strict mock, which checks the token, the
// internal token and, on advanced endpoints, the fingerprint and its signature with the
// uploaded public key. In production, business.ConfigFromEnv() fills the same configuration
// from SOLDO_BUSINESS_*.
func ExampleNewClient() {
	key, err := signer.LoadKeyFile("../../../signer/testdata/keys/test-rsa-pkcs8.pem") // test-only key
	if err != nil {
		log.Fatal(err)
	}
	mock, err := soldobizmock.NewServer(soldobizmock.Config{ClientID: "my-client", ClientSecret: "my-secret", InternalToken: "my-internal-token",
		PublicKey: key.Signer().Public().(*rsa.PublicKey)}) // the public key as uploaded to Soldo
	if err != nil {
		log.Fatal(err)
	}
	defer mock.Close()

	hc, err := business.NewClient(business.Config{
		APIURL:        mock.URL, // business.ProductionURL or business.DemoURL
		ClientID:      "my-client",
		ClientSecret:  "my-secret",
		InternalToken: "my-internal-token",
		Key:           key, // or PrivateKeyFile (a path, pkcs11: or awskms:) / PrivateKeyPEM
	})
	if err != nil {
		log.Fatal(err)
	}
	// An advanced endpoint of the table: fingerprinted and signed.
	resp, err := hc.Get(mock.URL + "/business/v2/transactions?type=company&fromDate=2026-01-01&status=Settled")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("search:", resp.StatusCode)

	// A transfer: the fields come from the path and the form body.
	resp, err = hc.Do(mustRequest(http.MethodPut, mock.URL+"/business/v2/wallets/internalTransfer/main-eur/team-eur", "amount=25.50&currencyCode=EUR"))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("transfer:", resp.StatusCode)

	// A write whose order finauth does not know fails before it is sent.
	_, err = hc.Post(mock.URL+"/business/v2/rockets", "application/json", strings.NewReader(`{}`))
	fmt.Println("unknown write refused:", errors.Is(err, business.ErrFingerprintOrderUnknown))

	// Give the order for one request (from Soldo's "Fingerprint order" page).
	req := mustRequest(http.MethodPut, mock.URL+"/business/v2/wallets/internalTransfer/a/b", "amount=1&currencyCode=EUR")
	req = req.WithContext(business.WithFingerprintOrder(context.Background(), "amount", "currencyCode", "fromWalletId", "toWalletId", "token"))
	resp, err = hc.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("with an order:", resp.StatusCode, "token requests:", mock.Stats().Tokens)
	// Output:
	// search: 200
	// transfer: 200
	// unknown write refused: true
	// with an order: 200 token requests: 1
}

func mustRequest(method, url, body string) *http.Request {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // what Soldo's transfer takes
	return req
}
