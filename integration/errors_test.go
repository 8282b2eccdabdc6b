package integration

import (
	"errors"
	"strings"
	"testing"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/tokencache/redisstore"
	"github.com/finauth/finauth/transport"
)

// malformed are URLs with a password ("hunter" in every one) that net/url refuses, each in
// its own way: a bad port, a bad % escape, a bad IPv6 literal, a space in the userinfo.
var malformed = []string{
	"https://svc:hunter2@api.example.com:bad/x",
	"https://svc:hunter2%zz@api.example.com/x",
	"https://svc:hunter2@[::1/x",
	"https://svc:hunter 2@api.example.com/x",
	"redis://:hunter2@localhost:bad/0",
}

// No error anywhere in the module carries a URL's password: every URL-taking option of every
// package is given each malformed URL, and whatever comes back says nothing of the password.
func TestErrors_NoURLPasswordInAnyConfigurationError(t *testing.T) {
	t.Parallel()
	key := "../signer/testdata/keys/test-rsa-pkcs8.pem"
	for _, raw := range malformed {
		env := func(name string) func(string) (string, bool) {
			return func(k string) (string, bool) {
				if k == name {
					return raw, true
				}
				return "", false
			}
		}
		checks := map[string]func() error{
			"pismo TokenURL": func() error { return pismo.Config{TokenURL: raw}.Validate() },
			"pismo APIURLs": func() error {
				_, err := pismo.NewTransport(pismo.Config{TokenURL: "https://t.example", APIURLs: []string{raw}})
				return err
			},
			"PISMO_TOKEN_URL": func() error { _, err := pismo.ConfigFromLookup(env("PISMO_TOKEN_URL")); return err },
			"soldo APIURLs": func() error {
				_, err := soldo.NewTransport(soldo.Config{APIURLs: []string{raw}, PrivateKeyFile: key, KeyID: "k", MemberID: "m"})
				return err
			},
			"clientcredentials TokenURL": func() error {
				return clientcredentials.Config{TokenURL: raw, APIURLs: []string{"https://a.example"}, ClientID: "c", ClientSecret: "s"}.Validate()
			},
			"clientcredentials APIURLs": func() error {
				return clientcredentials.Config{TokenURL: "https://t.example", APIURLs: []string{raw}, ClientID: "c", ClientSecret: "s"}.Validate()
			},
			"MIA_TOKEN_URL":       func() error { _, err := clientcredentials.MiaConfigFromLookup(env("MIA_TOKEN_URL")); return err },
			"revolut TokenURL":    func() error { return revolut.Config{TokenURL: raw}.Validate() },
			"revolut APIURLs":     func() error { return revolut.Config{APIURLs: []string{raw}}.Validate() },
			"revolut AuthURL":     func() error { return revolut.Config{AuthURL: raw}.Validate() },
			"revolut RedirectURI": func() error { return revolut.Config{RedirectURI: raw}.Validate() },
			"REVOLUT_API_URL":     func() error { _, err := revolut.ConfigFromLookup(env("REVOLUT_API_URL")); return err },
			"redisstore URL": func() error {
				_, err := redisstore.New(redisstore.Options{URL: raw, Keys: [][]byte{make([]byte, 32)}})
				return err
			},
			"FINAUTH_REDIS_URL": func() error {
				_, err := redisstore.FromEnv(func(k string) (string, bool) {
					switch k {
					case "FINAUTH_REDIS_URL":
						return raw, true
					case "FINAUTH_CACHE_KEY":
						return "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", true
					}
					return "", false
				}, nil)
				return err
			},
			"transport.NewOrigins": func() error { _, err := transport.NewOrigins([]string{raw}, false); return err },
		}
		for name, check := range checks {
			err := check()
			if err == nil {
				t.Errorf("%s %q: accepted", name, raw)
				continue
			}
			if strings.Contains(err.Error(), "hunter") {
				t.Errorf("%s: the password shows:\n%v", name, err)
			}
			var ce *client.ConfigError
			if name != "transport.NewOrigins" && !errors.As(err, &ce) {
				t.Errorf("%s: not a *client.ConfigError: %v", name, err)
			}
		}
	}
}
