package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/signer"
)

const keys = "../../signer/testdata/keys/"

type result struct {
	code           int
	stdout, stderr string
}

// bin is the finauth binary the tests run, built once by TestMain: the CLI is tested as a user
// runs it, a process with its own environment, arguments, stdin and exit status.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "finauth-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "finauth")
	// Built without -race even under -race: a race-instrumented binary takes long to build and
	// to start, for every one of the hundreds of commands the tests run; the in-process tests
	// (README, progress bar, clock-dependent ones) keep the CLI's code under the race detector.
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building finauth: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// finauth runs the built CLI with env as its whole environment and stdin as its input.
func finauth(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running finauth: %v", err)
	}
	return result{code, out.String(), errb.String()}
}

func TestCLI_UsageAndHelp(t *testing.T) {
	t.Parallel()
	if r := finauth(t, nil, ""); r.code != exitUsage || !strings.Contains(r.stderr, "keygen") || r.stdout != "" {
		t.Fatalf("no command: %+v", r)
	}
	if r := finauth(t, nil, "", "--help"); r.code != exitOK || !strings.Contains(r.stdout, "completion") {
		t.Fatalf("--help: %+v", r)
	}
	if r := finauth(t, nil, "", "nope"); r.code != exitUsage {
		t.Fatalf("%+v", r)
	}
	for _, c := range commands {
		args := []string{c.name, "--help"}
		if c.name == "mint" || c.name == "token" {
			args = []string{c.name, "pismo", "--help"}
		}
		if c.name == "sign" {
			args = []string{c.name, "soldo", "--help"}
		}
		if r := finauth(t, nil, "", args...); r.code != exitOK || !strings.Contains(r.stderr, "usage: finauth "+c.name) {
			t.Errorf("%s --help: %+v", c.name, r)
		}
	}
}

func TestCLI_KeygenAndJWK(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "k.pem"), filepath.Join(dir, "k.pub.pem")
	env := map[string]string{"KEYPASS": "correct horse"}
	r := finauth(t, env, "", "keygen", "--alg", "ES256", "--out", priv, "--pub", pub, "--passphrase-env", "KEYPASS")
	if r.code != exitOK {
		t.Fatalf("%+v", r)
	}
	var jwk map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &jwk); err != nil || jwk["kty"] != "EC" || jwk["d"] != nil || jwk["use"] != "sig" {
		t.Fatalf("JWK %s", r.stdout)
	}
	fi, _ := os.Stat(priv)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v", fi.Mode())
	}
	data, _ := os.ReadFile(priv)
	if !strings.Contains(string(data), "ENCRYPTED PRIVATE KEY") {
		t.Fatal("not encrypted")
	}
	if r := finauth(t, env, "", "keygen", "--alg", "ES256", "--out", priv); r.code != exitUsage || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("overwrite: %+v", r)
	}
	// jwk of the encrypted private key (with its passphrase) and of the public PEM agree.
	a := finauth(t, env, "", "jwk", "--passphrase-env", "KEYPASS", priv)
	b := finauth(t, env, "", "jwk", pub)
	if a.code != 0 || a.stdout != b.stdout || a.stdout != r.stdout {
		t.Fatalf("jwk differs:\n%s\n%s\n%s", a.stdout, b.stdout, r.stdout)
	}
	if r := finauth(t, nil, "", "jwk", priv); r.code != exitUsage || !strings.Contains(r.stderr, "passphrase") || strings.Contains(r.stderr, "correct horse") {
		t.Fatalf("no passphrase: %+v", r)
	}
	set := finauth(t, nil, "", "jwk", "--set", "--kid", "rsa-1", keys+"test-rsa-pkcs1.pem")
	if !strings.Contains(set.stdout, `"keys"`) || !strings.Contains(set.stdout, `"kid": "rsa-1"`) || strings.Contains(set.stdout, `"d"`) {
		t.Fatalf("jwks %+v", set)
	}
	if r := finauth(t, nil, "", "keygen", "--alg", "HS256", "--out", filepath.Join(dir, "x")); r.code != exitUsage {
		t.Fatalf("%+v", r)
	}
}

