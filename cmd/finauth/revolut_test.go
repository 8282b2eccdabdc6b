package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/signer"
)

// revolutEnv starts the Revolut mock (mutual TLS) and returns the REVOLUT_* variables a user
// would set, with the transport certificate and the CA in files.
func revolutEnv(t *testing.T) (*revolutmock.Server, map[string]string) {
	t.Helper()
	return revolutEnvWith(t, nil)
}

// revolutEnvWith is revolutEnv with the mock's configuration changed by edit.
func revolutEnvWith(t *testing.T, edit func(*revolutmock.Config)) (*revolutmock.Server, map[string]string) {
	t.Helper()
	pki, err := revolutmock.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	cfg := revolutmock.Config{ClientID: "cli-client", RedirectURIs: []string{"https://app.example/cb"},
		Keys: signer.NewKeySet(key.Public().WithKeyID("sig-1")), TAN: "app.example"}
	if edit != nil {
		edit(&cfg)
	}
	m, err := revolutmock.NewServer(cfg, pki)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	dir := t.TempDir()
	if err := pki.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	return m, map[string]string{
		"REVOLUT_CLIENT_ID": "cli-client", "REVOLUT_KEY_ID": "sig-1", "REVOLUT_PRIVATE_KEY_FILE": keys + "test-rsa-pkcs8.pem",
		"REVOLUT_TRANSPORT_CERT_FILE": filepath.Join(dir, revolutmock.TransportCertFile), "REVOLUT_TRANSPORT_KEY_FILE": filepath.Join(dir, revolutmock.TransportKeyFile),
		"REVOLUT_CA_FILE": filepath.Join(dir, revolutmock.CAFile), "REVOLUT_TOKEN_URL": m.TokenURL(), "REVOLUT_API_URL": m.URL,
		"REVOLUT_AUTH_URL": m.AuthURL(), "REVOLUT_AUDIENCE": "https://oba-auth.revolut.com",
		"REVOLUT_REDIRECT_URI": "https://app.example/cb", "REVOLUT_TAN": "app.example",
	}
}

// The whole Revolut flow with the CLI alone: a payment consent, the authorisation URL, the
// code exchanged for the user's tokens, the payment with the user's token; mint and load.
func TestCLI_RevolutFlow(t *testing.T) {
	t.Parallel()
	m, env := revolutEnv(t)
	r := finauth(t, env, "", "call", "--profile", "revolut", "-X", "POST", "--data", `{"Data":{"Initiation":{"InstructedAmount":{"Amount":"5.00","Currency":"GBP"}}},"Risk":{}}`, m.URL+revolutmock.PaymentConsentsPath)
	var consent struct {
		Data struct {
			ConsentID string `json:"ConsentId"`
		}
	}
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &consent) != nil || consent.Data.ConsentID == "" {
		t.Fatalf("consent: %+v (rejections %v)", r, m.Stats().Rejections)
	}
	id := consent.Data.ConsentID

	r = finauth(t, env, "", "authorize", "revolut", "--consent", id, "--state", "s-1")
	if r.code != exitOK {
		t.Fatalf("authorize: %+v", r)
	}
	back, err := m.PKI.Authorise(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	code := back.Query().Get("code")
	if code == "" || back.Query().Get("state") != "s-1" {
		t.Fatalf("authorisation: %s (rejections %v)", back, m.Stats().Rejections)
	}

	r = finauth(t, env, "", "token", "revolut", "--code", code)
	if r.code != exitOK || !strings.Contains(r.stdout, `"refresh_token": "[redacted`) || !strings.Contains(r.stdout, `"access_token": "[redacted`) {
		t.Fatalf("token --code without --show-token: %+v", r)
	}
	// The code is used: a second exchange is refused, named, exit 1... so get a new one.
	r = finauth(t, env, "", "token", "revolut", "--code", code)
	if r.code == exitOK || !strings.Contains(r.stderr, "code") {
		t.Fatalf("a used code: %+v", r)
	}
	var user struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	// A second consent, authorised, exchanged with --show-token.
	r = finauth(t, env, "", "call", "--profile", "revolut", "-X", "POST", "--data", `{"Data":{"n":2}}`, m.URL+revolutmock.PaymentConsentsPath)
	json.Unmarshal([]byte(r.stdout), &consent)
	id = consent.Data.ConsentID
	link := finauth(t, env, "", "authorize", "revolut", "--consent", id)
	if back, err = m.PKI.Authorise(strings.TrimSpace(link.stdout)); err != nil {
		t.Fatal(err)
	}
	r = finauth(t, env, "", "token", "revolut", "--code", back.Query().Get("code"), "--show-token")
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &user) != nil || user.AccessToken == "" || user.RefreshToken == "" {
		t.Fatalf("token --code --show-token: %+v", r)
	}

	env["USER_TOKEN"] = user.AccessToken
	r = finauth(t, env, "", "call", "--profile", "revolut", "--token-env", "USER_TOKEN", "-X", "POST", "--data", `{"Data":{"ConsentId":"`+id+`"},"Risk":{}}`, m.URL+revolutmock.PaymentsPath)
	if r.code != exitOK || !strings.Contains(r.stdout, "DomesticPaymentId") {
		t.Fatalf("payment: %+v (rejections %v)", r, m.Stats().Rejections)
	}

	// A user token the API refuses, with nothing to renew it: the message names the variable.
	m.Fail401(1)
	r = finauth(t, env, "", "call", "--profile", "revolut", "--token-env", "USER_TOKEN", "-X", "POST", "--data", `{"Data":{"ConsentId":"`+id+`"},"Risk":{}}`, m.URL+revolutmock.PaymentsPath)
	if r.code == exitOK || !strings.Contains(r.stderr, "USER_TOKEN") || !strings.Contains(r.stderr, "finauth token revolut --code") || strings.Contains(r.stderr, user.AccessToken) {
		t.Fatalf("a refused user token: %+v", r)
	}

	r = finauth(t, env, "", "mint", "revolut", "--consent", id, "--scope", "payments")
	key, _ := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	v, _ := signer.NewVerifier(signer.NewKeySet(key.Public().WithKeyID("sig-1")), signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.PS256}})
	if _, err := v.Verify(strings.TrimSpace(r.stdout)); r.code != exitOK || err != nil {
		t.Fatalf("mint revolut: %+v %v", r, err)
	}

	before := m.Stats().Tokens["client_credentials"]
	r = finauth(t, env, "", "load", "--profile", "revolut", "-n", "40", "-c", "4", "--json", "-X", "POST", "--data", `{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`, m.URL+revolutmock.AccountConsentsPath)
	var s loadSummary
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &s) != nil || s.OK != 40 || s.TokenExchanges != 1 || m.Stats().Tokens["client_credentials"] != before+1 {
		t.Fatalf("load: %+v %+v", r, s)
	}
}

