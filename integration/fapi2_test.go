package integration

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/integration/oauthmock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/testkit/telemetrytest"
	"github.com/finauth/finauth/tokencache"
)

// fapi2Setup is the strict mock with DPoP required, nonces, and message signatures verified
// with the test RSA key under keyid "sig-1", and a client configured for all of it.
func fapi2Setup(t *testing.T, edit func(*oauthmock.Config)) (*oauthmock.Server, clientcredentials.Config) {
	t.Helper()
	pub, err := signer.LoadPublicKeysFile("../signer/testdata/keys/test-rsa-public.pem")
	if err != nil {
		t.Fatal(err)
	}
	mc := oauthmock.Config{Clients: map[string]string{"fapi-client": "fapi-secret"}, RequireDPoP: true, Nonces: true,
		SignatureKeys: signer.NewKeySet(pub.Keys()[0].WithKeyID("sig-1"))}
	if edit != nil {
		edit(&mc)
	}
	m, err := oauthmock.NewServer(mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, clientcredentials.Config{TokenURL: m.TokenURL(), APIURLs: []string{m.URL}, ClientID: "fapi-client",
		ClientSecret: "fapi-secret", DPoP: true, SignatureKeyFile: "../signer/testdata/keys/test-rsa-pkcs8.pem", SignatureKeyID: "sig-1"}
}

// The FAPI 2.0 building blocks end to end against the strict mock: the token request carries
// a DPoP proof and learns the server's nonce (400 use_dpop_nonce, sent again once); API
// requests go out as "Authorization: DPoP" with a proof (ath, the nonce) and an RFC 9421
// signature over method, URI, authorization, dpop and the body's Content-Digest; the
// resource server's new nonce (401 use_dpop_nonce) costs one more send, no new token; a
// revocation costs one token and no failed request; nothing is refused but the nonces asked.
func TestFAPI2_DPoPAndMessageSignaturesEndToEnd(t *testing.T) {
	t.Parallel()
	m, cfg := fapi2Setup(t, nil)
	tr, err := clientcredentials.NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	hc := &http.Client{Transport: tr}
	call := func(method, path string, body []byte) int {
		t.Helper()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, _ := http.NewRequestWithContext(context.Background(), method, m.URL+path, rd)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		if !strings.Contains(string(b), `"bound":true`) {
			t.Fatalf("%s %s: not a DPoP-bound token: %s", method, path, b)
		}
		return resp.StatusCode
	}
	call(http.MethodGet, "/accounts", nil)
	call(http.MethodPost, "/payments", []byte(`{"amount":"5.00"}`))
	st := m.Stats()
	if st.Tokens != 1 || st.DPoPBound != 1 || st.Signed != 2 {
		t.Fatalf("after two calls: %+v", st)
	}
	// The token endpoint asked for its nonce once; the API, on the same origin with the same
	// nonce, got it from the first proof on (a nonce is kept per origin).
	if st.Refusals["use_dpop_nonce"] != 1 || len(st.Refusals) != 1 {
		t.Fatalf("refusals: %v", st.Refusals)
	}
	// A new nonce at the resource server: one more send, no new token.
	m.RotateNonce()
	call(http.MethodPost, "/payments", []byte(`{"amount":"6.00"}`))
	if st := m.Stats(); st.Tokens != 1 || st.Refusals["use_dpop_nonce"] != 2 {
		t.Fatalf("after the nonce rotated: %+v", st)
	}
	// Revoked: one new token (its own nonce dance at the token endpoint is over: the nonce is
	// known), the request replayed with it, nothing failed.
	m.RevokeAll()
	call(http.MethodGet, "/accounts", nil)
	if st := m.Stats(); st.Tokens != 2 || st.Refusals["invalid_token"] != 1 || len(st.Refusals) != 2 {
		t.Fatalf("after a revocation: %+v", st)
	}
	// Concurrent requests under a revocation every 25 uses: no failure, every answer signed
	// and bound.
	m2, cfg2 := fapi2Setup(t, func(c *oauthmock.Config) { c.RevokeEvery = 25 })
	tr2, err := clientcredentials.NewTransport(cfg2, clientcredentials.WithTokenStore(tokencache.NewMemoryStore(nil, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr2.Close() })
	hc2 := &http.Client{Transport: tr2}
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				req, _ := http.NewRequest(http.MethodPost, m2.URL+"/payments", strings.NewReader(`{"n":`+string(rune('0'+g))+`,"i":`+string(rune('0'+i%10))+`}`))
				resp, err := hc2.Do(req)
				if err != nil {
					errs <- err.Error()
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- resp.Status
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a failed request under revocations: %s", e)
	}
	st2 := m2.Stats()
	if st2.Signed != 200 || st2.APICalls[201] != 200 {
		t.Fatalf("under revocations: %+v", st2)
	}
	for reason := range st2.Refusals {
		if reason != "use_dpop_nonce" && reason != "invalid_token" {
			t.Fatalf("refused for %s: %v", reason, st2.Refusals)
		}
	}
	t.Logf("200 requests, %d tokens, refusals %v", st2.Tokens, st2.Refusals)
}

// The FAPI 2.0 flow with a recording SDK: finauth.signatures counts DPoP proofs and message
// signatures by scheme, and no token, proof or signature is in any attribute or span.
func TestFAPI2Telemetry_SchemesCountedNoSecretRecorded(t *testing.T) {
	t.Parallel()
	rec := telemetrytest.New(t)
	var secrets telemetrytest.Secrets
	m, cfg := fapi2Setup(t, nil)
	tr, err := clientcredentials.NewTransport(cfg, clientcredentials.WithMeterProvider(rec.Meter), clientcredentials.WithTracerProvider(rec.Tracer),
		clientcredentials.WithBaseTransport(secrets.Transport(nil)), clientcredentials.WithTokenHTTPClient(&http.Client{Transport: secrets.Transport(nil)}),
		clientcredentials.WithOnTokenChange(func(c tokencache.TokenChange) { secrets.Add(c.Token.Value) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	hc := &http.Client{Transport: tr}
	for i := range 3 {
		resp, err := hc.Post(m.URL+"/payments", "application/json", strings.NewReader(`{"i":`+string(rune('0'+i))+`}`))
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("%v %v", err, resp)
		}
		resp.Body.Close()
	}
	ms := rec.Metrics(t)
	if n := telemetrytest.Sum(ms, "finauth.signatures", "finauth.scheme=httpsig", "finauth.alg=rsa-pss-sha512"); n != 3 {
		t.Errorf("httpsig signatures: %v", n)
	}
	if n := telemetrytest.Sum(ms, "finauth.signatures", "finauth.scheme=dpop"); n < 4 { // 3 API requests and the token request (and its nonce retry)
		t.Errorf("dpop proofs: %v", n)
	}
	if secrets.Len() < 6 {
		t.Fatalf("only %d secrets captured", secrets.Len())
	}
	secrets.AssertAbsent(t, rec.Text(t))
}
