package integration_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/finauth/finauth/client/soldo/business"
	"github.com/finauth/finauth/integration/soldobizmock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

const (
	bizClientID      = "biz-client"
	bizClientSecret  = "biz-secret-Zq9"
	bizInternalToken = "biz-internal-Xy7"
)

// soldoBiz starts the strict mock with the test RSA key uploaded, and returns it with a
// configuration that works against it.
func soldoBiz(t *testing.T) (*soldobizmock.Server, business.Config, *signer.Key) {
	t.Helper()
	key, err := signer.LoadKeyFile("../signer/testdata/keys/test-rsa-pkcs8.pem")
	if err != nil {
		t.Fatal(err)
	}
	m, err := soldobizmock.NewServer(soldobizmock.Config{ClientID: bizClientID, ClientSecret: bizClientSecret, InternalToken: bizInternalToken,
		PublicKey: key.Signer().Public().(*rsa.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, business.Config{APIURL: m.URL, ClientID: bizClientID, ClientSecret: bizClientSecret, InternalToken: bizInternalToken, Key: key}, key
}

func bizClient(t *testing.T, cfg business.Config, opts ...business.Option) (*business.Transport, *http.Client) {
	t.Helper()
	tr, err := business.NewTransport(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, &http.Client{Transport: tr}
}

func bizDo(t *testing.T, hc *http.Client, method, url, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, r)
	switch {
	case strings.HasPrefix(body, "{"):
		req.Header.Set("Content-Type", "application/json")
	case body != "":
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Standard and advanced endpoints of the Business API, as Soldo's pages describe them,
// against the strict mock: whoami, a transaction, a search with several filters, an internal
// transfer with a JSON body, a standard read; one token request for all of them.
func TestSoldoBusiness_StandardAndAdvancedEndpoints(t *testing.T) {
	t.Parallel()
	m, cfg, _ := soldoBiz(t)
	tr, hc := bizClient(t, cfg)
	calls := []struct{ method, path, body string }{
		{"GET", "/business/v2/ping/whoami", ""},
		{"GET", "/business/v2/transactions/1309-189704842", ""},
		{"GET", "/business/v2/transactions?type=company&fromDate=2026-01-01&toDate=2026-01-31&status=Settled&text=caf%C3%A9%20%26%20co&dateType=TRANSACTION&requiredInformation=RECEIPT", ""},
		{"PUT", "/business/v2/wallets/internalTransfer/w-main/w-team", "amount=120.50&currencyCode=EUR"},
		{"PUT", "/business/v2/wallets/internalTransfer/w-main/w%2Fteam", "currencyCode=GBP&amount=7"},
		{"POST", "/business/v2/cards", `{"request_timestamp": 1765100000000, "owner_type": "company", "wallet_id": "w-1", "label": "fuel"}`},
		{"POST", "/business/v2/transactions/mileage-reimbursements", `{"request_timestamp": 1, "date": "2026-12-01", "owner_id": "u-1", "mileage": {"vehicle_id": "v-1", "reimbursement_rate": 0.42, "distance": 120.5, "round_trip": true}}`},
		{"GET", "/business/v2/wallets", ""},
	}
	for _, c := range calls {
		if code, body := bizDo(t, hc, c.method, m.URL+c.path, c.body); code != http.StatusOK {
			t.Errorf("%s %s: %d %s", c.method, c.path, code, body)
		}
	}
	st := m.Stats()
	if st.Tokens != 1 || st.Verified != 6 || st.Transfers != 2 || len(st.APIDenials) != 0 {
		t.Fatalf("%d token requests (want 1), %d fingerprints verified (want 6), %d transfers, refusals %v", st.Tokens, st.Verified, st.Transfers, st.APIDenials)
	}
	if s := tr.Stats(); s.Fetches != 1 {
		t.Fatalf("Stats: %d fetches", s.Fetches)
	}
}

// What Soldo refuses, the mock refuses, and finauth says what is wrong without sending a
// guess: a wrong order, a wrong key, a wrong internal token, an unknown write, no key.
func TestSoldoBusiness_RefusalsAndFailuresBeforeSending(t *testing.T) {
	t.Parallel()
	m, cfg, _ := soldoBiz(t)
	_, hc := bizClient(t, cfg)

	// a wrong order given per request: the mock recomputes and refuses
	req, _ := http.NewRequestWithContext(business.WithFingerprintOrder(context.Background(), "currencyCode", "amount", "fromWalletId", "toWalletId", "token"),
		"PUT", m.URL+"/business/v2/wallets/internalTransfer/a/b", strings.NewReader("amount=1&currencyCode=EUR"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := hc.Do(req); err != nil || resp.StatusCode != 400 {
		t.Fatalf("wrong order: %v %v", resp, err)
	}
	// Soldo answers a bad fingerprint 400 INVALID_FINGERPRINT: no new token, no replay.
	if n := m.Stats().APIDenials[soldobizmock.ReasonFingerprint]; n != 1 || m.Stats().Tokens != 1 {
		t.Fatalf("wrong order: %v, %d token requests", m.Stats().APIDenials, m.Stats().Tokens)
	}

	// a key Soldo does not know
	other, err := signer.GenerateRSAKey(signer.RS256, 2048)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := cfg
	wrongKey.Key = other
	_, hcKey := bizClient(t, wrongKey)
	if code, _ := bizDo(t, hcKey, "GET", m.URL+"/business/v2/transactions/tx-1", ""); code != 400 || m.Stats().APIDenials[soldobizmock.ReasonSignature] != 1 {
		t.Fatalf("wrong key: %d %v", code, m.Stats().APIDenials)
	}

	// a wrong internal token
	wrongInternal := cfg
	wrongInternal.InternalToken = "not-it"
	_, hcInt := bizClient(t, wrongInternal)
	if code, _ := bizDo(t, hcInt, "GET", m.URL+"/business/v2/wallets", ""); code != 401 || m.Stats().APIDenials[soldobizmock.ReasonInternalToken] < 1 {
		t.Fatalf("wrong internal token: %d %v", code, m.Stats().APIDenials)
	}

	// a write the table does not know: an error naming the endpoint and the fix, nothing sent
	before := m.Stats().APICalls
	req, _ = http.NewRequest("POST", m.URL+"/business/v2/rockets", strings.NewReader(`{"name":"x"}`))
	_, err = hc.Do(req)
	if !errors.Is(err, business.ErrFingerprintOrderUnknown) || !strings.Contains(err.Error(), "/business/v2/rockets") || !strings.Contains(err.Error(), "WithFingerprintOrder") {
		t.Fatalf("unknown write: %v", err)
	}
	// no key: standard endpoints work, advanced ones fail before they are sent
	noKey := cfg
	noKey.Key = nil
	_, hcNoKey := bizClient(t, noKey)
	if code, _ := bizDo(t, hcNoKey, "GET", m.URL+"/business/v2/wallets", ""); code != 200 {
		t.Fatalf("standard call without a key: %d", code)
	}
	req, _ = http.NewRequest("GET", m.URL+"/business/v2/transactions/tx-1", nil)
	if _, err := hcNoKey.Do(req); !errors.Is(err, business.ErrNoFingerprintKey) || !strings.Contains(err.Error(), "SOLDO_BUSINESS_PRIVATE_KEY_FILE") {
		t.Fatalf("advanced call without a key: %v", err)
	}
	after := m.Stats().APICalls
	if fmt.Sprint(after[401]) != fmt.Sprint(before[401]) || after[200] != before[200]+1 {
		t.Fatalf("something was sent for the failed requests: before %v after %v", before, after)
	}
}

// A token revoked every n uses costs one token request per revocation, and no call fails.
func TestSoldoBusiness_RevocationsCostOneTokenRequestEach(t *testing.T) {
	t.Parallel()
	m, cfg, _ := soldoBiz(t)
	m.RevokeEvery(25)
	_, hc := bizClient(t, cfg)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				path := "/business/v2/transactions/tx-" + fmt.Sprint(w, i)
				body := ""
				method := "GET"
				if i%5 == 0 {
					method, path, body = "PUT", "/business/v2/wallets/internalTransfer/a/b", "amount=1&currencyCode=EUR"
				}
				req, _ := http.NewRequest(method, m.URL+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := hc.Do(req)
				if err != nil || resp.StatusCode != 200 {
					mu.Lock()
					failed++
					mu.Unlock()
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	st := m.Stats()
	if failed != 0 || st.Revoked == 0 || st.Tokens != st.Revoked+1 {
		t.Fatalf("%d failed; %d revoked, %d token requests (want one per revocation plus the first)", failed, st.Revoked, st.Tokens)
	}
}

// Replicas sharing a store make one token request between them; the tokens are shared
// under an identity of this client only (another client ID gets its own).
func TestSoldoBusiness_ReplicasShareTheTokenThroughAStore(t *testing.T) {
	t.Parallel()
	m, cfg, _ := soldoBiz(t)
	store := tokencache.NewMemoryStore(nil, 0)
	for range 3 {
		_, hc := bizClient(t, cfg, business.WithTokenStore(store))
		if code, body := bizDo(t, hc, "GET", m.URL+"/business/v2/ping/whoami", ""); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	if n := m.Stats().Tokens; n != 1 {
		t.Fatalf("%d token requests for 3 replicas sharing a store", n)
	}
	other := cfg
	other.ClientID = "someone-else"
	tr, err := business.NewTransport(other, business.WithTokenStore(store))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// its own token request, refused (the mock knows one client): it was not handed the
	// first client's token
	_, err = (&http.Client{Transport: tr}).Get(m.URL + "/business/v2/wallets")
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || m.Stats().Rejections[soldobizmock.ReasonClient] != 1 {
		t.Fatalf("another client was handed the first client's token: %v", err)
	}
}

// The internal token and the token go to the API base only: a redirect to another origin
// carries neither, and a request to another origin is refused.
func TestSoldoBusiness_CredentialsGoOnlyToTheAPI(t *testing.T) {
	t.Parallel()
	m, cfg, _ := soldoBiz(t)
	var seen http.Header
	var mu sync.Mutex
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
	}))
	defer elsewhere.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/x", http.StatusFound)
	}))
	defer redirect.Close()
	_, hc := bizClient(t, cfg)
	if _, err := hc.Get(elsewhere.URL + "/business/v2/wallets"); err == nil {
		t.Fatal("a request to another origin was sent")
	}
	// the API redirects (the mock's base is the only allowed origin: serve the redirect there)
	cfgR := cfg
	cfgR.APIURL = redirect.URL
	cfgR.TokenURL = m.TokenURL()
	_, hcR := bizClient(t, cfgR)
	resp, err := hcR.Get(redirect.URL + "/business/v2/wallets")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if seen == nil || seen.Get("Authorization") != "" || seen.Get(business.HeaderInternalToken) != "" {
		t.Fatalf("the redirect hop to another origin carried credentials: %v", seen)
	}
}

// No secret in any output: the configuration and transport in every fmt verb, JSON, slog
// (text and JSON), and the errors of a refused request.
func TestSoldoBusiness_SecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	m, cfg, _ := soldoBiz(t)
	cfg.PrivateKeyPassword = "pw-Secret-42"
	tr, hc := bizClient(t, business.Config{APIURL: cfg.APIURL, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, InternalToken: cfg.InternalToken, Key: cfg.Key})
	bizDo(t, hc, "GET", m.URL+"/business/v2/ping/whoami", "")
	var out bytes.Buffer
	for _, v := range []any{cfg, &cfg, tr} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		j, _ := json.Marshal(v)
		out.Write(j)
		slog.New(slog.NewTextHandler(&out, nil)).Info("x", "v", v)
		slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "v", v)
	}
	_, err := hc.Post(m.URL+"/business/v2/rockets", "application/json", strings.NewReader("{}"))
	fmt.Fprint(&out, err)
	for _, secret := range []string{bizClientSecret, bizInternalToken, "pw-Secret-42", fmt.Sprintf("%x", bizInternalToken)} {
		if strings.Contains(out.String(), secret) {
			t.Fatalf("a secret (%.4s...) in the output:\n%s", secret, out.String())
		}
	}
}
