package httpsig

import (
	"crypto"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds Signature-Input and Signature values to the parser and the verifier:
// never a panic; an error is a *VerifyError with a reason of the fixed set; and a parsed
// Signature-Input serializes back to a value that parses to the same thing (round trip).
func FuzzVerify(f *testing.F) {
	f.Add(`sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"`, `sig-b21=:d2pm:`)
	f.Add(`sig1=("@method" "@target-uri" "authorization" "content-digest");created=1;keyid="k";tag="fapi-2-request"`, `sig1=:AAAA:`)
	f.Add(`a=("x";sf "y";key="z"), b=(), c`, `a=:YQ==:, b=?1`)
	f.Add(`sig1=("\"\\");expires=-5;alg=ed25519`, `sig1=:+/+/:`)
	reasons := map[string]bool{"no_signature": true, "malformed": true, "missing_component": true, "unknown_key": true, "algorithm": true, "bad_signature": true, "expired": true, "too_old": true, "tag": true}
	f.Fuzz(func(t *testing.T, input, signature string) {
		if keys, members, err := parseDictionary(input); err == nil {
			for _, k := range keys {
				m := members[k]
				if !m.isList {
					continue
				}
				s, err := serializeInnerList(m.list, m.params)
				if err != nil {
					continue // a parameter kind this package does not write (a byte sequence)
				}
				_, again, err := parseDictionary(k + "=" + s)
				if err != nil {
					t.Fatalf("%q serialized as %q, which does not parse: %v", input, s, err)
				}
				if !reflect.DeepEqual(again[k].list, m.list) && !(len(again[k].list) == 0 && len(m.list) == 0) {
					t.Fatalf("round trip of %q: %+v != %+v", input, again[k].list, m.list)
				}
			}
		}
		msg := rfcRequest()
		msg.Header = msg.Header.Clone()
		msg.Header.Set("Authorization", "DPoP token")
		msg.Header.Set("Signature-Input", input)
		msg.Header.Set("Signature", signature)
		v := &Verifier{Key: func(string) (crypto.PublicKey, Algorithm, error) { return nil, "", errors.New("no key") },
			Now: func() time.Time { return time.Unix(1618884473, 0) }, MaxAge: time.Minute}
		_, err := v.Verify(msg)
		var ve *VerifyError
		if err == nil || !errors.As(err, &ve) || !reasons[ve.Reason] {
			t.Fatalf("%q / %q: %v", input, signature, err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("an error with a line break: %q", err)
		}
	})
}

// FuzzVerifyContentDigest: never a panic, and a digest this package makes always verifies.
func FuzzVerifyContentDigest(f *testing.F) {
	f.Add("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:", []byte{})
	f.Add("sha-512=:YQ==:, md5=:x:", []byte("a"))
	f.Fuzz(func(t *testing.T, field string, body []byte) {
		_ = VerifyContentDigest(field, body)
		for _, a := range []DigestAlgorithm{DigestSHA256, DigestSHA512} {
			d, err := ContentDigest(a, body)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyContentDigest(d, body); err != nil {
				t.Fatalf("%s of %q: %v", d, body, err)
			}
		}
	})
}
