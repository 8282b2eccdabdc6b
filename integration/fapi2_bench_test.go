package integration

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/signer"
)

// stubAPI answers 200 to every request, in memory: what a request costs the client alone.
type stubAPI struct{}

func (stubAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	if strings.HasSuffix(r.URL.Path, "/token") {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
			Body: io.NopCloser(strings.NewReader(`{"access_token":"at-bench-0123456789","token_type":"DPoP","expires_in":3600}`))}, nil
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// BenchmarkFAPI2Request: one API request with a cached DPoP-bound token, its DPoP proof and
// its RFC 9421 signature (two ES256 signatures: the proof, the message), beside one bare
// ES256 signature and beside a Soldo-signed request (one ES256 JWS), in one run, over an
// in-memory API: the client's cost alone. Also the DPoP proof alone, and the request with
// DPoP only.
func BenchmarkFAPI2Request(b *testing.B) {
	key, err := signer.LoadKeyFile("../signer/testdata/keys/test-ec-p256-pkcs8.pem")
	if err != nil {
		b.Fatal(err)
	}
	const api = "https://api.example"
	body := bytes.Repeat([]byte(`{"amount":"2.00"}`), 12)[:200]
	newClient := func(signing bool) *http.Client {
		cfg := clientcredentials.Config{TokenURL: api + "/token", APIURLs: []string{api}, ClientID: "c", ClientSecret: "s", DPoPKey: key}
		if signing {
			cfg.SignatureKey, cfg.SignatureKeyID = key, "sig-1"
		}
		tr, err := clientcredentials.NewTransport(cfg, clientcredentials.WithBaseTransport(stubAPI{}),
			clientcredentials.WithTokenHTTPClient(&http.Client{Transport: stubAPI{}}))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		return &http.Client{Transport: tr}
	}
	post := func(b *testing.B, hc *http.Client) {
		req, _ := http.NewRequest(http.MethodPost, api+"/payments", bytes.NewReader(body))
		resp, err := hc.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err, resp)
		}
		resp.Body.Close()
	}
	b.Run("bare-es256-signature", func(b *testing.B) {
		b.ReportAllocs()
		priv := key.Signer().(*ecdsa.PrivateKey)
		for b.Loop() {
			h := sha256.Sum256(body)
			if _, err := ecdsa.SignASN1(rand.Reader, priv, h[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dpop-proof", func(b *testing.B) {
		b.ReportAllocs()
		hc := newClient(false)
		post(b, hc) // the token, once
		for b.Loop() {
			post(b, hc)
		}
	})
	b.Run("dpop+rfc9421", func(b *testing.B) {
		b.ReportAllocs()
		hc := newClient(true)
		post(b, hc)
		for b.Loop() {
			post(b, hc)
		}
	})
	b.Run("soldo-signed", func(b *testing.B) {
		b.ReportAllocs()
		tr, err := soldo.NewTransport(soldo.Config{APIURLs: []string{api}, Key: key, KeyID: "k1", MemberID: "m:1"}, soldo.WithBaseTransport(stubAPI{}))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		hc := &http.Client{Transport: tr}
		for b.Loop() {
			post(b, hc)
		}
	})
}
