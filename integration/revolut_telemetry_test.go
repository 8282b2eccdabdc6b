package integration

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/testkit/telemetrytest"
	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
)

// Revolut's flow with a recording SDK (client-credentials tokens, a consent, its request
// object, the code exchange, signed payments, a renewal with the refresh token through a
// shared store): the instruments and spans are there, and no token, refresh token, code,
// request object, signature or key is in any attribute or span.
func TestRevolutTelemetry_NoSecretInAnyAttributeOrSpan(t *testing.T) {
	t.Parallel()
	rec := telemetrytest.New(t)
	var secrets telemetrytest.Secrets
	// 4 s tokens (2 s before: on a busy machine a token request once took longer than the
	// token lived, "the fetch returned a token that has already expired").
	m, cfg := revolutSetupWith(t, func(c *revolutmock.Config) { c.TokenLifetime = 4 * time.Second; c.RotateRefreshTokens = true })
	tc, err := cfg.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	base := &http.Transport{TLSClientConfig: tc}
	t.Cleanup(base.CloseIdleConnections)
	tr, err := revolut.NewTransport(cfg, revolut.WithMeterProvider(rec.Meter), revolut.WithTracerProvider(rec.Tracer),
		revolut.WithBaseTransport(secrets.Transport(base)), revolut.WithTokenStore(tokencache.NewMemoryStore(nil, 0)),
		revolut.WithOnTokenChange(func(c tokencache.TokenChange) { secrets.Add(c.Token.Value, c.Token.RefreshToken) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	hc := &http.Client{Transport: tr}
	ctx := context.Background()
	_, ans := postJSON(t, ctx, hc, m.URL+revolutmock.PaymentConsentsPath, map[string]any{"Data": map[string]any{}})
	id := consentID(t, ans)
	link, err := tr.Signer().AuthorizationURL(id, "payments", "state-1")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	secrets.Add(u.Query().Get("request"))
	back, err := m.PKI.Authorise(link)
	if err != nil {
		t.Fatal(err)
	}
	code := back.Query().Get("code")
	secrets.Add(code)
	tok, err := tr.ExchangeCode(ctx, id, code)
	if err != nil {
		t.Fatal(err)
	}
	secrets.Add(tok.Value, tok.RefreshToken)
	pay := func() {
		t.Helper()
		if status, ans := postJSON(t, revolut.WithConsent(ctx, id), hc, m.URL+revolutmock.PaymentsPath, map[string]any{"Data": map[string]any{"ConsentId": id}}); status != http.StatusCreated {
			t.Fatalf("payment: %d %v", status, ans)
		}
	}
	pay()
	testwaitPay(t, m, pay)

	// The mock counts a token when it answers, the client when the answer is back: a renewal
	// ahead of expiry in flight is counted by one and not yet the other. Wait (bounded) for
	// the two to agree; a fetch missing from the metric, or one too many, never agrees.
	var (
		ms     []metricdata.Metrics
		n      float64
		issued map[string]int
	)
	agree := func() bool {
		ms, issued = rec.Metrics(t), m.Stats().Tokens
		n = telemetrytest.Sum(ms, "finauth.token.fetches", "finauth.provider=revolut")
		return int(n) == issued["client_credentials"]+issued["authorization_code"]+issued["refresh_token"]
	}
	agreed := agree()
	for end := time.Now().Add(testwait.Limit); !agreed && time.Now().Before(end); agreed = agree() {
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		name  string
		attrs []string
	}{
		{"finauth.token.fetches", []string{"finauth.provider=revolut", "finauth.outcome=ok"}},
		{"finauth.signatures", []string{"finauth.provider=revolut", "finauth.alg=PS256"}},
		{"finauth.token.lookups", []string{"finauth.provider=revolut", "finauth.result=hit"}},
	} {
		if telemetrytest.Sum(ms, c.name, c.attrs...) <= 0 {
			t.Errorf("%s %v: nothing recorded", c.name, c.attrs)
		}
	}
	// The client-credentials token, the code exchange and the renewal at least.
	if n < 3 || !agreed {
		t.Errorf("%v revolut token fetches, the mock issued %v", n, issued)
	}
	secrets.Add(keyMaterial(t, "../signer/testdata/keys/test-rsa-pkcs8.pem")...)
	if secrets.Len() < 10 {
		t.Fatalf("only %d secrets captured", secrets.Len())
	}
	secrets.AssertAbsent(t, rec.Text(t))
}

// testwaitPay pays until the mock has renewed the consent's user token (at most 10 s).
func testwaitPay(t *testing.T, m *revolutmock.Server, pay func()) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); m.Stats().Tokens["refresh_token"] == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no renewal: %+v", m.Stats())
		}
		pay()
	}
	pay()
}

// keyMaterial is the base64 body of a PEM key file, line by line.
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
