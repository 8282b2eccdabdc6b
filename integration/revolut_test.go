package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

const redirectURI = "https://app.example/callback"

// revolutSetup starts the mock over mutual TLS and returns it with a configuration that
// reaches it: the transport certificate and the CA written to files, as a user has them.
func revolutSetup(t *testing.T) (*revolutmock.Server, revolut.Config) {
	t.Helper()
	return revolutSetupWith(t, nil)
}

// revolutSetupWith is revolutSetup with the mock's configuration changed by edit.
func revolutSetupWith(t *testing.T, edit func(*revolutmock.Config)) (*revolutmock.Server, revolut.Config) {
	t.Helper()
	pki, err := revolutmock.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	key, err := signer.LoadKeyFile("../signer/testdata/keys/test-rsa-pkcs8.pem")
	if err != nil {
		t.Fatal(err)
	}
	mcfg := revolutmock.Config{ClientID: "client-1", RedirectURIs: []string{redirectURI},
		Keys: signer.NewKeySet(key.Public().WithKeyID("sig-1")), TAN: "app.example", FinancialID: revolut.FinancialID}
	if edit != nil {
		edit(&mcfg)
	}
	m, err := revolutmock.NewServer(mcfg, pki)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	dir := t.TempDir()
	if err := pki.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	return m, revolut.Config{ClientID: "client-1", KeyID: "sig-1", Key: key,
		TransportCertFile: filepath.Join(dir, revolutmock.TransportCertFile), TransportKeyFile: filepath.Join(dir, revolutmock.TransportKeyFile),
		CAFile: filepath.Join(dir, revolutmock.CAFile), TokenURL: m.TokenURL(), APIURLs: []string{m.URL}, AuthURL: m.AuthURL(),
		Audience: "https://oba-auth.revolut.com", RedirectURI: redirectURI, TAN: "app.example", FinancialID: revolut.FinancialID}
}

