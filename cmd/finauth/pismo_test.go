package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/signer"
)

// Each of Pismo's methods works from the variables alone: token, call (with an account
// token) and load, with one token request for a whole load run.
func TestCLI_PismoEachMethodFromTheVariablesAlone(t *testing.T) {
	t.Parallel()
	key, _ := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	m, err := pismomock.NewServer(pismomock.Config{Keys: signer.NewKeySet(key.Public()), Issuer: "i@t", Subject: "s@t", Audience: "https://sandbox.pismolabs.io",
		TenantID: "tenant", Group: "g", Clients: map[string]string{"sk-1": "client-secret-1"}, ServerKeys: map[string]string{"sk-2": "secret-key-2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	for method, env := range map[string]map[string]string{
		"oauth2": {"PISMO_AUTH_METHOD": "oauth2", "PISMO_TOKEN_URL": m.URL + pismomock.OAuth2Path, "PISMO_CLIENT_ID": "sk-1",
			"PISMO_CLIENT_SECRET": "client-secret-1", "PISMO_SCOPES": "pismo-v1:accounts:rw pismo-v1:cards:rw"},
		"basic": {"PISMO_AUTH_METHOD": "basic", "PISMO_TOKEN_URL": m.URL + pismomock.BasicPath, "PISMO_SERVER_KEY": "sk-2", "PISMO_SECRET_KEY": "secret-key-2"},
	} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			if r := finauth(t, env, "", "token", "pismo"); r.code != exitOK || !strings.Contains(r.stdout, `"token_type": "Bearer"`) || strings.Contains(r.stdout+r.stderr, "secret") {
				t.Fatalf("token: %+v", r)
			}
			if r := finauth(t, env, "", "call", "--account", "12345", m.URL+"/accounts/12345"); r.code != exitOK || !strings.Contains(r.stdout, `"uid":"12345"`) {
				t.Fatalf("call: %+v", r)
			}
			r := finauth(t, env, "", "load", "--json", "-n", "200", "-c", "8", m.URL+"/cards/v1/cards")
			var s loadSummary
			if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &s) != nil || s.OK != 200 || s.TokenExchanges != 1 {
				t.Fatalf("load: %+v", r)
			}
		})
	}
	// --scope overrides PISMO_SCOPES: a cards token is refused on an accounts path.
	env := map[string]string{"PISMO_AUTH_METHOD": "oauth2", "PISMO_TOKEN_URL": m.URL + pismomock.OAuth2Path, "PISMO_CLIENT_ID": "sk-1",
		"PISMO_CLIENT_SECRET": "client-secret-1", "PISMO_SCOPES": "pismo-v1:accounts:rw"}
	if r := finauth(t, env, "", "call", "--scope", "pismo-v1:cards:rw", "--account", "12345", m.URL+"/accounts/12345"); r.code != exitFail || !strings.Contains(r.stdout, pismomock.ReasonInsufficientScope) {
		t.Fatalf("--scope: %+v", r)
	}
	// A method missing its variables names them.
	delete(env, "PISMO_CLIENT_SECRET")
	if r := finauth(t, env, "", "token", "pismo"); r.code != exitUsage || !strings.Contains(r.stderr, "--client-secret-env VAR / PISMO_CLIENT_SECRET: required when PISMO_AUTH_METHOD=oauth2") {
		t.Fatalf("no secret: %+v", r)
	}
}

// A token URL with the wrong path: the message names the URL that answered and keeps the
// server's clue (the path it refused, once redacted as if it were a token), with one
// "finauth:" at the front (each layer of the library added its own before).
func TestCLI_AWrongTokenURLIsNamedWithOneFinauthPrefix(t *testing.T) {
	t.Parallel()
	m := newPismoMock(t)
	env := pismoEnv(m)
	env["PISMO_TOKEN_URL"] = m.URL + "/oauth/token"
	r := finauth(t, env, "", "call", "--profile", "pismo", m.URL+"/cards/v1/cards")
	if r.code != exitFail || !strings.Contains(r.stderr, "token endpoint "+m.URL+"/oauth/token answered 401") ||
		!strings.Contains(r.stderr, "(POST /oauth/token)") || strings.Count(r.stderr, "finauth:") != 1 || strings.Contains(r.stderr, "[redacted]") {
		t.Fatalf("%+v", r)
	}
	r = finauth(t, nil, "", "jwk", filepath.Join(t.TempDir(), "missing.pub.pem"))
	if r.code != exitUsage || strings.Count(r.stderr, "finauth:") != 1 {
		t.Fatalf("a missing key file: %+v", r)
	}
}
