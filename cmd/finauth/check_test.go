package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/testkit/redistest"
)

// checkResult is check --json's answer.
type checkResult struct {
	Profile, Status string
	Checks          []struct{ Check, Status, Detail string }
}

func (c checkResult) status(name string) string {
	for _, l := range c.Checks {
		if l.Check == name {
			return l.Status
		}
	}
	return ""
}

func runCheck(t *testing.T, env map[string]string, args ...string) (result, checkResult) {
	t.Helper()
	r := finauth(t, env, "", append(append([]string{"check"}, args...), "--json")...)
	var c checkResult
	if strings.HasPrefix(r.stdout, "{") || r.code != exitUsage { // a configuration problem found before the checks prints no JSON
		if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
			t.Fatalf("check %v --json: %v\n%+v", args, err, r)
		}
	}
	return r, c
}

// finauth check, profile by profile: every check passes against the mocks (exit 0); a token
// the server refuses, a Redis that does not answer are failures (exit 1); a configuration
// problem or a Redis refusing the password is the configuration (exit 2). No secret shows.
func TestCLI_Check(t *testing.T) {
	t.Parallel()
	m := newPismoMock(t)
	env := pismoEnv(m)
	r, c := runCheck(t, env, "pismo")
	if r.code != exitOK || c.Status != "ok" || c.status("token") != "ok" || c.status("clock") != "ok" || c.status("redis") != "skip" {
		t.Fatalf("pismo: %+v %+v", r, c)
	}
	if m.Stats().Exchanges != 1 {
		t.Fatalf("%d token requests, want one", m.Stats().Exchanges)
	}
	// The human form says each check and the outcome.
	if r := finauth(t, env, "", "check", "pismo"); r.code != exitOK || !strings.Contains(r.stdout, "ok    token") || !strings.Contains(r.stdout, "every check passed") {
		t.Fatalf("pismo, human: %+v", r)
	}
	// An account's token.
	if r, c := runCheck(t, env, "pismo", "--account", "12345"); r.code != exitOK || c.status("token") != "ok" {
		t.Fatalf("pismo --account: %+v %+v", r, c)
	}
	// Refused by the server: exit 1, the server's reason said.
	bad := withVar(env, "PISMO_AUDIENCE", "https://wrong.example")
	if r, c := runCheck(t, bad, "pismo"); r.code != exitFail || c.status("token") != "fail" || !strings.Contains(r.stdout, "aud") {
		t.Fatalf("a wrong audience: %+v %+v", r, c)
	}
	// The configuration: exit 2, naming the variable, nothing sent.
	before := m.Stats().Exchanges
	if r, _ := runCheck(t, withVar(env, "PISMO_ISSUER", ""), "pismo"); r.code != exitUsage || !strings.Contains(r.stderr, "PISMO_ISSUER") || m.Stats().Exchanges != before {
		t.Fatalf("no issuer: %+v", r)
	}

	// Redis: answers and accepts the credentials; a wrong password is the configuration
	// (exit 2, the password never shown); one that does not answer fails the check.
	srv := redistest.Start(t)
	withRedis := withVar(env, "FINAUTH_CACHE_KEY", cacheKey)
	withRedis["FINAUTH_REDIS_URL"] = srv.URL()
	if r, c := runCheck(t, withRedis, "pismo"); r.code != exitOK || c.status("redis") != "ok" || strings.Contains(r.stdout+r.stderr, srv.Password) {
		t.Fatalf("redis: %+v %+v", r, c)
	}
	withRedis["FINAUTH_REDIS_URL"] = "redis://:not-the-password-7@" + srv.Addr + "/0"
	if r, c := runCheck(t, withRedis, "pismo"); r.code != exitUsage || c.status("redis") != "fail" || strings.Contains(r.stdout+r.stderr, "not-the-password-7") {
		t.Fatalf("a wrong Redis password: %+v %+v", r, c)
	}
	withRedis["FINAUTH_REDIS_URL"] = "redis://:pw@127.0.0.1:1/0"
	if r, c := runCheck(t, withRedis, "pismo"); r.code != exitFail || c.status("redis") != "fail" || !strings.Contains(r.stdout, "does not answer") {
		t.Fatalf("a Redis that does not answer: %+v %+v", r, c)
	}

	// Soldo Business and Soldo's PSD2 interface (a signature, nothing sent but a HEAD).
	_, biz := soldoBusinessSetup(t)
	if r, c := runCheck(t, biz, "soldo-business"); r.code != exitOK || c.status("token") != "ok" || strings.Contains(r.stdout, "cli-biz-secret") || strings.Contains(r.stdout, "cli-biz-internal") {
		t.Fatalf("soldo-business: %+v %+v", r, c)
	}
	if r, _ := runCheck(t, withVar(biz, "SOLDO_BUSINESS_PRIVATE_KEY_FILE", keys+"test-ec-p256-pkcs8.pem"), "soldo-business"); r.code != exitUsage || !strings.Contains(r.stderr, "SOLDO_BUSINESS_PRIVATE_KEY_FILE") {
		t.Fatalf("soldo-business with an EC key: %+v", r)
	}
	ec, _ := signer.LoadKeyFile(keys + "test-ec-p256-pkcs8.pem")
	s, err := soldomock.NewServer(soldomock.Config{Members: map[string][]*signer.PublicKey{"m:1": {ec.Public().WithKeyID("ec-1")}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	soldoEnv := map[string]string{"SOLDO_PRIVATE_KEY_FILE": keys + "test-ec-p256-pkcs8.pem", "SOLDO_KEY_ID": "ec-1", "SOLDO_MEMBER_ID": "m:1", "SOLDO_API_URL": s.URL}
	if r, c := runCheck(t, soldoEnv, "soldo"); r.code != exitOK || c.status("signature") != "ok" || c.status("clock") != "ok" {
		t.Fatalf("soldo: %+v %+v", r, c)
	}
}

// withVar is env with name set to value (a copy).
func withVar(env map[string]string, name, value string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	out[name] = value
	return out
}

// A clock minutes off the server's fails the check (signed JWTs carry it), seconds off is a
// warning (exit 0, or 1 with --strict): read from the token endpoint's Date header.
func TestCLI_CheckComparesTheClockWithTheServers(t *testing.T) {
	t.Parallel()
	m := newPismoMock(t)
	for name, c := range map[string]struct {
		off    time.Duration
		args   []string
		code   int
		status string
	}{
		"in time":          {0, nil, exitOK, "ok"},
		"10 s off":         {10 * time.Second, nil, exitOK, "warn"},
		"10 s off, strict": {10 * time.Second, []string{"--strict"}, exitFail, "warn"},
		"3 min off":        {-3 * time.Minute, nil, exitFail, "fail"},
		"3 min, allowed":   {-3 * time.Minute, []string{"--max-clock-skew", "5m"}, exitOK, "warn"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The token endpoint, its Date header off by c.off.
			skewed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Date", time.Now().Add(c.off).UTC().Format(http.TimeFormat))
				m.Mock.ServeHTTP(w, r)
			}))
			t.Cleanup(skewed.Close)
			env := pismoEnv(m)
			env["PISMO_TOKEN_URL"] = skewed.URL + strings.TrimPrefix(m.TokenURL(), m.URL)
			r, res := runCheck(t, env, append([]string{"pismo"}, c.args...)...)
			if r.code != c.code || res.status("clock") != c.status {
				t.Fatalf("exit %d, clock %q; want %d, %q: %+v", r.code, res.status("clock"), c.code, c.status, res)
			}
		})
	}
}

