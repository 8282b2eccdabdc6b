package integration_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/client/soldo/business"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/testkit/telemetrytest"
	"github.com/finauth/finauth/tokencache"
)

// account is the account of the account-token requests: an ID long enough to be searched for.
const account = "4242424242"

// keyMaterial is the base64 body of a PEM key file, line by line: none of it may reach the
// telemetry.
func keyMaterial(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}

// Every flow of Pismo (its three methods, account tokens, a 401 replay, a shared store),
// Mia-Platform and Soldo with a recording SDK: the instruments and spans are there, and no
// token, JWT, signature, client secret, key or account ID is in any metric attribute or span.
func TestTelemetry_NoSecretInAnyAttributeOrSpan(t *testing.T) {
	t.Parallel()
	rec := telemetrytest.New(t)
	var secrets telemetrytest.Secrets
	secrets.Add(account, oauthSecret, secretKey, serverKey)
	secrets.Add(keyMaterial(t, keyFile)...)
	otel := func(t *testing.T) []pismo.Option {
		return []pismo.Option{pismo.WithMeterProvider(rec.Meter), pismo.WithTracerProvider(rec.Tracer),
			pismo.WithTokenHTTPClient(&http.Client{Transport: secrets.Transport(nil)}), pismo.WithBaseTransport(secrets.Transport(nil)),
			pismo.WithTokenStore(tokencache.NewMemoryStore(nil, 0)),
			pismo.WithOnTokenChange(func(c tokencache.TokenChange) { secrets.Add(c.Token.Value, c.Token.RefreshToken) })}
	}
	accounts := func(c *pismomock.Config) {
		withMethods(c)
		c.Accounts = append(c.Accounts, account)
	}
	for _, method := range []pismo.AuthMethod{pismo.OpenID, pismo.OAuth2, pismo.Basic} {
		tweak := methodConfig(method)
		if method == pismo.OpenID {
			tweak = nil
		}
		e := newPismo(t, accounts, tweak, otel(t)...)
		for range 3 {
			if _, status, err := e.call(context.Background(), http.MethodGet, "/cards/v1/cards", nil); err != nil || status != 200 {
				t.Fatalf("%s: %d %v", method, status, err)
			}
		}
		actx := pismo.WithAccount(context.Background(), account)
		if _, status, err := e.call(actx, http.MethodGet, "/accounts/"+account, nil); err != nil || status != 200 {
			t.Fatalf("%s account %s: %d %v", method, account, status, err)
		}
		e.mock.Fail401(1) // a 401 refreshed and replayed
		if _, status, err := e.call(context.Background(), http.MethodGet, "/cards/v1/cards", nil); err != nil || status != 200 {
			t.Fatalf("%s after a 401: %d %v", method, status, err)
		}
	}

	m, key := newMia(t, nil)
	mc, err := clientcredentials.NewTransport(miaConfig(m, key), clientcredentials.WithMeterProvider(rec.Meter), clientcredentials.WithTracerProvider(rec.Tracer),
		clientcredentials.WithTokenHTTPClient(&http.Client{Transport: secrets.Transport(nil)}), clientcredentials.WithBaseTransport(secrets.Transport(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mc.Close() })
	for range 3 {
		resp, err := (&http.Client{Transport: mc}).Post(m.URL+"/orders", "application/json", strings.NewReader(`{"amount":"3.00"}`))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("mia: %v %v", err, resp)
		}
		resp.Body.Close()
	}

	sm := newSoldoMock(t, nil)
	hc := newSoldoClient(t, soldoConfig(t, sm.URL, 0), soldo.WithMeterProvider(rec.Meter), soldo.WithTracerProvider(rec.Tracer), soldo.WithBaseTransport(secrets.Transport(nil)))
	secrets.Add(keyMaterial(t, soldoKeys[0].file)...)
	for range 3 {
		req, _ := http.NewRequest(http.MethodPost, sm.URL+"/banks/iron/consents", bytes.NewReader([]byte(`{"amount":"5.00"}`)))
		doSoldo(t, hc, req)
	}

	bm, bcfg, _ := soldoBiz(t)
	secrets.Add(bizClientSecret, bizInternalToken)
	bt, err := business.NewTransport(bcfg, business.WithMeterProvider(rec.Meter), business.WithTracerProvider(rec.Tracer),
		business.WithTokenHTTPClient(&http.Client{Transport: secrets.Transport(nil)}), business.WithBaseTransport(secrets.Transport(nil)),
		business.WithOnTokenChange(func(c tokencache.TokenChange) { secrets.Add(c.Token.Value, c.Token.RefreshToken) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bt.Close() })
	for _, path := range []string{"/business/v2/wallets", "/business/v2/transactions/tx-1", "/business/v2/transactions?type=company"} {
		resp, err := (&http.Client{Transport: bt}).Get(bm.URL + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("soldo business %s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}

	ms := rec.Metrics(t)
	for _, c := range []struct {
		name  string
		attrs []string
	}{
		{"finauth.token.fetches", []string{"finauth.provider=pismo", "finauth.outcome=ok"}},
		{"finauth.token.fetches", []string{"finauth.provider=clientcredentials", "finauth.outcome=ok"}},
		{"finauth.token.fetch.duration", []string{"finauth.provider=pismo"}},
		{"finauth.token.lookups", []string{"finauth.provider=pismo", "finauth.result=hit"}},
		{"finauth.token.lookups", []string{"finauth.provider=clientcredentials", "finauth.result=miss"}},
		{"finauth.token.replays", []string{"finauth.provider=pismo"}},
		{"finauth.token.expiry", []string{"finauth.provider=pismo"}},
		{"finauth.signatures", []string{"finauth.provider=pismo", "finauth.alg=RS256"}},
		{"finauth.signatures", []string{"finauth.provider=clientcredentials", "finauth.alg=RS256"}},
		{"finauth.signatures", []string{"finauth.provider=soldo", "finauth.alg=ES256"}},
		{"finauth.signature.duration", []string{"finauth.provider=soldo"}},
		{"finauth.token.fetches", []string{"finauth.provider=soldo-business", "finauth.outcome=ok"}},
		{"finauth.signatures", []string{"finauth.provider=soldo-business", "finauth.alg=RS512"}},
		{"finauth.store.operations", []string{"finauth.provider=pismo", "finauth.op=save", "finauth.outcome=ok"}},
	} {
		if telemetrytest.Sum(ms, c.name, c.attrs...) <= 0 {
			t.Errorf("%s %v: nothing recorded", c.name, c.attrs)
		}
	}
	// Pismo: 3 methods, each one token for the default account and one for the account, and
	// one after the 401 (the account token is not replayed).
	if n := telemetrytest.Sum(ms, "finauth.token.replays", "finauth.provider=pismo"); n != 3 {
		t.Errorf("%v Pismo replays, want 3 (one per method)", n)
	}
	if n := telemetrytest.Sum(ms, "finauth.signatures", "finauth.provider=soldo"); n != 3 {
		t.Errorf("%v Soldo signatures, want 3", n)
	}
	if n := telemetrytest.Sum(ms, "finauth.signatures", "finauth.provider=soldo-business"); n != 2 {
		t.Errorf("%v Soldo Business fingerprint signatures, want 2 (the standard call has none)", n)
	}
	if len(rec.SpansNamed("finauth.token.fetch")) == 0 || len(rec.SpansNamed("POST")) == 0 {
		t.Error("no fetch spans or token endpoint client spans")
	}
	for _, s := range rec.SpansNamed("POST") {
		if u := telemetrytest.Attr(s, "url.full"); strings.Contains(u, "?") || telemetrytest.Attr(s, "http.response.status_code") == "" {
			t.Errorf("token endpoint span: %v", s.Attributes())
		}
	}
	if secrets.Len() < 20 {
		t.Fatalf("only %d secrets captured: the capture does not see the flows", secrets.Len())
	}
	secrets.AssertAbsent(t, rec.Text(t))
}

// An API that keeps answering 401: the replay and the refreshes held back are the counters
// the transport keeps, read at collection as finauth.token.replays and
// finauth.token.refresh.suppressed.
func TestTelemetry_ReplaysAndSuppressedRefreshesAreTheTransportsCounters(t *testing.T) {
	t.Parallel()
	rec := telemetrytest.New(t)
	e := newPismo(t, nil, nil, pismo.WithMeterProvider(rec.Meter), pismo.WithTracerProvider(rec.Tracer))
	e.mock.Fail401(20)
	for range 10 {
		if _, status, err := e.call(context.Background(), http.MethodGet, "/cards/v1/cards", nil); err != nil || status != http.StatusUnauthorized {
			t.Fatalf("%d %v", status, err)
		}
	}
	ms := rec.Metrics(t)
	replays, suppressed := telemetrytest.Sum(ms, "finauth.token.replays", "finauth.provider=pismo"), telemetrytest.Sum(ms, "finauth.token.refresh.suppressed", "finauth.provider=pismo")
	if replays != float64(e.rt.Replays()) || suppressed != float64(e.rt.SuppressedRefreshes()) || replays < 1 || suppressed < 1 {
		t.Fatalf("telemetry: %v replays, %v suppressed; the transport: %d, %d", replays, suppressed, e.rt.Replays(), e.rt.SuppressedRefreshes())
	}
	// Closed, its counts stay in the totals (a counter never goes back).
	e.rt.Close()
	if got := telemetrytest.Sum(rec.Metrics(t), "finauth.token.replays", "finauth.provider=pismo"); got != replays {
		t.Fatalf("after Close: %v replays, want %v", got, replays)
	}
}