// jwk --cert writes the certificate chain as x5c, which the JWKS Revolut fetches needs.
func TestCLI_JWKWithCertificate(t *testing.T) {
	t.Parallel()
	key, _ := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signing"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public().Key(), key.Signer())
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "signing.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	r := finauth(t, nil, "", "jwk", "--cert", certFile, "--kid", "sig-1", keys+"test-rsa-public.pem")
	var jwk struct {
		Kid string   `json:"kid"`
		Alg string   `json:"alg"`
		X5c []string `json:"x5c"`
	}
	// PS256: Revolut's request objects and x-jws-signature are PS256; a JWK saying RS256 (as
	// it did) makes a verifier that honours "alg" refuse them.
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &jwk) != nil || jwk.Kid != "sig-1" || jwk.Alg != "PS256" || len(jwk.X5c) != 1 || jwk.X5c[0] != base64.StdEncoding.EncodeToString(der) {
		t.Fatalf("%+v", r)
	}
	if r := finauth(t, nil, "", "jwk", "--cert", certFile, "--alg", "RS256", keys+"test-rsa-public.pem"); r.code != exitOK || !strings.Contains(r.stdout, `"alg": "RS256"`) {
		t.Fatalf("--alg RS256 given: %+v", r)
	}
	if r := finauth(t, nil, "", "jwk", "--cert", certFile, keys+"test-ec-p256-public.pem"); r.code != exitUsage || !strings.Contains(r.stderr, "not this key's") {
		t.Fatalf("another key's certificate: %+v", r)
	}
}

// The user token of --token-env is kept under a consent named after it: two users of one
// client ID on one Redis never adopt each other's token (a fixed name let a process whose
// token was refused adopt the other user's from the store), the same token shares one name,
// and the name shows nothing of the token.
func TestCLI_TokenEnvConsentsAreNamedAfterTheirToken(t *testing.T) {
	t.Parallel()
	a, b := cliConsent("user-a-token"), cliConsent("user-b-token")
	if a == b || a != cliConsent("user-a-token") || strings.Contains(a, "user-a") {
		t.Fatalf("%q %q", a, b)
	}
}

// jwks build: the JWKS to publish, from a certificate (x5c, x5t#S256, PS256 for RSA) and a
// public key; two keys under one kid, or an expired certificate, are refused by name.
func TestCLI_JWKSBuild(t *testing.T) {
	t.Parallel()
	key, _ := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	dir := t.TempDir()
	cert := func(name string, notAfter time.Time) (string, []byte) {
		tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: notAfter}
		der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public().Key(), key.Signer())
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, name+".pem")
		os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
		return file, der
	}
	good, der := cert("signing", time.Now().Add(time.Hour))
	r := finauth(t, nil, "", "jwks", "build", "--key", "sig-1="+good, "--key", "sig-2="+keys+"test-ec-p256-public.pem")
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	sum := sha256.Sum256(der)
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &set) != nil || len(set.Keys) != 2 || set.Keys[0]["kid"] != "sig-1" || set.Keys[0]["alg"] != "PS256" ||
		set.Keys[0]["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) || set.Keys[1]["kid"] != "sig-2" || set.Keys[1]["x5c"] != nil {
		t.Fatalf("%+v", r)
	}
	if r := finauth(t, nil, "", "jwks", "build", "--key", "sig-1="+good, "--key", "sig-1="+keys+"test-ec-p256-public.pem"); r.code != exitUsage || !strings.Contains(r.stderr, `same kid "sig-1"`) {
		t.Fatalf("one kid twice: %+v", r)
	}
	old, _ := cert("old", time.Now().Add(-time.Hour))
	if r := finauth(t, nil, "", "jwks", "build", "--key", "sig-0="+old); r.code != exitUsage || !strings.Contains(r.stderr, "expired on") {
		t.Fatalf("an expired certificate: %+v", r)
	}
	// jwk --cert follows the same rules (it printed the JWK of an expired certificate).
	if r := finauth(t, nil, "", "jwk", "--kid", "sig-0", "--cert", old, keys+"test-rsa-public.pem"); r.code != exitUsage || !strings.Contains(r.stderr, "expired on") || r.stdout != "" {
		t.Fatalf("jwk --cert with an expired certificate: %+v", r)
	}
	if r := finauth(t, nil, "", "jwk", "--kid", "sig-1", "--cert", good, keys+"test-rsa-public.pem"); r.code != exitOK || !strings.Contains(r.stdout, `"x5c"`) {
		t.Fatalf("jwk --cert: %+v", r)
	}
}