// Revolut's transport certificate: its dates are reported (ok, a warning within 30 days, a
// failure once expired, with the token request refused before anything is sent).
func TestCLI_CheckRevolutReportsTheTransportCertificate(t *testing.T) {
	t.Parallel()
	m, env := revolutEnv(t)
	r, c := runCheck(t, env, "revolut")
	if r.code != exitOK || c.status("token") != "ok" || c.status("transport certificate") != "ok" || !strings.Contains(r.stdout, "revolutmock test client") {
		t.Fatalf("revolut: %+v %+v", r, c)
	}
	for name, tc := range map[string]struct {
		left   time.Duration
		code   int
		status string
	}{
		"expires in 10 days": {10 * 24 * time.Hour, exitOK, "warn"},
		"expired":            {-time.Hour, exitFail, "fail"},
	} {
		t.Run(name, func(t *testing.T) {
			e := withVar(env, "REVOLUT_TRANSPORT_CERT_FILE", "")
			e["REVOLUT_TRANSPORT_CERT_FILE"], e["REVOLUT_TRANSPORT_KEY_FILE"] = caSignedPair(t, m.PKI, time.Now().Add(tc.left))
			before := m.Stats().Tokens["client_credentials"]
			r, c := runCheck(t, e, "revolut")
			if r.code != tc.code || c.status("transport certificate") != tc.status {
				t.Fatalf("%+v %+v", r, c)
			}
			if tc.status == "fail" && (c.status("token") != "fail" || m.Stats().Tokens["client_credentials"] != before) {
				t.Fatalf("an expired certificate still asked for a token: %+v", c)
			}
		})
	}
}

