package httpsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/signer"
)

// The examples of RFC 9421 Appendix B: its test request and response (B.2), and keys
// (B.1.2 test-key-rsa-pss, B.1.3 test-key-ecc-p256, B.1.4 test-key-ed25519).

func b64u(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rfcRequest is B.2's request: POST /foo?param=Value&Pet=dog to example.com.
func rfcRequest() Message {
	u, _ := url.Parse("https://example.com/foo?param=Value&Pet=dog")
	return Message{Method: "POST", URL: u, Header: http.Header{
		"Host":           {"example.com"},
		"Date":           {"Tue, 20 Apr 2021 02:07:55 GMT"},
		"Content-Type":   {"application/json"},
		"Content-Digest": {"sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"},
		"Content-Length": {"18"},
	}}
}

const rfcBody = `{"hello": "world"}`

// rfcResponse is B.2's response: 200 with {"message": "good dog"}.
func rfcResponse() Message {
	return Message{Status: 200, Header: http.Header{
		"Date":           {"Tue, 20 Apr 2021 02:07:56 GMT"},
		"Content-Type":   {"application/json"},
		"Content-Digest": {"sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:"},
		"Content-Length": {"23"},
	}}
}

func rfcKeys(t *testing.T) (rsaPSS crypto.PublicKey, p256 *ecdsa.PrivateKey, ed ed25519.PrivateKey) {
	t.Helper()
	ks, err := signer.LoadPublicKeysFile("testdata/rfc9421-test-key-rsa-pss.pub.pem")
	if err != nil {
		t.Fatal(err)
	}
	p256, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), b64u(t, "UpuF81l-kOxbjf7T4mNSv0r5tN67Gim7rnf6EFpcYDs"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := p256.PublicKey.Bytes()
	if want := append(append([]byte{4}, b64u(t, "qIVYZVLCrPZHGHjP17CTW0_-D9Lfw0EkjqF7xB4FivA")...), b64u(t, "Mc4nN9LTDOBhfoUeg8Ye9WedFRhnZXZJA12Qp0zZ6F0")...); string(pub) != string(want) {
		t.Fatal("B.1.3's public key does not match its private key")
	}
	ed = ed25519.NewKeyFromSeed(b64u(t, "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU"))
	if got := base64.RawURLEncoding.EncodeToString(ed.Public().(ed25519.PublicKey)); got != "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs" {
		t.Fatalf("B.1.4's public key: %s", got)
	}
	return ks.Keys()[0].Key(), p256, ed
}

func keyring(rsaPSS crypto.PublicKey, p256 *ecdsa.PrivateKey, ed ed25519.PrivateKey) func(string) (crypto.PublicKey, Algorithm, error) {
	return func(kid string) (crypto.PublicKey, Algorithm, error) {
		switch kid {
		case "test-key-rsa-pss":
			return rsaPSS, RSAPSSSHA512, nil
		case "test-key-ecc-p256":
			return &p256.PublicKey, ECDSAP256SHA256, nil
		case "test-key-ed25519":
			return ed.Public(), Ed25519, nil
		}
		return nil, "", errors.New("unknown")
	}
}

// RFC 9421 B.2.1 to B.2.4 and B.2.6: the RFC's own signatures verify over the signature bases
// this package builds, which are the RFC's byte for byte; B.2.6 (Ed25519, deterministic) is
// also signed here and comes out the RFC's signature exactly. (B.2.5 is HMAC, which this
// package does not offer: its keys are asymmetric.)
func TestRFC9421_AppendixB(t *testing.T) {
	rsaPSS, p256, ed := rfcKeys(t)
	at := func() time.Time { return time.Unix(1618884473, 0) }
	for _, c := range []struct {
		name, input, signature, base string
		msg                          Message
	}{
		{"B.2.1 minimal, rsa-pss-sha512",
			`sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"`,
			`sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:`,
			`"@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"`,
			rfcRequest()},
		{"B.2.2 selective coverage, rsa-pss-sha512",
			`sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"`,
			`sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:`,
			`"@authority": example.com
"content-digest": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:
"@query-param";name="Pet": dog
"@signature-params": ("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"`,
			rfcRequest()},
		{"B.2.3 full coverage, rsa-pss-sha512",
			`sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"`,
			`sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:`,
			`"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@query": ?param=Value&Pet=dog
"@authority": example.com
"content-type": application/json
"content-digest": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"`,
			rfcRequest()},
		{"B.2.4 response, ecdsa-p256-sha256",
			`sig-b24=("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"`,
			`sig-b24=:wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw==:`,
			`"@status": 200
"content-type": application/json
"content-digest": sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:
"content-length": 23
"@signature-params": ("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"`,
			rfcResponse()},
		{"B.2.6 ed25519",
			`sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`,
			`sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:`,
			`"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`,
			rfcRequest()},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The signature base, byte for byte.
			_, members, err := parseDictionary(c.input)
			if err != nil {
				t.Fatal(err)
			}
			label, _, _ := strings.Cut(c.input, "=")
			base, _, err := c.msg.signatureBase(members[label].list, members[label].params)
			if err != nil {
				t.Fatal(err)
			}
			if string(base) != c.base {
				t.Fatalf("signature base:\n%s\nwant:\n%s", base, c.base)
			}
			// The RFC's signature verifies.
			m := c.msg
			m.Header = m.Header.Clone()
			m.Header.Set("Signature-Input", c.input)
			m.Header.Set("Signature", c.signature)
			v := &Verifier{Key: keyring(rsaPSS, p256, ed), Now: at}
			got, err := v.Verify(m)
			if err != nil {
				t.Fatalf("the RFC's signature: %v", err)
			}
			if got.Label != label || got.Created.Unix() != 1618884473 {
				t.Fatalf("%+v", got)
			}
			// One byte of a covered component changed: refused.
			if len(got.Covered) > 0 {
				m.Header.Set("Content-Length", "19")
				m.Header.Set("Content-Type", "application/json; x=1")
				if m.URL != nil {
					u := *m.URL
					u.RawQuery = "param=Value&Pet=cat"
					m.URL = &u
				}
				if _, err := v.Verify(m); !isReason(err, "bad_signature") {
					t.Fatalf("a changed message: %v", err)
				}
			}
		})
	}
	// B.2.6 signed here: the RFC's signature exactly (Ed25519 is deterministic).
	key, err := signer.NewKey(ed)
	if err != nil {
		t.Fatal(err)
	}
	s := &Signer{Key: key, KeyID: "test-key-ed25519", Label: "sig-b26", Now: at,
		Covered: []string{"date", "@method", "@path", "@authority", "content-type", "content-length"}}
	input, sig, err := s.Sign(rfcRequest())
	if err != nil {
		t.Fatal(err)
	}
	if input != `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"` ||
		sig != `sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:` {
		t.Fatalf("B.2.6 signed here:\n%s\n%s", input, sig)
	}
	// The Content-Digest of B.2's request body (RFC 9421 B.2, RFC 9530).
	if err := VerifyContentDigest(rfcRequest().Header.Get("Content-Digest"), []byte(rfcBody)); err != nil {
		t.Fatal(err)
	}
	if err := VerifyContentDigest(rfcRequest().Header.Get("Content-Digest"), []byte(`{"hello": "World"}`)); !errors.Is(err, ErrDigest) {
		t.Fatalf("a changed body: %v", err)
	}
}

func isReason(err error, reason string) bool {
	var ve *VerifyError
	return errors.As(err, &ve) && ve.Reason == reason
}
