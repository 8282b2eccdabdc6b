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

// Every variable ConfigFromEnv reads is documented in the README.
func TestEveryVariableIsInTheREADME(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`"(REVOLUT_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(names) < 15 {
		t.Fatalf("found %d variables in config.go", len(names))
	}
	for _, n := range names {
		if !strings.Contains(string(readme), n[1]) {
			t.Errorf("%s is not in the README", n[1])
		}
	}
}
