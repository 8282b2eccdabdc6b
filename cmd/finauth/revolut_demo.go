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

func (revolutCLI) demo() demoLeg { return &revolutLeg{} }

// revolutLeg, after the traffic: a payment consent, its authorisation (the request object
// verified by the mock, which redirects with a code), the code exchange for the user's
// tokens, and payments made with them, over mutual TLS.
type revolutLeg struct {
	pki *revolutmock.PKI
	m   *revolutmock.Server
	tr  *revolut.Transport
	dir string
	err error
}

func (l *revolutLeg) start(say sayFunc) error {
	var err error
	if l.pki, err = revolutmock.NewPKI(); err != nil {
		return err
	}
	key, err := signer.GenerateRSAKey(signer.PS256, 2048)
	if err != nil {
		return err
	}
	const clientID, kid, tan, redirect = "demo-app", "demo-signing-key", "app.example", "https://app.example/callback"
	if l.m, err = revolutmock.NewServer(revolutmock.Config{ClientID: clientID, RedirectURIs: []string{redirect},
		Keys: signer.NewKeySet(key.Public().WithKeyID(kid)), TAN: tan, FinancialID: revolut.FinancialID}, l.pki); err != nil {
		return err
	}
	if l.dir, err = os.MkdirTemp("", "finauth-demo-revolut"); err != nil {
		return err
	}
	if err := l.pki.WriteFiles(l.dir); err != nil {
		return err
	}
	if l.tr, err = revolut.NewTransport(revolut.Config{ClientID: clientID, KeyID: kid, Key: key,
		TransportCertFile: filepath.Join(l.dir, revolutmock.TransportCertFile), TransportKeyFile: filepath.Join(l.dir, revolutmock.TransportKeyFile),
		CAFile: filepath.Join(l.dir, revolutmock.CAFile), TokenURL: l.m.TokenURL(), APIURLs: []string{l.m.URL}, AuthURL: l.m.AuthURL(),
		Audience: "https://oba-auth.revolut.com", RedirectURI: redirect, TAN: tan, FinancialID: revolut.FinancialID}); err != nil {
		return err
	}
	say("  Revolut mock %s: mutual TLS, request objects, x-jws-signature; after the traffic, a payment consent, its authorisation, the code exchange, %d payments.", l.m.URL, demoRevolutPayments)
	return nil
}

func (l *revolutLeg) kinds() int { return 0 }

func (l *revolutLeg) send(int, int, int) (*http.Client, *http.Request, int) { return nil, nil, 0 }

func (l *revolutLeg) midway() {}

func (l *revolutLeg) after(sayFunc) error {
	hc := &http.Client{Transport: l.tr}
	ctx := context.Background()
	var consent struct {
		Data struct {
			ConsentID string `json:"ConsentId"`
		} `json:"Data"`
	}
	fail := func(format string, args ...any) error {
		l.err = fmt.Errorf(format, args...)
		return l.err
	}
	if status, err := demoPost(ctx, hc, l.m.URL+revolutmock.PaymentConsentsPath, `{"Data":{"Initiation":{"InstructedAmount":{"Amount":"10.00","Currency":"GBP"}}},"Risk":{}}`, &consent); err != nil || status != http.StatusCreated {
		return fail("payment consent: %d %v", status, err)
	}
	link, err := l.tr.Signer().AuthorizationURL(consent.Data.ConsentID, "payments", "demo-state")
	if err != nil {
		return fail("authorisation URL: %v", err)
	}
	back, err := l.pki.Authorise(link) // the user's browser
	if err != nil {
		return fail("authorisation: %v", err)
	}
	if _, err := l.tr.ExchangeCode(ctx, consent.Data.ConsentID, back.Query().Get("code")); err != nil {
		return fail("code exchange: %v", err)
	}
	userCtx := revolut.WithConsent(ctx, consent.Data.ConsentID)
	for range demoRevolutPayments {
		body := `{"Data":{"ConsentId":"` + consent.Data.ConsentID + `"},"Risk":{}}`
		if status, err := demoPost(userCtx, hc, l.m.URL+revolutmock.PaymentsPath, body, nil); err != nil || status != http.StatusCreated {
			return fail("payment: %d %v", status, err)
		}
	}
	return nil
}

func (l *revolutLeg) report(res *demoResult, _, _ int) bool {
	st := l.m.Stats()
	res.Revolut = revolutDemo{URL: l.m.URL, Consents: st.Consents, Authorised: st.Authorised, Payments: st.Payments}
	for _, n := range st.Tokens {
		res.Revolut.TokenRequests += n
	}
	for _, n := range st.Rejections {
		res.Revolut.Refused += n
	}
	if l.err != nil {
		res.Revolut.Error = l.err.Error()
	}
	return l.err == nil
}

func (l *revolutLeg) describe(say sayFunc, res demoResult) {
	r := res.Revolut
	say("Revolut Open Banking (mutual TLS, x-jws-signature, idempotency keys), mock %s:", r.URL)
	say("  %d payment consent created with a client-credentials token, %d authorised through a PS256 request object, %d payments made with the user's token from the code exchange; %d token requests, %d refusals.", r.Consents, r.Authorised, r.Payments, r.TokenRequests, r.Refused)
}

func (l *revolutLeg) close() {
	if l.tr != nil {
		l.tr.Close()
	}
	if l.m != nil {
		l.m.Close()
	}
	if l.dir != "" {
		os.RemoveAll(l.dir)
	}
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
