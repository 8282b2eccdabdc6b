package revolut_test

import (
	"fmt"
	"log"
	"net/url"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/signer"
)

// The URL to send a user to so that they approve a consent: Revolut's authorisation UI with
// the PS256 request object in "request".
func ExampleSigner_AuthorizationURL() {
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-rsa-pkcs8.pem") // your signing key
	if err != nil {
		log.Fatal(err)
	}
	s, err := revolut.NewSigner(revolut.Config{Env: revolut.Sandbox, ClientID: "your-client-id", KeyID: "your-kid",
		Key: key, RedirectURI: "https://app.example/callback"})
	if err != nil {
		log.Fatal(err)
	}
	raw, err := s.AuthorizationURL("the-consent-id", "payments", "opaque-state")
	if err != nil {
		log.Fatal(err)
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	fmt.Println(u.Host + u.Path)
	fmt.Println(q.Get("response_type"), q.Get("scope"), q.Get("state"), q.Get("request") != "")
	// Output:
	// sandbox-oba.revolut.com/ui/index.html
	// code id_token payments opaque-state true
}
