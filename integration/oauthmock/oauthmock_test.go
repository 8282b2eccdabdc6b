package oauthmock_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/finauth/finauth/integration/oauthmock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/signer/dpop"
	"github.com/finauth/finauth/signer/httpsig"
)

// The mock refuses each fault of a DPoP-bound, signed request with its own reason: a
// replayed proof, a proof for another token (ath), another key, a bound token sent as
// Bearer, a signature that leaves the DPoP proof uncovered, a body changed after signing.
func TestMock_RefusesEachFaultWithItsReason(t *testing.T) {
	t.Parallel()
	sigKey, err := signer.LoadKeyFile("../../signer/testdata/keys/test-ec-p256-pkcs8.pem")
	if err != nil {
		t.Fatal(err)
	}
	m, err := oauthmock.NewServer(oauthmock.Config{Clients: map[string]string{"c": "s"}, RequireDPoP: true,
		SignatureKeys: signer.NewKeySet(sigKey.Public().WithKeyID("sig-1"))})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, _ := dpop.GenerateProver(dpop.Options{})
	// A token bound to p's key.
	proof, _ := p.Proof("POST", m.TokenURL(), "")
	req, _ := http.NewRequest("POST", m.TokenURL(), strings.NewReader("grant_type=client_credentials"))
	req.SetBasicAuth("c", "s")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", proof)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	json.Unmarshal(b, &tok)
	if resp.StatusCode != 200 || tok.TokenType != "DPoP" || tok.AccessToken == "" {
		t.Fatalf("token: %d %s", resp.StatusCode, b)
	}
	// The same proof again at the token endpoint: replayed.
	req2, _ := http.NewRequest("POST", m.TokenURL(), strings.NewReader("grant_type=client_credentials"))
	req2.SetBasicAuth("c", "s")
	req2.Header.Set("DPoP", proof)
	if r, _ := http.DefaultClient.Do(req2); r == nil || r.StatusCode != 400 {
		t.Fatalf("a replayed proof: %v", r)
	} else {
		r.Body.Close()
	}
	signed := func(method string, body []byte, scheme, proof string, cover []string, after func(*http.Request)) int {
		t.Helper()
		req, _ := http.NewRequest(method, m.URL+"/payments", bytes.NewReader(body))
		req.Header.Set("Authorization", scheme+" "+tok.AccessToken)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		s := &httpsig.Signer{Key: sigKey, KeyID: "sig-1", Tag: "fapi-2-request", Covered: cover, IfPresent: []string{"content-digest"}}
		h, err := s.SignHeaders(req, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		if after != nil {
			after(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	all := []string{"@method", "@target-uri", "authorization", "dpop"}
	body := []byte(`{"amount":"5.00"}`)
	fresh := func(token string) string {
		pr, _ := p.Proof("POST", m.URL+"/payments", token)
		return pr
	}
	if code := signed("POST", body, "DPoP", fresh(tok.AccessToken), all, nil); code != 201 {
		t.Fatalf("a good request: %d (%v)", code, m.Stats().Refusals)
	}
	other, _ := dpop.GenerateProver(dpop.Options{})
	otherProof, _ := other.Proof("POST", m.URL+"/payments", tok.AccessToken)
	sameProof := fresh(tok.AccessToken)
	signed("POST", body, "DPoP", sameProof, all, nil)
	for reason, code := range map[string]int{
		"invalid_dpop_proof:jti_replayed":          signed("POST", body, "DPoP", sameProof, all, nil),
		"invalid_dpop_proof:ath":                   signed("POST", body, "DPoP", fresh("another-token"), all, nil),
		"invalid_dpop_proof:key":                   signed("POST", body, "DPoP", otherProof, all, nil),
		"invalid_token:dpop_bound_token_as_bearer": signed("POST", body, "Bearer", "", []string{"@method", "@target-uri", "authorization"}, nil),
		"invalid_signature:missing_component":      signed("POST", body, "DPoP", fresh(tok.AccessToken), []string{"@method", "@target-uri", "authorization"}, nil),
		"invalid_signature:content_digest": signed("POST", body, "DPoP", fresh(tok.AccessToken), all, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"amount":"9.00"}`))
			r.ContentLength = 17
		}),
		"invalid_signature:bad_signature": signed("POST", body, "DPoP", fresh(tok.AccessToken), all, func(r *http.Request) { r.Header.Set("Content-Digest", "sha-256=:"+strings.Repeat("A", 43)+"=:") }),
	} {
		want := 1
		if reason == "invalid_dpop_proof:jti_replayed" {
			want = 2 // at the token endpoint above too
		}
		if code < 400 || m.Stats().Refusals[reason] != want {
			t.Errorf("%s: %d, refusals %v", reason, code, m.Stats().Refusals)
		}
	}
}
