package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/signer"
)

// signingCert writes a self-signed certificate of the private key in keyFile (the
// application's signing certificate: what the JWKS publishes as x5c) and returns its path.
func signingCert(t *testing.T, dir, name, keyFile string) string {
	t.Helper()
	key, err := signer.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name, Organization: []string{"finauth test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public().Key(), key.Signer())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// newRSAKeyFile writes a new RSA 2048 private key (PKCS #8 PEM) and returns its path.
func newRSAKeyFile(t *testing.T, dir, name string) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	path := filepath.Join(dir, name)
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	return path
}

// jwksServer runs finauth jwks serve over HTTPS (the mock's PKI's loopback certificate, which
// the mock trusts) in the background and returns its JWKS URL once it answers.
func jwksServer(t *testing.T, pkiDir string, keys ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"jwks", "serve", "--addr", addr, "--tls-cert", filepath.Join(pkiDir, revolutmock.JWKSHostCertFile), "--tls-key", filepath.Join(pkiDir, revolutmock.JWKSHostKeyFile)}
	for _, k := range keys {
		args = append(args, "--key", k)
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "https://" + addr + "/jwks.json"
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := fetchKIDs(pkiDir, url); err == nil {
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("jwks serve did not answer: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fetchKIDs reads the kids a JWKS URL publishes, trusting the mock's CA.
func fetchKIDs(pkiDir, url string) ([]string, error) {
	ca, _ := os.ReadFile(filepath.Join(pkiDir, revolutmock.CAFile))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 2 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc struct{ Keys []struct{ KID string } }
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.KID)
	}
	return kids, nil
}

// fromZero starts a mock that knows no application (JWKS kept for cache), publishes the
// signing key with jwks serve, registers by the CLI alone, and returns the mock, the
// environment with the client ID it got, the PKI directory and the JWKS URL.
func fromZero(t *testing.T, cache time.Duration, nextCert string) (*revolutmock.Server, map[string]string, string) {
	t.Helper()
	m, env := revolutEnvWith(t, func(c *revolutmock.Config) {
		c.ClientID, c.RedirectURIs, c.Keys, c.JWKSCacheTime = "", nil, nil, cache
	})
	delete(env, "REVOLUT_CLIENT_ID")
	pkiDir := filepath.Dir(env["REVOLUT_CA_FILE"])
	cur := signingCert(t, t.TempDir(), "sig-1", keys+"test-rsa-pkcs8.pem")
	url := jwksServer(t, pkiDir, "sig-1="+cur, "sig-2="+nextCert)
	r := finauth(t, env, "", "register", "revolut", "--self-signed-ssa", "--jwks-url", url, "--org-name", "finauth test")
	if r.code != exitOK || !strings.Contains(r.stdout, "export REVOLUT_CLIENT_ID=") {
		t.Fatalf("register: %+v", r)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if id, ok := strings.CutPrefix(line, "export REVOLUT_CLIENT_ID="); ok {
			env["REVOLUT_CLIENT_ID"] = id
		}
	}
	return m, env, url
}

// paymentConsent makes an authorised payment consent and exchanges its code: the user's token.
func paymentConsent(t *testing.T, m *revolutmock.Server, env map[string]string) (consentID, userToken string) {
	t.Helper()
	r := finauth(t, env, "", "call", "--profile", "revolut", "-X", "POST", "--data", `{"Data":{"Initiation":{"InstructedAmount":{"Amount":"5.00","Currency":"GBP"}}},"Risk":{}}`, m.URL+revolutmock.PaymentConsentsPath)
	var consent struct{ Data struct{ ConsentID string } }
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &consent) != nil || consent.Data.ConsentID == "" {
		t.Fatalf("consent: %+v", r)
	}
	link := finauth(t, env, "", "authorize", "revolut", "--consent", consent.Data.ConsentID)
	back, err := m.PKI.Authorise(strings.TrimSpace(link.stdout))
	if err != nil {
		t.Fatalf("authorise: %v (%+v)", err, link)
	}
	tok := finauth(t, env, "", "token", "revolut", "--code", back.Query().Get("code"), "--show-token", "--output", "bare")
	if tok.code != exitOK {
		t.Fatalf("token --code: %+v", tok)
	}
	return consent.Data.ConsentID, strings.TrimSpace(tok.stdout)
}

// From zero by the CLI alone: jwks serve publishes the signing key (x5c), register revolut
// gets a client ID from the strict mock (which fetched that JWKS over HTTPS and checked the
// registration JWT with it), and the usual flow works with it: consent, authorisation,
// code exchange, payment; --show reads the registration back. Then a rotation done as
// documented (the next key published, REVOLUT_NEXT_* set, the switch KeyCacheTime later,
// longer than the mock keeps the JWKS) passes payments signed across the switch with none
// refused, while a switch made before the mock's cache time has passed is refused.
func TestCLI_RevolutFromZeroAndKeyRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nextKey := newRSAKeyFile(t, dir, "next.key")

	t.Run("as documented", func(t *testing.T) {
		nextCert := filepath.Join(t.TempDir(), "sig-2.pem") // not published yet
		m, env, url := fromZero(t, 2*time.Second, nextCert)
		if st := m.Stats(); st.Registered != 1 {
			t.Fatalf("registered %d", st.Registered)
		}
		show := finauth(t, env, "", "register", "revolut", "--show", env["REVOLUT_CLIENT_ID"], "--json")
		if show.code != exitOK || !strings.Contains(show.stdout, `"client_id": "`+env["REVOLUT_CLIENT_ID"]+`"`) && !strings.Contains(show.stdout, `"client_id":"`+env["REVOLUT_CLIENT_ID"]+`"`) {
			t.Fatalf("--show: %+v", show)
		}
		up := finauth(t, env, "", "register", "revolut", "--update", env["REVOLUT_CLIENT_ID"], "--self-signed-ssa", "--jwks-url", url,
			"--org-name", "finauth test", "--scopes", "openid accounts payments fundsconfirmations")
		if up.code != exitOK || !strings.Contains(up.stdout, "scopes: openid accounts payments fundsconfirmations") {
			t.Fatalf("--update: %+v", up)
		}
		consentID, user := paymentConsent(t, m, env)
		payment := `{"Data":{"ConsentId":"` + consentID + `","Initiation":{"InstructedAmount":{"Amount":"5.00","Currency":"GBP"}}},"Risk":{}}`
		env["USER_TOKEN"] = user

		// Publish the next key: its certificate appears beside the current one.
		data, _ := os.ReadFile(signingCert(t, dir, "next-cert", nextKey))
		os.WriteFile(nextCert, data, 0o644)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if kids, _ := fetchKIDs(filepath.Dir(env["REVOLUT_CA_FILE"]), url); len(kids) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the next key was not published")
			}
		}
		published := time.Now().Truncate(time.Second).Add(time.Second) // RFC 3339 in seconds: later is safe
		env["REVOLUT_NEXT_KEY_ID"], env["REVOLUT_NEXT_PRIVATE_KEY_FILE"] = "sig-2", nextKey
		env["REVOLUT_NEXT_KEY_PUBLISHED_AT"] = published.UTC().Format(time.RFC3339)
		env["REVOLUT_KEY_CACHE_TIME"] = "3s" // longer than the mock keeps the JWKS (2 s)
		// Payments across the switch (about 1 to 2 s into the run).
		r := finauth(t, env, "", "load", "--profile", "revolut", "--token-env", "USER_TOKEN", "-X", "POST", "--data", payment,
			"-c", "2", "--duration", "5s", "--json", m.URL+revolutmock.PaymentsPath)
		var s loadSummary
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || r.code != exitOK || s.Requests < 200 || s.OK != s.Requests {
			t.Fatalf("payments across the switch: %+v %v\n%s", s, err, r.stderr)
		}
		kids := map[string]int{}
		for _, q := range m.Requests() {
			if q.Path == revolutmock.PaymentsPath {
				kids[jwsKID(t, q.JWS)]++
			}
		}
		st := m.Stats()
		t.Logf("%d payments, %d refused; signed by kid %v; %d JWKS fetches", s.OK, st.Rejections[revolutmock.ReasonJWS], kids, st.JWKSFetches)
		if kids["sig-1"] == 0 || kids["sig-2"] == 0 || st.Rejections[revolutmock.ReasonJWS] != 0 {
			t.Fatalf("the run did not sign across the switch, or was refused: %v %v", kids, st.Rejections)
		}
	})

	t.Run("too early", func(t *testing.T) {
		nextCert := filepath.Join(t.TempDir(), "sig-2.pem")
		m, env, _ := fromZero(t, time.Minute, nextCert) // the mock keeps the JWKS a minute
		consentID, user := paymentConsent(t, m, env)
		payment := `{"Data":{"ConsentId":"` + consentID + `","Initiation":{"InstructedAmount":{"Amount":"5.00","Currency":"GBP"}}},"Risk":{}}`
		env["USER_TOKEN"] = user
		data, _ := os.ReadFile(signingCert(t, dir, "next-cert-early", nextKey))
		os.WriteFile(nextCert, data, 0o644)
		time.Sleep(1500 * time.Millisecond) // published (the handler looks every second)
		// Switch at once to the next key (the mock still holds the JWKS without sig-2).
		env["REVOLUT_KEY_ID"], env["REVOLUT_PRIVATE_KEY_FILE"] = "sig-2", nextKey
		r := finauth(t, env, "", "call", "--profile", "revolut", "--token-env", "USER_TOKEN", "-X", "POST", "--data", payment, m.URL+revolutmock.PaymentsPath)
		st := m.Stats()
		if r.code == exitOK || st.Rejections[revolutmock.ReasonJWS] != 1 || !strings.Contains(r.stdout+r.stderr, "x_jws_signature") {
			t.Fatalf("an early switch was not refused: %+v %v", r, st.Rejections)
		}
		// The registration goes: --delete, and --show then fails by name.
		if d := finauth(t, env, "", "register", "revolut", "--delete", env["REVOLUT_CLIENT_ID"]); d.code != exitOK || !strings.Contains(d.stdout, "deleted") {
			t.Fatalf("--delete: %+v", d)
		}
		if s := finauth(t, env, "", "register", "revolut", "--show", env["REVOLUT_CLIENT_ID"]); s.code == exitOK || !strings.Contains(s.stderr, "registration failed") {
			t.Fatalf("--show after --delete: %+v", s)
		}
	})
}

