package revolut_test

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/revolut"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigFromLookup_EnvironmentDefaults(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"REVOLUT_ENV": "Sandbox", "REVOLUT_CLIENT_ID": "c1", "REVOLUT_KEY_ID": "k1",
		"REVOLUT_PRIVATE_KEY_FILE": keys + "test-rsa-pkcs8.pem", "REVOLUT_TRANSPORT_CERT_FILE": "transport.pem",
		"REVOLUT_TRANSPORT_KEY_FILE": "transport.key", "REVOLUT_REDIRECT_URI": "https://app.example/cb", "REVOLUT_TAN": "example.com",
		"REVOLUT_API_URL": "https://api.internal.example", // an explicit value wins over the default
	}
	c, err := revolut.ConfigFromLookup(lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenURL != "https://sandbox-oba-auth.revolut.com/token" || c.AuthURL != "https://sandbox-oba.revolut.com/ui/index.html" ||
		c.Audience != "https://sandbox-oba-auth.revolut.com" || len(c.APIURLs) != 1 || c.APIURLs[0] != "https://api.internal.example" {
		t.Fatalf("%+v", c)
	}
}

func TestConfigFromLookup_EveryProblemAtOnceByName(t *testing.T) {
	t.Parallel()
	_, err := revolut.ConfigFromLookup(lookup(map[string]string{"REVOLUT_ENV": "staging", "REVOLUT_TAN": "https://example.com/jwks", "REVOLUT_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----secret"}))
	var ce *client.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("%v", err)
	}
	msg := err.Error()
	for _, want := range []string{"REVOLUT_ENV", "sandbox or production", "REVOLUT_CLIENT_ID", "REVOLUT_KEY_ID", "REVOLUT_TRANSPORT_CERT_FILE",
		"REVOLUT_TRANSPORT_KEY_FILE", "REVOLUT_REDIRECT_URI", "REVOLUT_TOKEN_URL", "REVOLUT_API_URL", "REVOLUT_AUTH_URL", "REVOLUT_AUDIENCE", "REVOLUT_TAN"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the problems do not mention %s:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("a secret shows:\n%s", msg)
	}
}

func TestConfig_TLSConfigNeedsAMatchingPair(t *testing.T) {
	t.Parallel()
	c := revolut.Config{TransportCertFile: "missing.pem", TransportKeyFile: "missing.key"}
	if _, err := c.TLSConfig(); err == nil || !strings.Contains(err.Error(), "REVOLUT_TRANSPORT_CERT_FILE") {
		t.Fatalf("%v", err)
	}
}

// Every variable ConfigFromEnv reads is documented in docs/configuration.md.
func TestEveryVariableIsInTheConfigurationPage(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`"(REVOLUT_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(names) < 15 {
		t.Fatalf("found %d variables in config.go", len(names))
	}
	for _, n := range names {
		if !strings.Contains(string(readme), n[1]) {
			t.Errorf("%s is not in docs/configuration.md", n[1])
		}
	}
}

// Each environment's defaults are the hosts of the table in PROTOCOLS.md (Revolut's updates
// of 2025): the API, /token and /register on the auth host, the authorisation UI on the old
// one, the audience the auth host.
func TestEnvironmentDefaults_MatchTheHostsTable(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../../shared/PROTOCOLS.md")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PROTOCOLS.md: %v", err)
		}
		t.Skipf("PROTOCOLS.md not here: %v", err)
	}
	row := func(prefix string) (prod, sandbox string) {
		for _, l := range strings.Split(string(doc), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "| "+prefix) {
				cells := strings.Split(l, "|")
				return strings.Trim(strings.TrimSpace(cells[2]), "`"), strings.Trim(strings.TrimSpace(cells[3]), "`")
			}
		}
		t.Fatalf("no %q row in PROTOCOLS.md", prefix)
		return "", ""
	}
	apiProd, apiSandbox := row("API (consents")
	uiProd, uiSandbox := row("consent authorisation UI")
	for env, want := range map[revolut.Environment][2]string{revolut.Production: {apiProd, uiProd}, revolut.Sandbox: {apiSandbox, uiSandbox}} {
		d := revolut.EnvironmentDefaults[env]
		if d.APIURL != want[0] || d.TokenURL != want[0]+"/token" || d.RegistrationURL != want[0]+"/register" || d.Audience != want[0] || d.AuthURL != want[1] {
			t.Errorf("%s: %+v, want API %s and UI %s", env, d, want[0], want[1])
		}
	}
}