func pismoEnv(m *pismomock.Server) map[string]string {
	return map[string]string{
		"PISMO_TOKEN_URL": m.TokenURL(), "PISMO_PRIVATE_KEY_FILE": keys + "test-rsa-pkcs8.pem",
		"PISMO_ISSUER": "i@t", "PISMO_SUBJECT": "s@t", "PISMO_AUDIENCE": "https://sandbox.pismolabs.io",
		"PISMO_TENANT_ID": "tenant", "PISMO_GROUP": "g",
	}
}

func newPismoMock(t *testing.T) *pismomock.Server {
	key, _ := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	m, err := pismomock.NewServer(pismomock.Config{Keys: signer.NewKeySet(key.Public()), Issuer: "i@t", Subject: "s@t", Audience: "https://sandbox.pismolabs.io", TenantID: "tenant", Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func TestCLI_MintVerifyDecode(t *testing.T) {
	t.Parallel()
	r := finauth(t, nil, "", "mint", "pismo", "--key", keys+"test-rsa-pkcs8.pem", "--iss", "i", "--sub", "s", "--aud", "a",
		"--tenant", "t", "--group", "g", "--uid", "42", "--claim", "n=5", "--claim", "who=me", "--ttl", "10m", "--kid", "k1")
	if r.code != exitOK {
		t.Fatalf("%+v", r)
	}
	jwt := strings.TrimSpace(r.stdout)
	v := finauth(t, nil, jwt, "verify", "--key", keys+"test-rsa-public.pem", "-")
	var out struct {
		Header map[string]any
		Claims map[string]any
	}
	if v.code != exitOK || json.Unmarshal([]byte(v.stdout), &out) != nil {
		t.Fatalf("verify: %+v", v)
	}
	cc, _ := out.Claims["customClaims"].(map[string]any)
	if out.Header["kid"] != "k1" || out.Claims["uid"] != "42" || cc["n"] != 5.0 || cc["who"] != "me" || out.Claims["exp"].(float64)-out.Claims["iat"].(float64) != 600 {
		t.Fatalf("claims %s", v.stdout)
	}
	// A tampered token: exit 1, reason on stderr.
	tampered := jwt[:len(jwt)-4] + "AAAA"
	if r := finauth(t, nil, "", "verify", "--key", keys+"test-rsa-public.pem", tampered); r.code != exitFail || !strings.Contains(r.stderr, "invalid") {
		t.Fatalf("tampered: %+v", r)
	}
	if r := finauth(t, nil, "", "verify", "--key", keys+"test-rsa-public.pem", "--alg", "ES256", jwt); r.code != exitFail || !strings.Contains(r.stderr, "not in the allowed list") {
		t.Fatalf("alg: %+v", r)
	}
	d := finauth(t, nil, "", "decode", jwt)
	if d.code != exitOK || !strings.Contains(d.stderr, "WITHOUT verifying") || !strings.Contains(d.stdout, `"uid": "42"`) {
		t.Fatalf("decode %+v", d)
	}
	// Missing configuration names flags and variables, all at once.
	m := finauth(t, nil, "", "mint", "pismo")
	if m.code != exitUsage || !strings.Contains(m.stderr, "--iss / PISMO_ISSUER") || !strings.Contains(m.stderr, "--key / PISMO_PRIVATE_KEY_FILE") {
		t.Fatalf("%+v", m)
	}
}

func TestCLI_TokenCallLoadPismo(t *testing.T) {
	t.Parallel()
	m := newPismoMock(t)
	env := pismoEnv(m)
	r := finauth(t, env, "", "token", "pismo", "--account", "7")
	var tok map[string]any
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &tok) != nil || !strings.HasPrefix(tok["access_token"].(string), "[redacted") || tok["token_type"] != "Bearer" {
		t.Fatalf("%+v", r)
	}
	if strings.Contains(r.stdout, "pismo_") {
		t.Fatal("the token was printed without --show-token")
	}
	if r := finauth(t, env, "", "token", "pismo", "--show-token"); !strings.Contains(r.stdout, "pismo_") {
		t.Fatalf("--show-token: %+v", r)
	}
	c := finauth(t, env, "", "call", "--account", "7", "-i", "-X", "POST", "--data", `{"x":1}`, m.URL+"/accounts/7/transfers")
	if c.code != exitOK || !strings.HasPrefix(c.stdout, "HTTP/1.1 200 OK") || !strings.Contains(c.stdout, `"uid":"7"`) {
		t.Fatalf("call: %+v", c)
	}
	if c := finauth(t, env, "", "call", m.URL+"/accounts/7"); c.code != exitFail || !strings.Contains(c.stderr, "403") {
		t.Fatalf("call without the account token: %+v", c)
	}
	l := finauth(t, env, "", "load", "-n", "60", "-c", "6", "--json", m.URL+"/cards")
	var s loadSummary
	if l.code != exitOK || json.Unmarshal([]byte(l.stdout), &s) != nil || s.Requests != 60 || s.OK != 60 || s.Status["200"] != 60 || s.TokenExchanges != 1 ||
		s.AuthWaitMS["max"] <= 0 || s.AuthWaitMS["max"] < s.AuthWaitMS["mean"] || s.Concurrency != 6 || s.N != 60 || s.Method != "GET" {
		t.Fatalf("load: %+v", l)
	}
	d := finauth(t, env, "", "load", "--duration", "300ms", "-c", "2", m.URL+"/cards")
	if d.code != exitOK || !strings.Contains(d.stdout, "token requests: 1") {
		t.Fatalf("load --duration: %+v", d)
	}
	env["PISMO_PRIVATE_KEY_PASSWORD"] = "unused-secret"
	env["PISMO_PRIVATE_KEY_FILE"] = keys + "test-rsa-pkcs8-encrypted.pem"
	env["PISMO_PRIVATE_KEY_PASSWORD"] = "wrong-secret"
	if r := finauth(t, env, "", "token", "pismo"); r.code != exitUsage || !strings.Contains(r.stderr, "passphrase is wrong") || strings.Contains(r.stderr, "wrong-secret") {
		t.Fatalf("wrong password: %+v", r)
	}
}

func TestCLI_SignAndCallSoldo(t *testing.T) {
	t.Parallel()
	key, _ := signer.LoadKeyFile(keys + "test-ec-p256-pkcs8.pem")
	m, err := soldomock.NewServer(soldomock.Config{Members: map[string][]*signer.PublicKey{"m:1": {key.Public().WithKeyID("ec-1")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	env := map[string]string{"SOLDO_PRIVATE_KEY_FILE": keys + "test-ec-p256-pkcs8.pem", "SOLDO_KEY_ID": "ec-1", "SOLDO_MEMBER_ID": "m:1"}
	body := `{"requestPayload": {"amount": "2.00"}}`
	r := finauth(t, env, body, "sign", "soldo", "-X", "POST", "--data", "-", m.URL+"/banks/iron/consents?x=1")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "Bearer ") {
		t.Fatalf("%+v", r)
	}
	req, _ := http.NewRequest(http.MethodPost, m.URL+"/banks/iron/consents?x=1", strings.NewReader(body))
	req.Header.Set("Authorization", strings.TrimSpace(r.stdout))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the printed signature was refused: %v %v", err, resp)
	}
	resp.Body.Close()
	if c := finauth(t, env, "", "call", "--profile", "soldo", m.URL+"/transfers/t-1"); c.code != exitUsage || !strings.Contains(c.stderr, "--api-url / SOLDO_API_URL: required") {
		t.Fatalf("call without SOLDO_API_URL: %+v", c)
	}
	env["SOLDO_API_URL"] = m.URL
	c := finauth(t, env, "", "call", "--profile", "soldo", "-X", "PUT", "--data", "hello", "-H", "X-Trace: 1", m.URL+"/transfers/t-1")
	if c.code != exitOK || !strings.Contains(c.stdout, `"method":"PUT"`) {
		t.Fatalf("call: %+v", c)
	}
	l := finauth(t, env, "", "load", "--profile", "soldo", "-n", "20", "-c", "4", "-X", "POST", "--data", "x", "--json", m.URL+"/banks/b/consents")
	var s loadSummary
	if l.code != exitOK || json.Unmarshal([]byte(l.stdout), &s) != nil || s.OK != 20 {
		t.Fatalf("load: %+v", l)
	}
	if r := finauth(t, map[string]string{}, "", "sign", "soldo", m.URL); r.code != exitUsage || !strings.Contains(r.stderr, "--mid / SOLDO_MEMBER_ID") {
		t.Fatalf("%+v", r)
	}
}

func TestCLI_Demo(t *testing.T) {
	t.Parallel()
	r := finauth(t, nil, "", "demo", "--json", "--duration", "2s")
	var d demoResult
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &d) != nil || !d.AllOK || d.Pismo.OK == 0 || d.Soldo.Verified == 0 || d.Pismo.Revoked == 0 || d.Pismo.Replays == 0 ||
		d.Mia.OK == 0 || d.Mia.TokenRequests < 1 || !strings.Contains(r.stdout, `"failures": []`) ||
		d.Revolut.Consents != 1 || d.Revolut.Authorised != 1 || d.Revolut.Payments != demoRevolutPayments || d.Revolut.TokenRequests != 2 || d.Revolut.Refused != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestCLI_LoadDrawsProgressOnATerminal(t *testing.T) {
	t.Parallel()
	m := newPismoMock(t)
	env := pismoEnv(m)
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, now: time.Now, stderrIsTTY: true,
		lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	if code := a.run([]string{"load", "--duration", "500ms", "-c", "2", m.URL + "/cards"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "\r[") || !strings.Contains(errb.String(), "100%") || !strings.Contains(errb.String(), " req/s, ETA ") || strings.Contains(out.String(), "\r[") {
		t.Fatalf("progress on stderr %q, stdout %q", errb.String(), out.String())
	}
}

func TestCLI_VersionAndSubcommandHelp(t *testing.T) {
	t.Parallel()
	if r := finauth(t, nil, "", "--version"); r.code != exitOK || !strings.HasPrefix(r.stdout, "finauth ") {
		t.Fatalf("--version: %+v", r)
	}
	for cmd, subs := range map[string][]string{"mint": {"pismo", "mia"}, "token": {"pismo", "mia"}, "sign": {"soldo"}} {
		t.Run(cmd, func(t *testing.T) {
			r := finauth(t, nil, "", cmd, "--help")
			if r.code != exitOK {
				t.Fatalf("%s --help: %+v", cmd, r)
			}
			for _, s := range subs {
				if !strings.Contains(r.stderr, s) {
					t.Fatalf("%s --help does not list %s: %s", cmd, s, r.stderr)
				}
			}
			if r := finauth(t, nil, "", cmd); r.code != exitUsage || !strings.Contains(r.stderr, subs[0]) {
				t.Fatalf("%s alone: %+v", cmd, r)
			}
		})
	}
}

// A wrong flag is reported once, with a short usage line, not the whole flag list twice.
func TestCLI_AnUnknownFlagIsReportedOnce(t *testing.T) {
	t.Parallel()
	r := finauth(t, nil, "", "jwk", "--nope", "x")
	if r.code != exitUsage || strings.Count(r.stderr, "flag provided but not defined") != 1 || !strings.Contains(r.stderr, "usage: finauth jwk") || strings.Contains(r.stderr, "flags:") {
		t.Fatalf("%+v", r)
	}
}

func TestCLI_CompletionScripts(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := finauth(t, nil, "", "completion", shell)
		if r.code != exitOK || !strings.Contains(r.stdout, "keygen") || !strings.Contains(r.stdout, "pismo mia") {
			t.Fatalf("%s: %+v", shell, r)
		}
		if shell == "bash" {
			cmd := exec.Command("bash", "-n")
			cmd.Stdin = strings.NewReader(r.stdout)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("bash -n: %v\n%s", err, out)
			}
		}
	}
	if r := finauth(t, nil, "", "completion", "tcsh"); r.code != exitUsage {
		t.Fatalf("%+v", r)
	}
}

// The top-level help lines its commands up (completion, the longest, touched its summary),
// names --version, the environment and the exit statuses; -version works like --version.
func TestCLI_TopLevelHelp(t *testing.T) {
	t.Parallel()
	r := finauth(t, nil, "", "--help")
	col := -1
	for _, c := range commands {
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, "  "+c.name+" ") {
				at := strings.Index(l, c.summary)
				if col == -1 {
					col = at
				}
				if at != col || at < len(c.name)+4 {
					t.Errorf("%q: summary at column %d, want %d, two spaces after the name", l, at, col)
				}
			}
		}
	}
	for _, want := range []string{"finauth --version", "Exit status: 0", "130", "FINAUTH_REDIS_URL", "REVOLUT_*"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the help does not say %q:\n%s", want, r.stdout)
		}
	}
	if v := finauth(t, nil, "", "-version"); v.code != exitOK || !strings.HasPrefix(v.stdout, "finauth ") {
		t.Errorf("-version: %+v", v)
	}
}
