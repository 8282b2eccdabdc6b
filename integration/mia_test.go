package integration_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/integration/miamock"
	"github.com/finauth/finauth/signer"
)

const (
	miaIssuer = "https://mia.example/issuer"
	miaClient = "payments-service"
	miaKID    = "mia-key-1"
)

// registerJWK registers key's public JWK (use sig, alg, kid) for clientID.
func registerJWK(t testing.TB, m *miamock.Server, clientID string, key *signer.Key, kid string) {
	t.Helper()
	jwk, err := json.Marshal(key.Public().WithKeyID(kid))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Register(clientID, jwk); err != nil {
		t.Fatal(err)
	}
}

func newMia(t testing.TB, tweak func(*miamock.Config)) (*miamock.Server, *signer.Key) {
	t.Helper()
	key, err := signer.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := miamock.Config{Issuer: miaIssuer}
	if tweak != nil {
		tweak(&cfg)
	}
	m, err := miamock.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	registerJWK(t, m, miaClient, key, miaKID)
	return m, key
}

func miaConfig(m *miamock.Server, key *signer.Key) clientcredentials.Config {
	return clientcredentials.Config{
		TokenURL: m.TokenURL(), APIURLs: []string{m.URL}, ClientID: miaClient, Key: key, KeyID: miaKID,
		Audience: miaIssuer, Params: url.Values{"token_endpoint_auth_method": {"private_key_jwt"}},
		Exchange: client.ExchangeOptions{RetryWaitMin: 5 * time.Millisecond, RetryWaitMax: 20 * time.Millisecond},
	}
}

func miaClientFor(t testing.TB, cfg clientcredentials.Config) (*http.Client, *clientcredentials.Transport) {
	t.Helper()
	rt, err := clientcredentials.NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return &http.Client{Transport: rt}, rt
}

func TestMia_ColdStartOf1000ConcurrentRequestsMakesOneTokenRequest(t *testing.T) {
	t.Parallel()
	m, key := newMia(t, nil)
	hc, _ := miaClientFor(t, miaConfig(m, key))
	var wg sync.WaitGroup
	var ok atomic.Int64
	start := make(chan struct{})
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := hc.Get(m.URL + "/orders")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ok.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if st := m.Stats(); ok.Load() != 1000 || st.Tokens != 1 {
		t.Fatalf("%d answered 200, %d token requests", ok.Load(), st.Tokens)
	}
}

// The server revokes the token of every 100th use: 600 POSTs from 8 workers all answer 200
// with their bodies intact, and each revocation costs exactly one token request.
func TestMia_RevocationsMidTrafficCostOneTokenRequestEach(t *testing.T) {
	t.Parallel()
	m, key := newMia(t, nil)
	m.RevokeEvery(100)
	hc, rt := miaClientFor(t, miaConfig(m, key))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= 600; i = next.Add(1) {
				body := []byte(fmt.Sprintf(`{"order": %d, "amount": "12.50"}`, i))
				resp, err := hc.Post(m.URL+"/orders", "application/json", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				var echo miamock.Echo
				json.NewDecoder(resp.Body).Decode(&echo)
				resp.Body.Close()
				if resp.StatusCode != 200 || echo.BodySHA256 != sha256hex(body) || echo.ClientID != miaClient {
					t.Errorf("request %d: %d %+v", i, resp.StatusCode, echo)
				}
			}
		}()
	}
	wg.Wait()
	st := m.Stats()
	if st.Revoked == 0 || st.Tokens != st.Revoked+1 || st.Rejections[miamock.ReasonReplay] != 0 || rt.SuppressedRefreshes() != 0 {
		t.Fatalf("%d revocations, %d token requests, %d suppressed, mock %+v", st.Revoked, st.Tokens, rt.SuppressedRefreshes(), st)
	}
}

