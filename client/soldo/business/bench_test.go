package business

import (
	"crypto"
	"crypto/rand"
	"crypto/sha512"
	"io"
	"net/http"
	"strings"
	"testing"
)

// nopTransport answers 200 without a network.
type nopTransport struct{}

func (nopTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	if r.URL.Path == TokenPath {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
			Body: io.NopCloser(strings.NewReader(`{"access_token":"at","token_type":"bearer","expires_in":"7200"}`))}, nil
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

// BenchmarkAdvancedAuthentication is what advanced authentication costs a request (the body
// captured, the fields read, the fingerprint, its signature, the headers), side by side with
// one bare RSA-2048 PKCS#1 v1.5 SHA-512 signature, the floor: run with -benchmem.
func BenchmarkAdvancedAuthentication(b *testing.B) {
	key := testKey(b)
	b.Run("bare RSA-2048 SHA-512 signature", func(b *testing.B) {
		sum := sha512.Sum512([]byte("9595664ce2bce53a911e84a0c88b5215ee80dda3e57d0d61665dc1e6103409e8c480b27f7b20dd3cc09478e22530f0f3b6528cc0d30ebe3046d402bb6d89d4bf"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := key.Signer().Sign(rand.Reader, sum[:], crypto.SHA512); err != nil {
				b.Fatal(err)
			}
		}
	})
	cfg := Config{APIURL: "https://api.soldo.example", ClientID: "c", ClientSecret: "s", InternalToken: "internal-tok", Key: key}
	tr, err := NewTransport(cfg, WithBaseTransport(nopTransport{}), WithTokenHTTPClient(&http.Client{Transport: nopTransport{}}))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	body := "amount=120.50&currencyCode=EUR"
	b.Run("internal transfer through the Transport, token cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest("PUT", "https://api.soldo.example/business/v2/wallets/internalTransfer/w1/w2", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := tr.signing.RoundTrip(req) // the fingerprinting layer over a cached token
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
	})
}

// BenchmarkPlan is the table lookup every request to the API makes (twice for a fingerprinted
// one: in RoundTrip and in the signature).
func BenchmarkPlan(b *testing.B) {
	tab, err := newTable(nil)
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "https://api.soldo.example/business/v2/transactions/tx-1", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tab.planFor(req); err != nil {
			b.Fatal(err)
		}
	}
}