// jwsKID is the kid of an x-jws-signature.
func jwsKID(t *testing.T, jws string) string {
	t.Helper()
	h, err := signer.DecodeUnverified(strings.Replace(jws, "..", ".e30.", 1))
	if err != nil {
		return "?"
	}
	kid, _ := h.HeaderString("kid")
	return kid
}

// Issue 31 (10): what register revolut prints for a shell holds the client ID as a value,
// whatever printable characters it has: eval'ing the export line runs nothing of the
// server's and sets the variable to exactly the ID.
func TestPrintClient_TheExportLineIsQuotedForTheShell(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, id := range []string{"client-1", "$(touch " + dir + "/pwned)", "`touch " + dir + "/pwned`", "a'b;touch " + dir + "/pwned", `x"y\z`} {
		var out bytes.Buffer
		a := &app{stdout: &out}
		if err := a.printClient(&revolut.Client{ClientID: id, Scope: []string{"openid"}, OrgJWKSEndpoint: "https://x/\x1b[2J"}, false); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "\x1b") {
			t.Fatalf("an escape sequence printed: %q", out.String())
		}
		var export string
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(line, "export ") {
				export = line
			}
		}
		got, err := exec.Command("bash", "-c", export+"\nprintf %s \"$REVOLUT_CLIENT_ID\"").Output()
		if err != nil || string(got) != id {
			t.Errorf("%q: eval'd export line set %q (%v)", id, got, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("eval'ing the export line ran a command of the client ID")
	}
}

// Issue 31: a plain registration needs the registration URL, not the token URL (which only
// --show, --update and --delete need, for their client-credentials token), as --help says.
func TestCLI_RegisterNeedsNoTokenURL(t *testing.T) {
	t.Parallel()
	m, env := revolutEnv(t)
	delete(env, "REVOLUT_TOKEN_URL")
	delete(env, "REVOLUT_CLIENT_ID")
	env["REVOLUT_REGISTRATION_URL"] = m.URL + "/register"
	r := finauth(t, env, "", "register", "revolut", "--self-signed-ssa", "--jwks-url", "https://app.example/jwks.json", "--org-name", "App Ltd", "--print-jwt")
	if r.code != exitOK || strings.Count(strings.TrimSpace(r.stdout), ".") != 2 {
		t.Fatalf("a registration without REVOLUT_TOKEN_URL: %+v", r)
	}
	if r := finauth(t, env, "", "register", "revolut", "--show", "client-1"); r.code == exitOK || !strings.Contains(r.stderr, "REVOLUT_TOKEN_URL") {
		t.Fatalf("--show without REVOLUT_TOKEN_URL: %+v", r)
	}
}
