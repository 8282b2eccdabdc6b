package soldo

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/transport"
)

// stubTransport answers from memory: the benchmark measures signing, not the network.
type stubTransport struct{}

func (stubTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body) // a real transport reads the body it sends
		req.Body.Close()
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// BenchmarkSigningRoundTrip: a Soldo-signed POST through transport.Signing over a stub base
// transport, with the body streamed from GetBody or buffered (no GetBody), beside the floor:
// the raw signature over the same signing input with the hash streamed (EdDSA cannot
// stream: its floor signs the prepared input).
func BenchmarkSigningRoundTrip(b *testing.B) {
	const url = "https://api.soldo.example/banks/iron/consents"
	for _, c := range []struct {
		alg  signer.Algorithm
		file string
	}{
		{signer.ES256, "../../signer/testdata/keys/test-ec-p256-pkcs8.pem"},
		{signer.EdDSA, "../../signer/testdata/keys/test-ed25519-pkcs8.pem"},
		{signer.RS256, "../../signer/testdata/keys/test-rsa-pkcs8.pem"},
	} {
		key, err := signer.LoadKeyFile(c.file)
		if err != nil {
			b.Fatal(err)
		}
		cfg := Config{APIURLs: []string{url}, Key: key, KeyID: "k1", MemberID: "m:QWu4AjKk13DAAe1NiVLXeBRDwtt:5zKtXEAq"}
		ss, err := NewSigner(cfg)
		if err != nil {
			b.Fatal(err)
		}
		origins, _ := transport.NewOrigins(cfg.APIURLs, false)
		rt := &transport.Signing{Base: stubTransport{}, Sign: ss.Sign, Origins: origins}
		for _, size := range []int{1 << 10, 1 << 20} {
			payload := bytes.Repeat([]byte(`{"amount":"2.00"}`), size/17+1)[:size]
			name := fmt.Sprintf("%s/%dKiB", c.alg, size>>10)
			b.Run(name+"/getbody", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
					resp, err := rt.RoundTrip(req)
					if err != nil {
						b.Fatal(err)
					}
					resp.Body.Close()
				}
			})
			b.Run(name+"/buffered", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					req, _ := http.NewRequest(http.MethodPost, url, io.NopCloser(bytes.NewReader(payload)))
					req.ContentLength = int64(size)
					resp, err := rt.RoundTrip(req)
					if err != nil {
						b.Fatal(err)
					}
					resp.Body.Close()
				}
			})
			req, _ := http.NewRequest(http.MethodPost, url, nil)
			hdr := map[string]any{"alg": c.alg}
			for _, f := range ss.Header(req) {
				hdr[f.Name] = f.Value
			}
			hj, _ := json.Marshal(hdr)
			prefix := []byte(base64.RawURLEncoding.EncodeToString(hj) + ".")
			input := append(append([]byte(nil), prefix...), base64.RawURLEncoding.EncodeToString(payload)...)
			b.Run(name+"/floor", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					if c.alg == signer.EdDSA {
						ed25519.Sign(key.Signer().(ed25519.PrivateKey), input)
						continue
					}
					h := sha256.New()
					h.Write(prefix)
					enc := base64.NewEncoder(base64.RawURLEncoding, h)
					enc.Write(payload)
					enc.Close()
					var sum [32]byte
					var err error
					if c.alg == signer.ES256 {
						_, err = ecdsa.SignASN1(rand.Reader, key.Signer().(*ecdsa.PrivateKey), h.Sum(sum[:0]))
					} else {
						_, err = rsa.SignPKCS1v15(rand.Reader, key.Signer().(*rsa.PrivateKey), crypto.SHA256, h.Sum(sum[:0]))
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
