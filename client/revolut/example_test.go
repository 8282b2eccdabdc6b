package revolut_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/integration/revolutmock"
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

// The whole flow against the strict mock (mutual TLS): a payment consent with the
// client-credentials token, the user's authorisation, the code exchange, the payment with the
// user's token.
func Example_paymentFlow() {
	pki, _ := revolutmock.NewPKI()
	key, _ := signer.LoadKeyFile("../../signer/testdata/keys/test-rsa-pkcs8.pem")
	m, err := revolutmock.NewServer(revolutmock.Config{ClientID: "my-app", RedirectURIs: []string{"https://app.example/cb"},
		Keys: signer.NewKeySet(key.Public().WithKeyID("sig-1")), TAN: "app.example"}, pki)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	dir, _ := os.MkdirTemp("", "revolut-example")
	defer os.RemoveAll(dir)
	pki.WriteFiles(dir) // ca.pem, transport.pem, transport.key

	tr, err := revolut.NewTransport(revolut.Config{ClientID: "my-app", KeyID: "sig-1", Key: key,
		TransportCertFile: filepath.Join(dir, "transport.pem"), TransportKeyFile: filepath.Join(dir, "transport.key"),
		CAFile: filepath.Join(dir, "ca.pem"), TokenURL: m.TokenURL(), APIURLs: []string{m.URL}, AuthURL: m.AuthURL(),
		Audience: "https://oba-auth.revolut.com", RedirectURI: "https://app.example/cb", TAN: "app.example"})
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	hc := &http.Client{Transport: tr}

	resp, err := hc.Post(m.URL+"/domestic-payment-consents", "application/json", strings.NewReader(`{"Data":{"Initiation":{}},"Risk":{}}`))
	if err != nil {
		log.Fatal(err)
	}
	var consent struct{ Data struct{ ConsentId string } }
	json.NewDecoder(resp.Body).Decode(&consent)
	resp.Body.Close()
	fmt.Println("consent:", resp.Status)

	link, _ := tr.Signer().AuthorizationURL(consent.Data.ConsentId, "payments", "st")
	back, err := pki.Authorise(link) // the user approves; your redirect URI receives ?code=...&state=st
	if err != nil {
		log.Fatal(err)
	}
	if _, err := tr.ExchangeCode(context.Background(), consent.Data.ConsentId, back.Query().Get("code")); err != nil {
		log.Fatal(err)
	}

	ctx := revolut.WithConsent(context.Background(), consent.Data.ConsentId)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/domestic-payments",
		strings.NewReader(`{"Data":{"ConsentId":"`+consent.Data.ConsentId+`"},"Risk":{}}`))
	resp, err = hc.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("payment:", resp.Status)
	// Output:
	// consent: 201 Created
	// payment: 201 Created
}

// The self-signed software statement of the sandbox and eIDAS certificates: an unsigned
// JWT naming your JWKS URL and your organisation.
func ExampleSelfSignedSSA() {
	ssa, err := revolut.SelfSignedSSA(revolut.SoftwareStatement{JWKSURL: "https://keys.example.com/jwks.json", OrgName: "Example Payments Ltd"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ssa)
	// Output: eyJhbGciOiJub25lIn0.eyJvcmdfandrc19lbmRwb2ludCI6Imh0dHBzOi8va2V5cy5leGFtcGxlLmNvbS9qd2tzLmpzb24iLCJvcmdfbmFtZSI6IkV4YW1wbGUgUGF5bWVudHMgTHRkIn0.
}