// A 503 then a 200: the retry carries a new assertion (new jti), and both verify.
func TestMia_ARetryCarriesAFreshAssertion(t *testing.T) {
	t.Parallel()
	m, key := newMia(t, nil)
	var mu sync.Mutex
	var assertions []string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		assertions = append(assertions, form.Get("client_assertion"))
		first := len(assertions) == 1
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		m.Mock.ServeHTTP(w, r)
	}))
	defer front.Close()
	cfg := miaConfig(m, key)
	cfg.TokenURL = front.URL + miamock.TokenPath
	tok, err := clientcredentials.Token(context.Background(), cfg)
	if err != nil || tok.Value == "" {
		t.Fatal(err)
	}
	v, _ := signer.NewVerifier(signer.NewKeySet(key.Public().WithKeyID(miaKID)), signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.RS256}})
	jtis := map[string]bool{}
	for _, a := range assertions {
		got, err := v.Verify(a)
		var c struct{ Jti string }
		if err != nil || got.Claims(&c) != nil || c.Jti == "" {
			t.Fatalf("assertion: %v", err)
		}
		jtis[c.Jti] = true
	}
	if len(assertions) != 2 || len(jtis) != 2 {
		t.Fatalf("%d assertions, %d distinct jti", len(assertions), len(jtis))
	}
}

