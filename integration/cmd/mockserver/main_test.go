package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/client/soldo/business"
	"github.com/finauth/finauth/signer"
)

const keys = "../../../signer/testdata/keys/"

// lockedBuffer collects the process's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestMockserverProcess builds the binary, starts it as docker-compose would, and talks to
// both mocks through the real clients.
func TestMockserverProcess(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mockserver")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--pismo-addr", "127.0.0.1:0", "--soldo-addr", "127.0.0.1:0", "--mia-addr", "127.0.0.1:0",
		"--pismo-keys", keys+"test-rsa-public.pem", "--soldo-keys", keys+"test-ec-p256-public.pem", "--soldo-kid", "ec-1",
		"--mia-keys", keys+"test-rsa-public.pem", "--mia-kid", "mia-1",
		"--revolut-addr", "127.0.0.1:0", "--revolut-keys", keys+"test-rsa-public.pem", "--revolut-kid", "sig-1",
		"--soldo-business-addr", "127.0.0.1:0", "--soldo-business-key", keys+"test-rsa-public.pem")
	pkiDir := filepath.Join(t.TempDir(), "pki") // made by the mockserver
	cmd.Env = append(cmd.Environ(), "MOCK_PISMO_TENANT=tenant-from-env", "MOCK_SINK_ADDR=127.0.0.1:0", "MOCK_REVOLUT_PKI_DIR="+pkiDir,
		"MOCK_SOLDO_BUSINESS_CLIENT_SECRET=biz-secret", "MOCK_SOLDO_BUSINESS_INTERNAL_TOKEN=biz-internal")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("mockserver did not exit cleanly on SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("mockserver did not stop within 10 s of SIGTERM")
		}
	}()
	urls := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for len(urls) < 6 && sc.Scan() {
		name, url, ok := strings.Cut(sc.Text(), " mock listening on ")
		if ok {
			urls[name] = url
		}
	}
	go func() { io.Copy(io.Discard, stdout); exited <- cmd.Wait() }()
	if len(urls) != 6 {
		t.Fatalf("did not start: %v\n%s", urls, stderr.String())
	}
	// The sink answers anything, body or not, with 200 and checks nothing.
	resp, err := http.Post(urls["sink"]+"/any/path", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sink: %v %v", err, resp)
	}
	resp.Body.Close()
	// Revolut over TLS: its health through the CA it wrote, then a consent through the real
	// client with the transport certificate it wrote.
	if out, err := exec.Command(bin, "healthcheck", "--cacert", filepath.Join(pkiDir, "ca.pem"), urls["revolut"]+"/healthz").CombinedOutput(); err != nil {
		t.Fatalf("revolut healthcheck: %v %s", err, out)
	}
	rkey, _ := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	rc, err := revolut.NewClient(revolut.Config{ClientID: "finauth-test-client", KeyID: "sig-1", Key: rkey,
		TransportCertFile: filepath.Join(pkiDir, "transport.pem"), TransportKeyFile: filepath.Join(pkiDir, "transport.key"),
		CAFile: filepath.Join(pkiDir, "ca.pem"), TokenURL: urls["revolut"] + "/token", APIURLs: []string{urls["revolut"]}, AuthURL: urls["revolut"] + "/ui/index.html",
		Audience: "https://oba-auth.revolut.com", RedirectURI: "https://app.example/callback", TAN: "app.example"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = rc.Post(urls["revolut"]+"/domestic-payment-consents", "application/json", strings.NewReader(`{"Data":{},"Risk":{}}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("revolut consent: %v %v\n%s", err, resp, stderr.String())
	}
	resp.Body.Close()
	delete(urls, "revolut")
	for _, u := range urls {
		resp, err := http.Get(u + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s/healthz: %v", u, err)
		}
		resp.Body.Close()
		if out, err := exec.Command(bin, "healthcheck", u+"/healthz").CombinedOutput(); err != nil {
			t.Fatalf("healthcheck: %v %s", err, out)
		}
	}

	// Pismo through the real client, with the defaults the binary documents.
	pkey, _ := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	pc, err := pismo.NewClient(pismo.Config{TokenURL: urls["pismo"] + "/passport/v1/oauth2/token", Key: pkey,
		Issuer: "finauth-test@tenant", Subject: "finauth-test@tenant", Audience: "https://sandbox.pismolabs.io",
		TenantID: "tenant-from-env", Group: "pismo-v2:test:rw"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = pc.Get(urls["pismo"] + "/cards/v1/cards")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pismo call: %v %v\n%s", err, resp, stderr.String())
	}
	resp.Body.Close()

	// Soldo through the real client.
	skey, _ := signer.LoadKeyFile(keys + "test-ec-p256-pkcs8.pem")
	sc2, err := soldo.NewClient(soldo.Config{APIURLs: []string{urls["soldo"]}, Key: skey, KeyID: "ec-1", MemberID: "m:test:1"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = sc2.Post(urls["soldo"]+"/banks/iron/consents", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("soldo call: %v %v\n%s", err, resp, stderr.String())
	}
	resp.Body.Close()

	// Mia-Platform client credentials through the real client.
	mc, err := clientcredentials.NewClient(clientcredentials.Config{TokenURL: urls["mia"] + "/oauth/token", APIURLs: []string{urls["mia"]},
		ClientID: "finauth-test-client", Key: pkey, KeyID: "mia-1", Audience: "https://mia.example/issuer"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = mc.Get(urls["mia"] + "/orders")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("mia call: %v %v\n%s", err, resp, stderr.String())
	}
	resp.Body.Close()

	// The Soldo Business API through the real client: a standard call and an advanced one.
	bc, err := business.NewClient(business.Config{APIURL: urls["soldo-business"], ClientID: "finauth-test-client", ClientSecret: "biz-secret",
		InternalToken: "biz-internal", Key: pkey})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/business/v2/wallets", "/business/v2/transactions?type=company&fromDate=2026-01-01"} {
		resp, err = bc.Get(urls["soldo-business"] + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("soldo-business call %s: %v %v\n%s", path, err, resp, stderr.String())
		}
		resp.Body.Close()
	}

	// A refused request is logged with its reason.
	resp, err = http.Get(urls["soldo"] + "/transfers/t-1")
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("unsigned request: %v %v", err, resp)
	}
	resp.Body.Close()

	// Each mock's counters at GET /_mock/stats on its own address: tokens issued, refusals
	// by reason, API answers by status.
	stats := func(u string) (s struct {
		Mock               string         `json:"mock"`
		TokensIssued       int            `json:"tokens_issued"`
		SignaturesVerified int            `json:"signatures_verified"`
		Refusals           map[string]int `json:"refusals"`
		APIAnswers         map[string]int `json:"api_answers"`
	}) {
		t.Helper()
		resp, err := http.Get(u + "/_mock/stats")
		if err != nil || resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&s) != nil {
			t.Fatalf("%s/_mock/stats: %v %v", u, err, resp)
		}
		resp.Body.Close()
		return s
	}
	if s := stats(urls["pismo"]); s.Mock != "pismo" || s.TokensIssued != 1 || s.APIAnswers["200"] != 1 {
		t.Errorf("pismo stats %+v", s)
	}
	if s := stats(urls["mia"]); s.Mock != "mia" || s.TokensIssued != 1 || s.APIAnswers["200"] != 1 {
		t.Errorf("mia stats %+v", s)
	}
	if s := stats(urls["soldo"]); s.SignaturesVerified != 1 || s.Refusals["missing_authorization"] != 1 || s.APIAnswers["401"] != 1 || s.APIAnswers["200"] != 1 {
		t.Errorf("soldo stats %+v", s)
	}
	if s := stats(urls["soldo-business"]); s.Mock != "soldo-business" || s.TokensIssued != 1 || s.SignaturesVerified != 1 || s.APIAnswers["200"] != 2 {
		t.Errorf("soldo-business stats %+v", s)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "reason=missing_authorization") {
		if time.Now().After(deadline) {
			t.Fatalf("the rejection was not logged:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMockserverRefusesBadConfiguration(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mockserver")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for name, args := range map[string][]string{
		"no pismo keys":     {"--soldo-addr", ""},
		"bad lifetime":      {"--pismo-keys", keys + "test-rsa-public.pem", "--soldo-addr", "", "--pismo-token-lifetime", "-1s"},
		"fail rate above 1": {"--pismo-addr", "", "--soldo-keys", keys + "test-rsa-public.pem", "--soldo-kid", "a", "--soldo-addr", "127.0.0.1:0", "--pismo-fail-rate", "2"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, args...)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Errorf("%s: err %v\n%s", name, err, out)
			}
		})
	}
	cmd := exec.Command(bin, "--soldo-addr", "")
	cmd.Env = append(cmd.Environ(), "MOCK_PISMO_TOKEN_LIFETIME=soon", "MOCK_PISMO_KEYS="+keys+"test-rsa-public.pem")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "MOCK_PISMO_TOKEN_LIFETIME") {
		t.Fatalf("a malformed variable was not named: %s", out)
	}
	// Every problem at once, and nothing listens: a port that would be taken stays free.
	cmd = exec.Command(bin, "--pismo-addr", "127.0.0.1:0", "--soldo-addr", "127.0.0.1:0", "--mia-addr", "127.0.0.1:0", "--pismo-fail-rate", "2")
	cmd.Env = append(cmd.Environ(), "MOCK_LATENCY=slow")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	for _, want := range []string{"MOCK_LATENCY", "--pismo-fail-rate", "--pismo-keys", "--soldo-keys", "--mia-keys"} {
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), want) {
			t.Errorf("%s not reported (exit %v): %s", want, err, out)
		}
	}
	if strings.Contains(string(out), "listening") {
		t.Fatalf("a mock listened before the configuration was refused: %s", out)
	}
}

// Every variable the binary reads is documented in docs/configuration.md.
func TestEveryMockVariableIsInTheConfigurationPage(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`"(MOCK_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(names) < 10 {
		t.Fatalf("found only %d variables in main.go", len(names))
	}
	for _, n := range names {
		if !strings.Contains(string(readme), "`"+n[1]+"`") {
			t.Errorf("%s is not in docs/configuration.md", n[1])
		}
	}
}
