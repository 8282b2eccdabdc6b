package main

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// call's curl habits: -v (headers, Authorization redacted, timings), -o, --fail, a JSON
// Content-Type when the body is JSON, a warning when -H Authorization is overridden,
// --max-time.
func TestCLI_CallLikeCurl(t *testing.T) {
	t.Parallel()
	m := newPismoMock(t)
	env := pismoEnv(m)
	r := finauth(t, env, "", "call", "-v", "-X", "POST", "--data", `{"a":1}`, "-H", "Authorization: Basic mine", m.URL+"/payments")
	if r.code != exitOK || !strings.Contains(r.stderr, "> POST /payments") || !strings.Contains(r.stderr, "> Authorization: Bearer [redacted]") ||
		!strings.Contains(r.stderr, "> Content-Type: application/json") || !strings.Contains(r.stderr, "< HTTP/1.1 200 OK") ||
		!strings.Contains(r.stderr, "to the response headers") || !strings.Contains(r.stderr, "warning: your -H Authorization is replaced") || strings.Contains(r.stderr, "pismo_") {
		t.Fatalf("-v: %+v", r)
	}
	out := filepath.Join(t.TempDir(), "body.json")
	if r := finauth(t, env, "", "call", "-o", out, m.URL+"/cards"); r.code != exitOK || r.stdout != "" {
		t.Fatalf("-o: %+v", r)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), `"path":"/cards"`) {
		t.Fatalf("-o wrote %q", b)
	}
	if r := finauth(t, env, "", "call", "--fail", m.URL+"/accounts/9"); r.code != exitFail || r.stdout != "" || !strings.Contains(r.stderr, "403") {
		t.Fatalf("--fail: %+v", r)
	}
	m.SetLatency(2 * time.Second)
	if r := finauth(t, env, "", "call", "--max-time", "100ms", m.URL+"/cards"); r.code != exitFail || !strings.Contains(r.stderr, "--max-time") {
		t.Fatalf("--max-time: %+v", r)
	}
}

// --cacert trusts a private CA for the token endpoint and the API; without it, the
// certificate error is reported after one attempt, not retried.
func TestCLI_CallWithAPrivateCA(t *testing.T) {
	t.Parallel()
	m := newPismoMock(t)
	tlsSrv := httptest.NewTLSServer(m.Mock)
	defer tlsSrv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644)
	env := pismoEnv(m)
	env["PISMO_TOKEN_URL"] = tlsSrv.URL + "/passport/v1/oauth2/token"
	if r := finauth(t, env, "", "call", "--cacert", ca, tlsSrv.URL+"/cards"); r.code != exitOK || !strings.Contains(r.stdout, `"path":"/cards"`) {
		t.Fatalf("--cacert: %+v", r)
	}
	if r := finauth(t, env, "", "call", tlsSrv.URL+"/cards"); r.code != exitFail || !strings.Contains(r.stderr, "certificate") || !strings.Contains(r.stderr, "after 1 attempt") {
		t.Fatalf("without --cacert: %+v", r)
	}
}

// Plain http to a host that is not loopback is refused naming --allow-insecure-http, and
// accepted with it.
func TestCLI_AllowInsecureHTTP(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SOLDO_API_URL": "http://api.example.com", "SOLDO_PRIVATE_KEY_FILE": keys + "test-ec-p256-pkcs8.pem", "SOLDO_KEY_ID": "ec-1", "SOLDO_MEMBER_ID": "m:1"}
	r := finauth(t, env, "", "call", "--profile", "soldo", "http://api.example.com/x")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--api-url / SOLDO_API_URL") || !strings.Contains(r.stderr, "plain http") || !strings.Contains(r.stderr, "--allow-insecure-http or SOLDO_ALLOW_INSECURE_HTTP=true") {
		t.Fatalf("%+v", r)
	}
	if r := finauth(t, env, "", "sign", "soldo", "--allow-insecure-http", "http://api.example.com/x"); r.code != exitOK {
		t.Fatalf("--allow-insecure-http: %+v", r)
	}
}

// A 401 that survives the refresh and the replay says so.
func TestCLI_A401AfterTheReplaySaysSo(t *testing.T) {
	t.Parallel()
	m := newPismoMock(t)
	m.Fail401(2) // the first call and its replay
	if r := finauth(t, pismoEnv(m), "", "call", m.URL+"/cards"); r.code != exitFail || !strings.Contains(r.stderr, "even after finauth got a new token and replayed the request") {
		t.Fatalf("%+v", r)
	}
}

// A profile's help names its own variables only.
func TestCLI_HelpNamesTheProfilesVariablesOnly(t *testing.T) {
	t.Parallel()
	r := finauth(t, nil, "", "mint", "pismo", "--help")
	if r.code != exitOK || !strings.Contains(r.stderr, "PISMO_PRIVATE_KEY_FILE") || strings.Contains(r.stderr, "SOLDO_") || strings.Contains(r.stderr, "MIA_") {
		t.Fatalf("%+v", r)
	}
}

// -v redacts by header semantics: cookies show their names only, Authorization and
// Proxy-Authorization keep a known scheme only, credential headers show nothing; and the
// warning about -H Authorization is printed only by a profile that replaces it.
func TestCLI_VerboseShowsNoSecretOfAnyHeader(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "session=SECRET-SET-COOKIE; Path=/; HttpOnly")
		w.Header().Set("X-Api-Key", "SECRET-ANSWER-KEY")
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	r := finauth(t, nil, "", "call", "--profile", "none", "-v",
		"-H", "Authorization: SECRET-APIKEY", "-H", "Proxy-Authorization: Basic SECRET-PROXY", "-H", "Cookie: sid=SECRET-COOKIE; theme=dark",
		"-H", "X-Api-Key: SECRET-KEY", "-H", "X-Auth-Token: SECRET-TOKEN", "-H", "X-Idempotency-Key: not-a-secret", srv.URL+"/x")
	if r.code != exitOK || strings.Contains(r.stderr, "SECRET") {
		t.Fatalf("a secret shows:\n%s", r.stderr)
	}
	for _, want := range []string{"> Proxy-Authorization: Basic [redacted]", "> Cookie: sid=[redacted]; theme=[redacted]", "> Authorization: [redacted]",
		"< Set-Cookie: session=[redacted]; Path=/; HttpOnly", "> X-Idempotency-Key: not-a-secret"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("-v does not show %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "is replaced by the profile") {
		t.Errorf("--profile none replaces nothing, yet warns:\n%s", r.stderr)
	}
}
