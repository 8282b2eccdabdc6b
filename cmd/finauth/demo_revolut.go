package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/signer"
)

// revolutDemo is the demo's Revolut Open Banking leg, over mutual TLS.
type revolutDemo struct {
	URL           string `json:"url"`
	Consents      int    `json:"consents"`
	Authorised    int    `json:"consents_authorised"`
	Payments      int    `json:"payments"`
	TokenRequests int    `json:"token_requests"`
	Refused       int    `json:"refused"`
	Error         string `json:"error,omitempty"`
}

const demoRevolutPayments = 5

// runRevolutDemo creates a payment consent, has it authorised (the request object verified
// by the mock, which redirects with a code), exchanges the code for the user's tokens and
// makes payments with them.
func runRevolutDemo() (res revolutDemo) {
	fail := func(format string, args ...any) revolutDemo {
		res.Error = fmt.Sprintf(format, args...)
		return res
	}
	pki, err := revolutmock.NewPKI()
	if err != nil {
		return fail("%v", err)
	}
	key, err := signer.GenerateRSAKey(signer.PS256, 2048)
	if err != nil {
		return fail("%v", err)
	}
	const clientID, kid, tan, redirect = "demo-app", "demo-signing-key", "app.example", "https://app.example/callback"
	m, err := revolutmock.NewServer(revolutmock.Config{ClientID: clientID, RedirectURIs: []string{redirect},
		Keys: signer.NewKeySet(key.Public().WithKeyID(kid)), TAN: tan, FinancialID: revolut.FinancialID}, pki)
	if err != nil {
		return fail("%v", err)
	}
	defer m.Close()
	res.URL = m.URL
	defer func() {
		st := m.Stats()
		res.Consents, res.Authorised, res.Payments = st.Consents, st.Authorised, st.Payments
		for _, n := range st.Tokens {
			res.TokenRequests += n
		}
		for _, n := range st.Rejections {
			res.Refused += n
		}
	}()
	dir, err := os.MkdirTemp("", "finauth-demo-revolut")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	if err := pki.WriteFiles(dir); err != nil {
		return fail("%v", err)
	}
	tr, err := revolut.NewTransport(revolut.Config{ClientID: clientID, KeyID: kid, Key: key,
		TransportCertFile: filepath.Join(dir, revolutmock.TransportCertFile), TransportKeyFile: filepath.Join(dir, revolutmock.TransportKeyFile),
		CAFile: filepath.Join(dir, revolutmock.CAFile), TokenURL: m.TokenURL(), APIURLs: []string{m.URL}, AuthURL: m.AuthURL(),
		Audience: "https://oba-auth.revolut.com", RedirectURI: redirect, TAN: tan, FinancialID: revolut.FinancialID})
	if err != nil {
		return fail("%v", err)
	}
	defer tr.Close()
	hc := &http.Client{Transport: tr}
	ctx := context.Background()
	var consent struct {
		Data struct {
			ConsentID string `json:"ConsentId"`
		} `json:"Data"`
	}
	if status, err := demoPost(ctx, hc, m.URL+revolutmock.PaymentConsentsPath, `{"Data":{"Initiation":{"InstructedAmount":{"Amount":"10.00","Currency":"GBP"}}},"Risk":{}}`, &consent); err != nil || status != http.StatusCreated {
		return fail("payment consent: %d %v", status, err)
	}
	link, err := tr.Signer().AuthorizationURL(consent.Data.ConsentID, "payments", "demo-state")
	if err != nil {
		return fail("authorisation URL: %v", err)
	}
	back, err := pki.Authorise(link) // the user's browser
	if err != nil {
		return fail("authorisation: %v", err)
	}
	if _, err := tr.ExchangeCode(ctx, consent.Data.ConsentID, back.Query().Get("code")); err != nil {
		return fail("code exchange: %v", err)
	}
	userCtx := revolut.WithConsent(ctx, consent.Data.ConsentID)
	for range demoRevolutPayments {
		body := `{"Data":{"ConsentId":"` + consent.Data.ConsentID + `"},"Risk":{}}`
		if status, err := demoPost(userCtx, hc, m.URL+revolutmock.PaymentsPath, body, nil); err != nil || status != http.StatusCreated {
			return fail("payment: %d %v", status, err)
		}
	}
	return res
}

func demoPost(ctx context.Context, hc *http.Client, u, body string, out any) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
