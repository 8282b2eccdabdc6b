package integration_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/integration/pismomock"
)

// Pismo's other two methods against the strict mock, with the properties of the first's
// tests: one token request per (method, account, scope set) for 1,000 cold concurrent
// requests, one per revocation mid-traffic, nothing lost, refusals typed and named.

const (
	oauthClient, oauthSecret = "server-key-1", "oauth-secret-1"
	serverKey, secretKey     = "legacy-server-key", "legacy-secret-key"
	allScopes                = "pismo-v1:accounts:rw pismo-v1:cards:rw pismo-v1:payments:rw"
)

// withMethods registers the OAuth 2.0 client, the legacy login and two accounts in the mock.
func withMethods(c *pismomock.Config) {
	c.Clients = map[string]string{oauthClient: oauthSecret}
	c.ServerKeys = map[string]string{serverKey: secretKey}
	c.Accounts = []string{"12345", "67890"}
}

// methodConfig turns the OpenID configuration into one for method against the same mock.
func methodConfig(method pismo.AuthMethod) func(*pismo.Config) {
	return func(c *pismo.Config) {
		u, _ := url.Parse(c.TokenURL)
		base := u.Scheme + "://" + u.Host
		c.AuthMethod, c.Key = method, nil
		switch method {
		case pismo.OAuth2:
			c.TokenURL, c.ClientID, c.ClientSecret, c.Scopes = base+pismomock.OAuth2Path, oauthClient, oauthSecret, strings.Fields(allScopes)
		case pismo.Basic:
			c.TokenURL, c.ServerKey, c.SecretKey = base+pismomock.BasicPath, serverKey, secretKey
		}
		c.APIURLs = []string{base}
	}
}

func TestPismoMethods_ColdStart1000ConcurrentRequestsOneTokenPerAccountAndScopeSet(t *testing.T) {
	t.Parallel()
	for method, want := range map[pismo.AuthMethod]int{pismo.OAuth2: 3, pismo.Basic: 2} {
		t.Run(string(method), func(t *testing.T) {
			t.Parallel()
			e := newPismo(t, withMethods, methodConfig(method))
			var wg sync.WaitGroup
			var ok atomic.Int64
			for i := range 1000 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, path := context.Background(), fmt.Sprintf("/cards/v1/cards?n=%d", i)
					switch i % 3 {
					case 1:
						ctx, path = pismo.WithAccount(ctx, "12345"), "/accounts/12345/balance"
					case 2:
						ctx = pismo.WithScopes(ctx, "pismo-v1:cards:rw") // a reduced scope: its own token (OAuth2)
					}
					echo, status, err := e.call(ctx, http.MethodGet, path, nil)
					if err != nil || status != 200 || (i%3 == 1 && echo.UID != "12345") {
						t.Errorf("%s: status %d err %v echo %+v", path, status, err, echo)
						return
					}
					ok.Add(1)
				}()
			}
			wg.Wait()
			if st := e.mock.Stats(); ok.Load() != 1000 || st.Exchanges != want {
				t.Fatalf("%d ok, %d token requests, want %d (%+v)", ok.Load(), st.Exchanges, want, st.Rejections)
			}
		})
	}
}

func TestPismoMethods_RevocationMidTrafficCostsOneTokenRequest(t *testing.T) {
	t.Parallel()
	for _, method := range []pismo.AuthMethod{pismo.OAuth2, pismo.Basic} {
		t.Run(string(method), func(t *testing.T) {
			t.Parallel()
			e := newPismo(t, withMethods, methodConfig(method))
			if _, status, err := e.call(context.Background(), http.MethodGet, "/cards/warm", nil); err != nil || status != 200 {
				t.Fatal(status, err)
			}
			var wg sync.WaitGroup
			var fails atomic.Int64
			for g := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 20 {
						if g == 0 && i == 5 {
							e.mock.RevokeAll()
						}
						body := []byte(fmt.Sprintf(`{"g": %d, "i": %d}`, g, i))
						if _, status, err := e.call(context.Background(), http.MethodPost, "/payments/v1/payments", body); err != nil || status != 200 {
							fails.Add(1)
							t.Errorf("status %d err %v", status, err)
						}
					}
				}()
			}
			wg.Wait()
			if st := e.mock.Stats(); fails.Load() != 0 || st.Exchanges != 2 || e.rt.Replays() == 0 {
				t.Fatalf("%d failures, %d token requests (want 2), %d replays", fails.Load(), st.Exchanges, e.rt.Replays())
			}
		})
	}
}