// Every refusal of the mock comes back as a *client.TokenEndpointError with the RFC 6749
// code and the mock's reason, and never shows the assertion.
func TestMia_EveryRefusalIsATypedErrorNamingTheReason(t *testing.T) {
	t.Parallel()
	m, key := newMia(t, func(c *miamock.Config) { c.MaxAssertionTTL = time.Minute })
	other, err := signer.GenerateRSAKey(signer.RS256, 2048)
	if err != nil {
		t.Fatal(err)
	}
	registerJWK(t, m, "second-client", other, "second-key")
	for _, c := range []struct {
		name   string
		tweak  func(*clientcredentials.Config)
		reason string
	}{
		{"unknown client", func(c *clientcredentials.Config) { c.ClientID = "nobody" }, miamock.ReasonUnknownClient},
		{"unknown kid", func(c *clientcredentials.Config) { c.KeyID = "other-kid" }, miamock.ReasonUnknownKey},
		{"another key", func(c *clientcredentials.Config) { c.Key = other }, miamock.ReasonSignature},
		{"another client's key", func(c *clientcredentials.Config) { c.ClientID, c.KeyID = "second-client", "second-key" }, miamock.ReasonSignature},
		{"audience is the token URL", func(c *clientcredentials.Config) { c.Audience = "" }, miamock.ReasonAudience},
		{"PS256 for an RS256 key", func(c *clientcredentials.Config) { c.Algorithm = signer.PS256 }, miamock.ReasonAlgorithm},
		{"assertion too long-lived", func(c *clientcredentials.Config) { c.AssertionTTL = 5 * time.Minute }, miamock.ReasonExpiry},
		{"a secret alongside", func(c *clientcredentials.Config) { c.Params.Set("client_secret", "s3cret") }, miamock.ReasonSecretAlongside},
		{"another auth method", func(c *clientcredentials.Config) { c.Params.Set("token_endpoint_auth_method", "client_secret_post") }, miamock.ReasonAuthMethod},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := miaConfig(m, key)
			cfg.Params = url.Values{"token_endpoint_auth_method": {"private_key_jwt"}}
			c.tweak(&cfg)
			_, err := clientcredentials.Token(context.Background(), cfg)
			var e *client.TokenEndpointError
			if !errors.As(err, &e) || e.Code != "invalid_client" || !strings.Contains(e.Message, c.reason+":") {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Fatalf("the error shows an assertion: %v", err)
			}
		})
	}
	// A replayed assertion (same jti) is refused the second time.
	replayCfg := miaConfig(m, key)
	replayCfg.AssertionTTL = 30 * time.Second
	a, err := clientcredentials.MintAssertion(replayCfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {miaClient}, "client_assertion_type": {miamock.AssertionType}, "client_assertion": {a}}
	for i, want := range []int{200, 401} {
		resp, err := http.PostForm(m.TokenURL(), form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 401 && !strings.Contains(string(body), miamock.ReasonReplay)) {
			t.Fatalf("attempt %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
}

// client_secret_basic and client_secret_post work against the same server.
func TestMia_ClientSecretMethods(t *testing.T) {
	t.Parallel()
	m, _ := newMia(t, func(c *miamock.Config) { c.Secrets = map[string]string{"batch job": "p@ss word:1"} })
	for _, method := range []clientcredentials.AuthMethod{clientcredentials.ClientSecretBasic, clientcredentials.ClientSecretPost} {
		t.Run(string(method), func(t *testing.T) {
			cfg := clientcredentials.Config{TokenURL: m.TokenURL(), APIURLs: []string{m.URL}, ClientID: "batch job", AuthMethod: method, ClientSecret: "p@ss word:1", Scopes: []string{"orders:read"}}
			hc, _ := miaClientFor(t, cfg)
			resp, err := hc.Get(m.URL + "/orders")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%v %v", err, resp)
			}
			resp.Body.Close()
			cfg.ClientSecret = "bad-secret-value"
			if _, err := clientcredentials.Token(context.Background(), cfg); err == nil || strings.Contains(err.Error(), "bad-secret-value") {
				t.Fatalf("a wrong secret: %v", err)
			}
		})
	}
}

// The mock's registry refuses what the real one does.
func TestMia_RegistryRefusesBadJWKs(t *testing.T) {
	t.Parallel()
	m, key := newMia(t, nil)
	pub, _ := json.Marshal(key.Public().WithKeyID("k"))
	var members map[string]any
	json.Unmarshal(pub, &members)
	for name, tweak := range map[string]func(map[string]any){
		"no use":           func(j map[string]any) { delete(j, "use") },
		"use enc":          func(j map[string]any) { j["use"] = "enc" },
		"no alg":           func(j map[string]any) { delete(j, "alg") },
		"no kid":           func(j map[string]any) { delete(j, "kid") },
		"a private member": func(j map[string]any) { j["d"] = "AQAB" },
	} {
		t.Run(name, func(t *testing.T) {
			j := map[string]any{}
			for k, v := range members {
				j[k] = v
			}
			tweak(j)
			b, _ := json.Marshal(j)
			var re *miamock.RegistrationError
			if err := m.Register("c", b); !errors.As(err, &re) {
				t.Fatalf("registered: %v", err)
			}
		})
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	jwk := fmt.Sprintf(`{"kty":"RSA","use":"sig","alg":"RS256","kid":"weak","n":%q,"e":"AQAB"}`, b64.EncodeToString(weak.N.Bytes()))
	var re *miamock.RegistrationError
	if err := m.Register("c", []byte(jwk)); !errors.As(err, &re) {
		t.Fatalf("a 1024-bit key was registered: %v", err)
	}
}

// The seed's own commands make keys that work: openssl genrsa 4096, ssh-keygen -m PEM with
// and without a passphrase (the passphrase through MIA_PRIVATE_KEY_PASSWORD).
func TestMia_KeysFromTheSeedsCommandsAuthenticate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		name, pass, file string
		cmd              []string
	}{
		{"openssl genrsa 4096", "", "openssl.key", []string{"openssl", "genrsa", "-out", "openssl.key", "4096"}},
		{"ssh-keygen -m PEM", "", "ssh.key", []string{"ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-m", "PEM", "-N", "", "-f", "ssh.key"}},
		{"ssh-keygen -m PEM with a passphrase", "seed pass", "ssh-pass.key", []string{"ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-m", "PEM", "-N", "seed pass", "-f", "ssh-pass.key"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(c.cmd[0], c.cmd[1:]...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", c.cmd[0], err, out)
			}
			file := filepath.Join(dir, c.file)
			key, err := signer.LoadKeyFile(file, signer.WithPassphrase([]byte(c.pass)))
			if err != nil {
				t.Fatal(err)
			}
			m, err := miamock.NewServer(miamock.Config{Issuer: miaIssuer})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			registerJWK(t, m, miaClient, key, "seed-kid")
			env := map[string]string{
				"MIA_TOKEN_URL": m.TokenURL(), "MIA_API_URL": m.URL, "MIA_CLIENT_ID": miaClient, "MIA_KEY_ID": "seed-kid",
				"MIA_PRIVATE_KEY_FILE": file, "MIA_PRIVATE_KEY_PASSWORD": c.pass, "MIA_AUDIENCE": miaIssuer,
			}
			cfg, err := clientcredentials.MiaConfigFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			hc, _ := miaClientFor(t, cfg)
			resp, err := hc.Get(m.URL + "/orders")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%v %v", err, resp)
			}
			resp.Body.Close()
		})
	}
}