func newRevolut(t *testing.T, cfg revolut.Config) (*revolut.Transport, *http.Client) {
	t.Helper()
	tr, err := revolut.NewTransport(cfg, revolut.WithRetries(3, time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, &http.Client{Transport: tr}
}

func postJSON(t *testing.T, ctx context.Context, hc *http.Client, u string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func consentID(t *testing.T, ans map[string]any) string {
	t.Helper()
	data, _ := ans["Data"].(map[string]any)
	id, _ := data["ConsentId"].(string)
	if id == "" {
		t.Fatalf("no ConsentId in %v", ans)
	}
	return id
}

// The whole flow over mutual TLS: a payment consent (client-credentials token, signed, with
// an idempotency key), the user's authorisation (the request object verified by the mock,
// a redirect with code and state), the code exchanged for the user's tokens, and the payment
// made with them.
func TestRevolut_ConsentAuthoriseExchangePay(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetup(t)
	tr, hc := newRevolut(t, cfg)
	ctx := context.Background()
	status, ans := postJSON(t, ctx, hc, m.URL+revolutmock.PaymentConsentsPath, map[string]any{"Data": map[string]any{"Initiation": map[string]any{"InstructedAmount": map[string]any{"Amount": "10.00", "Currency": "GBP"}}}, "Risk": map[string]any{}})
	if status != http.StatusCreated {
		t.Fatalf("consent: %d %v (rejections %v)", status, ans, m.Stats().Rejections)
	}
	id := consentID(t, ans)

	link, err := tr.Signer().AuthorizationURL(id, "payments", "state-42")
	if err != nil {
		t.Fatal(err)
	}
	// The user's browser: trusts the server, presents no client certificate, does not follow
	// the redirect to the application.
	back, err := m.PKI.Authorise(link)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(back.String(), redirectURI) || back.Query().Get("state") != "state-42" {
		t.Fatalf("authorisation: %q (rejections %v)", back, m.Stats().Rejections)
	}
	tok, err := tr.ExchangeCode(ctx, id, back.Query().Get("code"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v", err)
	}
	if s := fmt.Sprint(tok); strings.Contains(s, tok.Value) || strings.Contains(s, tok.RefreshToken) {
		t.Fatalf("the token shows its secrets: %s", s)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(verb, tr); strings.Contains(s, tok.RefreshToken) || strings.Contains(s, tok.Value) {
			t.Fatalf("the transport shows a token with %s: %s", verb, s)
		}
	}
	status, ans = postJSON(t, revolut.WithConsent(ctx, id), hc, m.URL+revolutmock.PaymentsPath, map[string]any{"Data": map[string]any{"ConsentId": id}, "Risk": map[string]any{}})
	if status != http.StatusCreated {
		t.Fatalf("payment: %d %v (rejections %v)", status, ans, m.Stats().Rejections)
	}
	st := m.Stats()
	if st.Consents != 1 || st.Payments != 1 || st.Authorised != 1 || st.Tokens["client_credentials"] != 1 || st.Tokens["authorization_code"] != 1 || len(st.Rejections) != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The payment with the client-credentials token is refused: it needs the user's.
	status, _ = postJSON(t, ctx, hc, m.URL+revolutmock.PaymentsPath, map[string]any{"Data": map[string]any{"ConsentId": id}})
	if status != http.StatusForbidden || m.Stats().Rejections[revolutmock.ReasonWrongToken] != 1 {
		t.Fatalf("payment with a client token: %d", status)
	}
}

// 200 concurrent consent POSTs share one client-credentials token; each is its own consent.
func TestRevolut_200ConcurrentConsentsOneToken(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetup(t)
	_, hc := newRevolut(t, cfg)
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, ans := postJSON(t, context.Background(), hc, m.URL+revolutmock.AccountConsentsPath, map[string]any{"Data": map[string]any{"Permissions": []string{"ReadAccountsBasic"}}, "Risk": map[string]any{}}); status != http.StatusCreated {
				t.Errorf("%d %v", status, ans)
			}
		}()
	}
	wg.Wait()
	if st := m.Stats(); st.Tokens["client_credentials"] != 1 || st.Consents != 200 {
		t.Fatalf("stats %+v", st)
	}
}

// A consent POST answered 503, then 401, then created: one consent, the same idempotency key
// on all three attempts, a new signature on each.
func TestRevolut_RetriedAndReplayedConsentIsCreatedOnce(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetup(t)
	tr, hc := newRevolut(t, cfg)
	// Warm the token, then fail the next call with 503 and the one after with 401.
	if status, _ := postJSON(t, context.Background(), hc, m.URL+revolutmock.PaymentConsentsPath, map[string]any{"Data": map[string]any{"n": 0}}); status != http.StatusCreated {
		t.Fatal(status)
	}
	m.Fail503(1)
	m.Fail401(1)
	status, ans := postJSON(t, context.Background(), hc, m.URL+revolutmock.PaymentConsentsPath, map[string]any{"Data": map[string]any{"n": 1}})
	if status != http.StatusCreated {
		t.Fatalf("%d %v", status, ans)
	}
	var attempts []revolutmock.Request
	for _, r := range m.Requests() {
		if r.Path == revolutmock.PaymentConsentsPath {
			attempts = append(attempts, r)
		}
	}
	attempts = attempts[1:] // the warm-up
	if len(attempts) != 3 || attempts[0].IdempotencyKey == "" || attempts[1].IdempotencyKey != attempts[0].IdempotencyKey ||
		attempts[2].IdempotencyKey != attempts[0].IdempotencyKey {
		t.Fatalf("attempts %+v", attempts)
	}
	if attempts[0].JWS == attempts[1].JWS || attempts[1].JWS == attempts[2].JWS {
		t.Fatal("an attempt reused the previous signature")
	}
	if st := m.Stats(); st.Consents != 2 || tr.Replays() != 1 || st.Tokens["client_credentials"] != 2 {
		t.Fatalf("stats %+v, %d replays", st, tr.Replays())
	}
}

// The mock refuses what a real server would, and the refusals come back typed or named.
func TestRevolut_RefusalsAreNamed(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetup(t)
	// A wrong tan: the signature verifies but says another domain.
	bad := cfg
	bad.TAN = "other.example"
	_, hc := newRevolut(t, bad)
	if status, ans := postJSON(t, context.Background(), hc, m.URL+revolutmock.PaymentConsentsPath, map[string]any{"Data": map[string]any{}}); status != http.StatusBadRequest || ans["error"] != revolutmock.ReasonJWS {
		t.Fatalf("wrong tan: %d %v", status, ans)
	}
	// An unknown client: the token endpoint's refusal is a *client.TokenEndpointError.
	unknown := cfg
	unknown.ClientID = "nobody"
	_, err := revolut.Token(context.Background(), unknown, "accounts")
	var te *client.TokenEndpointError
	if !errors.As(err, &te) || te.Status != http.StatusUnauthorized {
		t.Fatalf("unknown client: %v", err)
	}
	// No transport certificate: refused before anything else.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.PKI.CAPEM)
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := plain.PostForm(m.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}, "client_id": {"client-1"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), revolutmock.ReasonNoClientCert) {
		t.Fatalf("no client certificate: %d %s", resp.StatusCode, b)
	}
	// And the client never goes without one: the configuration requires it.
	nocert := cfg
	nocert.TransportCertFile, nocert.TransportKeyFile = "", ""
	if _, err := revolut.NewTransport(nocert); err == nil || !strings.Contains(err.Error(), "REVOLUT_TRANSPORT_CERT_FILE") {
		t.Fatalf("no certificate configured: %v", err)
	}
}

// The user's token is refreshed ahead of expiry with the refresh token (a consent used since
// its token was stored), and the token endpoint's failures are retried.
func TestRevolut_UserTokenRefreshedAheadWithTheRefreshToken(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetup(t)
	tr, hc := newRevolut(t, cfg)
	ctx := context.Background()
	_, ans := postJSON(t, ctx, hc, m.URL+revolutmock.PaymentConsentsPath, map[string]any{"Data": map[string]any{}})
	id := consentID(t, ans)
	link, _ := tr.Signer().AuthorizationURL(id, "payments", "")
	back, err := m.PKI.Authorise(link)
	if err != nil {
		t.Fatal(err)
	}
	// A short-lived user token: the cache refreshes it ahead of expiry. 6 s, not 3: every
	// other token request fails once here, and a fetch with its retry (a 503, then a backoff
	// of up to 2 s) took longer than 3 s in a loaded run, returning a token that had already
	// expired.
	m.SetTokenLifetime(6 * time.Second)
	m.FailTokens(0.5, http.StatusServiceUnavailable, 0) // every other token request fails once
	if _, err := tr.ExchangeCode(ctx, id, back.Query().Get("code")); err != nil {
		t.Fatal(err)
	}
	userCtx := revolut.WithConsent(ctx, id)
	pay := func() {
		t.Helper()
		if status, ans := postJSON(t, userCtx, hc, m.URL+revolutmock.PaymentsPath, map[string]any{"Data": map[string]any{"ConsentId": id}}); status != http.StatusCreated {
			t.Fatalf("payment: %d %v", status, ans)
		}
	}
	pay()
	testwait.Eventually(t, "a refresh_token grant", func() bool { return m.Stats().Tokens["refresh_token"] >= 1 })
	pay()
	if st := m.Stats(); st.Payments != 2 || st.Tokens["authorization_code"] != 1 || st.Rejections[revolutmock.ReasonInjectedToken] == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Each refusal of the mock comes back as a *revolut.APIError naming its reason (token
// endpoint refusals as *client.TokenEndpointError, above).
func TestRevolut_EveryRefusalIsATypedError(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetup(t)
	_, hc := newRevolut(t, cfg)
	ctx := context.Background()
	send := func(ctx context.Context, rt *http.Client, path, body string) error {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := rt.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return revolut.CheckResponse(resp)
	}
	wrongTAN := cfg
	wrongTAN.TAN = "other.example"
	_, badSig := newRevolut(t, wrongTAN)
	noFAPI := cfg
	noFAPI.FinancialID = ""
	_, noFinancialID := newRevolut(t, noFAPI)
	keyed := transport.WithIdempotencyKey(ctx, "same-key")
	cases := []struct {
		name, want string
		status     int
		do         func() error
	}{
		{"x-jws-signature with another tan", revolutmock.ReasonJWS, 400, func() error { return send(ctx, badSig, revolutmock.PaymentConsentsPath, `{"Data":{}}`) }},
		{"no x-fapi-financial-id", revolutmock.ReasonFinancialID, 400, func() error { return send(ctx, noFinancialID, revolutmock.AccountConsentsPath, `{"Data":{}}`) }},
		{"an idempotency key reused with another body", revolutmock.ReasonIdempotencyReuse, 400, func() error {
			if err := send(keyed, hc, revolutmock.AccountConsentsPath, `{"Data":{"a":1}}`); err != nil {
				return err
			}
			return send(keyed, hc, revolutmock.AccountConsentsPath, `{"Data":{"a":2}}`)
		}},
		{"a token of the wrong scope", revolutmock.ReasonScope, 403, func() error {
			return send(revolut.WithScope(ctx, "payments"), hc, revolutmock.AccountConsentsPath, `{"Data":{}}`)
		}},
		{"a payment without its consent's user token", revolutmock.ReasonConsent, 400, func() error {
			return send(ctx, hc, revolutmock.PaymentsPath, `{"Data":{"ConsentId":"nope"}}`)
		}},
		{"503 beyond the retries", revolutmock.ReasonInjected503, 503, func() error {
			m.Fail503(10)
			defer m.Fail503(0)
			return send(ctx, hc, revolutmock.AccountConsentsPath, `{"Data":{}}`)
		}},
		{"401 after the replay", revolutmock.ReasonInjected401, 401, func() error {
			m.Fail401(2)
			return send(ctx, hc, revolutmock.AccountConsentsPath, `{"Data":{}}`)
		}},
	}
	for _, c := range cases {
		err := c.do()
		var ae *revolut.APIError
		if !errors.As(err, &ae) || ae.Code != c.want || ae.Status != c.status || !errors.Is(err, revolut.ErrAPI) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// Two replicas share a store: the one that exchanged the code is not the one that pays and
// refreshes; the other finds the user's token (and its refresh token) in the store.
func TestRevolut_AnotherReplicaUsesAndRefreshesTheUserToken(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetup(t)
	store := tokencache.NewMemoryStore(nil, 0)
	replica := func() (*revolut.Transport, *http.Client) {
		// Tokens live 3 s here: a stored token is usable while more than twice the safety
		// margin remains.
		tr, err := revolut.NewTransport(cfg, revolut.WithTokenStore(store), revolut.WithRetries(3, time.Millisecond, 10*time.Millisecond),
			revolut.WithCacheOptions(tokencache.Options{SafetyMargin: 500 * time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr, &http.Client{Transport: tr}
	}
	a, ahc := replica()
	_, bhc := replica()
	ctx := context.Background()
	_, ans := postJSON(t, ctx, ahc, m.URL+revolutmock.PaymentConsentsPath, map[string]any{"Data": map[string]any{}})
	id := consentID(t, ans)
	link, _ := a.Signer().AuthorizationURL(id, "payments", "")
	back, err := m.PKI.Authorise(link)
	if err != nil {
		t.Fatal(err)
	}
	m.SetTokenLifetime(3 * time.Second)
	if _, err := a.ExchangeCode(ctx, id, back.Query().Get("code")); err != nil {
		t.Fatal(err)
	}
	pay := func() {
		t.Helper()
		if status, ans := postJSON(t, revolut.WithConsent(ctx, id), bhc, m.URL+revolutmock.PaymentsPath, map[string]any{"Data": map[string]any{"ConsentId": id}}); status != http.StatusCreated {
			t.Fatalf("replica b's payment: %d %v", status, ans)
		}
	}
	pay()
	pay() // used since it was stored: refreshed ahead of expiry
	testwait.Eventually(t, "replica b's refresh", func() bool { return m.Stats().Tokens["refresh_token"] >= 1 })
	pay()
	if st := m.Stats(); st.Payments != 3 || st.Tokens["authorization_code"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// zeros is an endless (or n-byte) stream that counts what was read of it.
type zeros struct {
	read atomic.Int64
	n    int64 // 0: endless
}

func (z *zeros) Read(p []byte) (int, error) {
	if z.n > 0 {
		left := z.n - z.read.Load()
		if left <= 0 {
			return 0, io.EOF
		}
		p = p[:min(int64(len(p)), left)]
	}
	clear(p)
	z.read.Add(int64(len(p)))
	return len(p), nil
}

// A streamed body (no GetBody) is read at most up to the 10 MiB bound before anything is
// sent, above the retries (which would read it whole into memory), and one beyond it is
// refused with *transport.BodyTooLargeError and not retried: a 40 MiB stream and an endless
// one alike.
func TestRevolut_AStreamedBodyIsBoundedBeforeTheRetries(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetup(t)
	tr, _ := newRevolut(t, cfg)
	for _, z := range []*zeros{{n: 40 << 20}, {}} {
		req, _ := http.NewRequest(http.MethodPost, m.URL+revolutmock.PaymentConsentsPath, io.NopCloser(z))
		_, err := tr.RoundTrip(req)
		var tooLarge *transport.BodyTooLargeError
		if !errors.As(err, &tooLarge) {
			t.Fatalf("%d-byte stream: %v", z.n, err)
		}
		if read := z.read.Load(); read > transport.DefaultMaxBodyBytes+(64<<10) {
			t.Fatalf("%d bytes of the stream were read, over the %d bound", read, transport.DefaultMaxBodyBytes)
		}
	}
	if st := m.Stats(); st.Consents != 0 {
		t.Fatalf("%d consents made", st.Consents)
	}
}

// A 401 of a user token another replica stored never takes its refresh token with it: the
// replica that adopted the token refreshes it with the refresh token the store keeps apart,
// after the replica that exchanged the code is gone, and so does a replica started later.
func TestRevolut_ARejectedAdoptedUserTokenKeepsItsRefreshToken(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetup(t)
	store := tokencache.NewMemoryStore(nil, 0)
	replica := func() *revolut.Transport {
		tr, err := revolut.NewTransport(cfg, revolut.WithTokenStore(store), revolut.WithRetries(3, time.Millisecond, 10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}
	a := replica()
	ctx := context.Background()
	_, ans := postJSON(t, ctx, &http.Client{Transport: a}, m.URL+revolutmock.PaymentConsentsPath, map[string]any{"Data": map[string]any{}})
	id := consentID(t, ans)
	link, _ := a.Signer().AuthorizationURL(id, "payments", "")
	back, err := m.PKI.Authorise(link)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExchangeCode(ctx, id, back.Query().Get("code")); err != nil {
		t.Fatal(err)
	}
	a.Close() // the replica that exchanged the code restarts
	pay := func(tr *revolut.Transport, who string) {
		t.Helper()
		if status, ans := postJSON(t, revolut.WithConsent(ctx, id), &http.Client{Transport: tr}, m.URL+revolutmock.PaymentsPath, map[string]any{"Data": map[string]any{"ConsentId": id}}); status != http.StatusCreated {
			t.Fatalf("%s's payment: %d %v", who, status, ans)
		}
	}
	b := replica()
	m.Fail401(1) // the API rejects the user token b adopted from the store
	pay(b, "replica b")
	if st := m.Stats(); st.Tokens["refresh_token"] != 1 {
		t.Fatalf("stats %+v: b did not refresh the consent", st)
	}
	pay(replica(), "replica c, started later")
	m.Fail401(1)
	pay(replica(), "replica d, whose adopted token is rejected too")
	if st := m.Stats(); st.Payments != 3 || st.Tokens["authorization_code"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// The request object's aud may be Revolut's issuer of either side of its 2026 change (the
// auth host, or the old one), and nothing else.
func TestRevolut_BothIssuersAreAcceptedAsTheAudience(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetup(t)
	_, hc := newRevolut(t, cfg)
	for aud, ok := range map[string]bool{"https://oba-auth.revolut.com": true, "https://oba.revolut.com": true, "https://evil.example": false} {
		_, ans := postJSON(t, context.Background(), hc, m.URL+revolutmock.PaymentConsentsPath, map[string]any{"Data": map[string]any{}})
		c := cfg
		c.Audience = aud
		s, err := revolut.NewSigner(c)
		if err != nil {
			t.Fatal(err)
		}
		link, _ := s.AuthorizationURL(consentID(t, ans), "payments", "")
		back, err := m.PKI.Authorise(link)
		if got := err == nil && back.Query().Get("code") != ""; got != ok {
			t.Errorf("aud %s: authorised %v (%v)", aud, got, err)
		}
	}
}