// caSignedPair writes a transport certificate the mock trusts, valid until notAfter, and its
// key.
func caSignedPair(t *testing.T, pki *revolutmock.PKI, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	cert, key, err := pki.ClientCertificate("check-under-test", notAfter)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key")
	os.WriteFile(certFile, cert, 0o600)
	os.WriteFile(keyFile, key, 0o600)
	return certFile, keyFile
}

// sign rfc9421 prints the three headers of a request's message signature (FAPI 2.0's
// profile by default), and verify --rfc9421 checks them on the request written as HTTP/1.1
// text: the signature, the required components, the tag and the body's Content-Digest; a
// body changed after signing, or a component not covered, is a failure (exit 1).
func TestCLI_SignAndVerifyRFC9421(t *testing.T) {
	t.Parallel()
	body := `{"amount":"5.00"}`
	r := finauth(t, nil, body, "sign", "rfc9421", "--key", keys+"test-ec-p256-pkcs8.pem", "--kid", "sig-1",
		"-X", "POST", "-H", "Authorization: DPoP at-1", "-H", "DPoP: proof-1", "--data", "-", "https://rs.example/payments?x=1")
	if r.code != exitOK || !strings.Contains(r.stdout, "Content-Digest: sha-256=:") || !strings.Contains(r.stdout, `tag="fapi-2-request"`) ||
		!strings.Contains(r.stdout, `("@method" "@target-uri" "authorization" "content-digest" "dpop")`) {
		t.Fatalf("sign rfc9421: %+v", r)
	}
	request := func(sentBody string) string {
		return "POST /payments?x=1 HTTP/1.1\nHost: rs.example\nAuthorization: DPoP at-1\nDPoP: proof-1\n" + strings.TrimSpace(r.stdout) +
			"\nContent-Length: " + strconv.Itoa(len(sentBody)) + "\n\n" + sentBody
	}
	v := finauth(t, nil, request(body), "verify", "--rfc9421", "--request", "-", "--key", keys+"test-ec-p256-public.pem",
		"--tag", "fapi-2-request", "--require", "@method,@target-uri,authorization,dpop")
	if v.code != exitOK || !strings.Contains(v.stdout, `"content_digest": "matches the body"`) || !strings.Contains(v.stdout, `"keyid": "sig-1"`) {
		t.Fatalf("verify: %+v", v)
	}
	if v := finauth(t, nil, request(`{"amount":"9.00"}`), "verify", "--rfc9421", "--request", "-", "--key", keys+"test-ec-p256-public.pem"); v.code != exitFail || !strings.Contains(v.stderr, "Content-Digest") {
		t.Fatalf("a changed body: %+v", v)
	}
	if v := finauth(t, nil, request(body), "verify", "--rfc9421", "--request", "-", "--key", keys+"test-ec-p256-public.pem", "--require", "content-type"); v.code != exitFail || !strings.Contains(v.stderr, "missing_component") {
		t.Fatalf("a component not covered: %+v", v)
	}
	// The profile refuses a request without Authorization (the wrong order, in a transport).
	if r := finauth(t, nil, "", "sign", "rfc9421", "--key", keys+"test-ec-p256-pkcs8.pem", "--kid", "k", "https://rs.example/a"); r.code == exitOK || !strings.Contains(r.stderr, "Authorization") {
		t.Fatalf("no Authorization: %+v", r)
	}
}
