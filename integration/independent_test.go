package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/signer/dpop"
	"github.com/finauth/finauth/signer/httpsig"
)

// independentServer starts integration/independent/server.js: an OAuth 2.0 server and
// resource server that is not ours, its DPoP checked by panva's jose and its message
// signatures by dhensby's http-message-signatures (installed by .ci/run: npm ci). Without
// node or those modules the test is skipped, and fails under CI=true.
func independentServer(t *testing.T, env ...string) (base string, stats func() map[string]any) {
	t.Helper()
	node, err := exec.LookPath("node")
	_, modErr := os.Stat("independent/node_modules/jose")
	if err != nil || modErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node (%v) and integration/independent/node_modules (%v) are needed: CI installs them (npm ci --prefix integration/independent)", err, modErr)
		}
		t.Skip("needs node and `npm ci --prefix integration/independent`")
	}
	key, _ := filepath.Abs("../signer/testdata/keys/test-ec-p256-public.pem")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "server.js")
	cmd.Dir = "independent"
	cmd.Env = append(os.Environ(), append(env, "PORT=0", "SIG_PUBLIC_KEY="+key, "SIG_KEY_ID=sig-1")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if port, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				ready <- port
			}
		}
	}()
	select {
	case port := <-ready:
		base = "http://localhost:" + port
	case <-time.After(30 * time.Second):
		t.Fatal("the independent server did not start within 30 s")
	}
	return base, func() map[string]any {
		resp, err := http.Get(base + "/_stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s map[string]any
		json.NewDecoder(resp.Body).Decode(&s)
		return s
	}
}

// finauth's DPoP-bound, RFC 9421-signed client-credentials flow against a server built on
// other libraries: 200 concurrent requests (bodies and not) under nonce rotations and token
// revocations all succeed; a proof reused, a proof without ath and a body changed after
// signing are refused, each for its reason.
func TestIndependentServer_AcceptsFinauthsDPoPAndSignatures(t *testing.T) {
	t.Parallel()
	base, stats := independentServer(t, "REVOKE_EVERY=30", "ROTATE_NONCE_EVERY=45")
	cfg := clientcredentials.Config{TokenURL: base + "/token", APIURLs: []string{base}, ClientID: "independent-client", ClientSecret: "independent-secret",
		DPoP: true, SignatureKeyFile: "../signer/testdata/keys/test-ec-p256-pkcs8.pem", SignatureKeyID: "sig-1"}
	tr, err := clientcredentials.NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	hc := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	failures := make(chan string, 200)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				var req *http.Request
				if i%2 == 0 {
					req, _ = http.NewRequest(http.MethodPost, base+"/payments", strings.NewReader(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i)))
				} else {
					req, _ = http.NewRequest(http.MethodGet, base+"/accounts?page="+fmt.Sprint(i), nil)
				}
				resp, err := hc.Do(req)
				if err != nil {
					failures <- err.Error()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					failures <- fmt.Sprintf("%d %s", resp.StatusCode, b)
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Errorf("refused by the independent server: %s", f)
	}
	s := stats()
	refusals, _ := s["refusals"].(map[string]any)
	for reason := range refusals {
		if reason != "use_dpop_nonce" && reason != "invalid_token" {
			t.Errorf("the independent server refused for %s: %v", reason, s)
		}
	}
	if s["api_ok"] != float64(200) || s["signatures_ok"] != float64(200) {
		t.Fatalf("independent server: %v", s)
	}
	t.Logf("200 requests accepted; the server's counts: %v", s)

	// Faults, made by hand with finauth's own prover and signer: each refused.
	p, _ := dpop.GenerateProver(dpop.Options{})
	token := independentToken(t, p, base)
	sigKey, _ := signer.LoadKeyFile("../signer/testdata/keys/test-ec-p256-pkcs8.pem")
	send := func(proof string, body, sentBody string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/payments", strings.NewReader(body))
		req.Header.Set("Authorization", "DPoP "+token)
		req.Header.Set("DPoP", proof)
		h, err := httpsig.FAPI2Request(sigKey, "sig-1").SignHeaders(req, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader(sentBody)), int64(len(sentBody))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			p.SetNonce(base, n)
		}
		return resp.StatusCode
	}
	fresh := func(tok string) string {
		pr, _ := p.Proof(http.MethodPost, base+"/payments", tok)
		return pr
	}
	accepted := false
	for range 2 { // the first may learn a nonce
		if send(fresh(token), `{"a":1}`, `{"a":1}`) < 300 {
			accepted = true
			break
		}
	}
	if !accepted {
		t.Fatal("a good request was refused")
	}
	reused := fresh(token)
	send(reused, `{"a":2}`, `{"a":2}`)
	for reason, code := range map[string]int{
		"invalid_dpop_proof:jti_replayed":  send(reused, `{"a":2}`, `{"a":2}`),
		"invalid_dpop_proof:ath":           send(fresh(""), `{"a":3}`, `{"a":3}`),
		"invalid_signature:content_digest": send(fresh(token), `{"a":4}`, `{"a":5}`),
	} {
		refusals, _ := stats()["refusals"].(map[string]any)
		if code < 400 || refusals[reason] != float64(1) {
			t.Errorf("%s: %d, the server's refusals %v", reason, code, refusals)
		}
	}
}

// independentToken gets a DPoP-bound token from the independent server by hand (its nonce
// learnt on the way).
func independentToken(t *testing.T, p *dpop.Prover, base string) string {
	t.Helper()
	for range 2 {
		proof, _ := p.Proof(http.MethodPost, base+"/token", "")
		req, _ := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("independent-client", "independent-secret")
		req.Header.Set("DPoP", proof)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			p.SetNonce(base, n)
		}
		if resp.StatusCode == http.StatusOK {
			return tok.AccessToken
		}
	}
	t.Fatal("no token from the independent server")
	return ""
}
