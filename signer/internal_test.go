package signer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"os"
	"testing"
)

// RFC 7797 section 4.2 signs with HS256, which finauth refuses to offer; the header bytes and
// the signing input that SignUnencodedDetached builds are what must be byte-exact, and an
// HMAC over that input must give the RFC's signature.
func TestRFC7797_UnencodedDetachedIsByteExact(t *testing.T) {
	raw, err := os.ReadFile("testdata/rfc7797-4.2.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		HMACKey string `json:"hmac_key"`
		Header  string `json:"header"`
		Payload string `json:"payload"`
		JWS     string `json:"jws"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	pre, err := unencodedPrefix(nil)
	if err != nil {
		t.Fatal(err)
	}
	header, err := appendHeaderJSON(nil, Algorithm("HS256"), "", "", pre, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(header) != v.Header {
		t.Fatalf("header %s, want %s", header, v.Header)
	}
	key, err := b64.DecodeString(v.HMACKey)
	if err != nil {
		t.Fatal(err)
	}
	// The same path SignUnencodedDetached takes: prefix "header." then the raw payload.
	var input []byte
	input = b64.AppendEncode(input, header)
	input = append(input, '.')
	mac := hmac.New(sha256.New, key)
	mac.Write(input)
	if err := feedRaw([]byte(v.Payload))(mac); err != nil {
		t.Fatal(err)
	}
	got := string(input[:len(input)-1]) + ".." + b64.EncodeToString(mac.Sum(nil))
	if got != v.JWS {
		t.Fatalf("got  %s\nwant %s", got, v.JWS)
	}
}

func TestECDSADERToRaw(t *testing.T) {
	cases := []struct {
		name string
		der  []byte
		ok   bool
	}{
		{"short ints padded", []byte{0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x07}, true},
		{"leading zero kept positive", []byte{0x30, 0x08, 0x02, 0x02, 0x00, 0x80, 0x02, 0x02, 0x00, 0xff}, true},
		{"negative", []byte{0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01}, false},
		{"trailing garbage", []byte{0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x07, 0x00}, false},
		{"empty", nil, false},
		{"too long for the curve", append([]byte{0x30, 0x25, 0x02, 0x21, 0x01}, append(make([]byte, 32), 0x02, 0x01, 0x01)...), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := ecdsaDERToRaw(c.der, 32)
			if (err == nil) != c.ok {
				t.Errorf("%s: err = %v", c.name, err)
				return
			}
			if c.ok && len(out) != 64 {
				t.Errorf("%s: len %d", c.name, len(out))
			}
		})
	}
	out, _ := ecdsaDERToRaw([]byte{0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x07}, 32)
	if out[31] != 5 || out[63] != 7 {
		t.Fatalf("R||S placement wrong: %x", out)
	}
}