// Every refusal of the two endpoints comes back as a *client.TokenEndpointError with the
// status and reason a real server gives, or, for a token used outside its scopes, as the
// API's 403.
func TestPismoMethods_RefusalsAreNamed(t *testing.T) {
	t.Parallel()
	e := newPismo(t, withMethods, methodConfig(pismo.OAuth2))
	base := e.mock.URL
	for name, c := range map[string]struct {
		tweak   func(*pismo.Config)
		account pismo.Account
		status  int
		reason  string
	}{
		"wrong secret":            {func(c *pismo.Config) { c.ClientSecret = "nope" }, pismo.Account{}, 401, pismomock.ReasonInvalidClient},
		"unknown client":          {func(c *pismo.Config) { c.ClientID = "nobody" }, pismo.Account{}, 401, pismomock.ReasonInvalidClient},
		"unknown scope":           {func(c *pismo.Config) { c.Scopes = []string{"pismo-v1:nothing:rw"} }, pismo.Account{}, 400, pismomock.ReasonInvalidScope},
		"unknown account":         {nil, pismo.Account{Kind: pismo.AccountToken, ID: "99999"}, 400, pismomock.ReasonUnknownAccount},
		"legacy: wrong secret":    {func(c *pismo.Config) { methodConfig(pismo.Basic)(c); c.SecretKey = "nope" }, pismo.Account{}, 401, pismomock.ReasonInvalidClient},
		"legacy: unknown key":     {func(c *pismo.Config) { methodConfig(pismo.Basic)(c); c.ServerKey = "nobody" }, pismo.Account{}, 401, pismomock.ReasonInvalidClient},
		"legacy: unknown account": {func(c *pismo.Config) { methodConfig(pismo.Basic)(c) }, pismo.Account{Kind: pismo.AccountToken, ID: "99999"}, 400, pismomock.ReasonUnknownAccount},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := e.cfg
			if c.tweak != nil {
				c.tweak(&cfg)
			}
			_, err := pismo.Token(context.Background(), cfg, c.account)
			var te *client.TokenEndpointError
			if !errors.As(err, &te) || te.Status != c.status || te.Code != c.reason || strings.Contains(err.Error(), "nope") {
				t.Fatalf("%v", err)
			}
		})
	}
	// client_secret instead of client_secret_string, and no scope, straight at the endpoint.
	for form, reason := range map[string]string{
		"grant_type=client_credentials&client_id=" + oauthClient + "&client_secret=" + oauthSecret + "&scope=pismo-v1:cards:rw": pismomock.ReasonSecretParameter,
		"grant_type=client_credentials&client_id=" + oauthClient + "&client_secret_string=" + oauthSecret:                       pismomock.ReasonInvalidScope,
	} {
		resp, err := http.Post(base+pismomock.OAuth2Path, "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || e.mock.Stats().Rejections[reason] == 0 {
			t.Fatalf("%s: %d, %v", form, resp.StatusCode, e.mock.Stats().Rejections)
		}
	}
	// A token for the cards group is refused on an accounts path.
	ctx := pismo.WithScopes(pismo.WithAccount(context.Background(), "12345"), "pismo-v1:cards:rw")
	if _, status, err := e.call(ctx, http.MethodGet, "/accounts/12345", nil); err != nil || status != http.StatusForbidden || e.mock.Stats().APIDenials[pismomock.ReasonInsufficientScope] != 1 {
		t.Fatalf("a cards token on an accounts path: %d %v %v", status, err, e.mock.Stats().APIDenials)
	}
	// JSON instead of the form encoding works too.
	cfg := e.cfg
	cfg.OAuth2JSON = true
	if tok, err := pismo.Token(context.Background(), cfg, pismo.Account{}); err != nil || tok.Value == "" {
		t.Fatalf("JSON: %v", err)
	}
}

// The legacy login's secret member is secret_key (as Pismo's page shows the login) unless
// PISMO_BASIC_SECRET_FIELD names server_secret; a login refused for it says which member was
// sent and how to send the other, and never the secret.
func TestPismoMethods_TheLegacyLoginsSecretMemberIsConfigurable(t *testing.T) {
	t.Parallel()
	e := newPismo(t, func(c *pismomock.Config) { withMethods(c); c.BasicSecretField = "server_secret" }, methodConfig(pismo.Basic))
	_, err := pismo.Token(context.Background(), e.cfg, pismo.Account{})
	var te *client.TokenEndpointError
	if !errors.As(err, &te) || te.Code != pismomock.ReasonBadLogin || !strings.Contains(err.Error(), `sent the secret as "secret_key"`) ||
		!strings.Contains(err.Error(), "PISMO_BASIC_SECRET_FIELD=server_secret") || strings.Contains(err.Error(), string(e.cfg.SecretKey)) {
		t.Fatalf("a login with the other member: %v", err)
	}
	cfg := e.cfg
	cfg.BasicSecretField = "server_secret"
	if _, err := pismo.Token(context.Background(), cfg, pismo.Account{}); err != nil {
		t.Fatalf("PISMO_BASIC_SECRET_FIELD=server_secret: %v", err)
	}
	env := map[string]string{"PISMO_AUTH_METHOD": "basic", "PISMO_TOKEN_URL": e.cfg.TokenURL, "PISMO_SERVER_KEY": e.cfg.ServerKey,
		"PISMO_SECRET_KEY": string(e.cfg.SecretKey), "PISMO_BASIC_SECRET_FIELD": "server-secret"}
	if _, err := pismo.ConfigFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil || !strings.Contains(err.Error(), "PISMO_BASIC_SECRET_FIELD") {
		t.Fatalf("a member that is neither: %v", err)
	}
}
