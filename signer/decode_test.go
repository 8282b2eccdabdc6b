package signer_test

import (
	"errors"
	"testing"

	"github.com/finauth/finauth/signer"
)

func TestDecodeUnverified(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, mustKeyFile(t, "test-ec-p256-pkcs8.pem"), signer.Options{KeyID: "k1"})
	jwt, _ := s.SignJWT(map[string]string{"sub": "x"})
	det, _ := s.SignDetached(signer.Header{{Name: "mid", Value: "m"}}, []byte("body"))
	unenc, _ := s.SignUnencodedDetached(signer.Header{{Name: "tan", Value: "t"}, {Name: "crit", Value: []string{"b64", "tan"}}}, []byte("body"))
	for _, tc := range []struct {
		name, token, header, payload string
		detached                     bool
	}{
		{"JWT", jwt, `{"alg":"ES256","kid":"k1"}`, `{"sub":"x"}`, false},
		{"detached", det, `{"alg":"ES256","kid":"k1","mid":"m"}`, "", true},
		{"unencoded detached", unenc, `{"alg":"ES256","kid":"k1","b64":false,"tan":"t","crit":["b64","tan"]}`, "", true},
		{"unencoded attached", b64url([]byte(`{"alg":"ES256","b64":false}`)) + ".raw body.c2ln", `{"alg":"ES256","b64":false}`, "raw body", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := signer.DecodeUnverified(tc.token)
			if err != nil {
				t.Fatal(err)
			}
			if string(u.RawHeader) != tc.header || string(u.Payload) != tc.payload || u.Detached != tc.detached {
				t.Fatalf("header %s payload %q detached %v", u.RawHeader, u.Payload, u.Detached)
			}
			if kid, ok := u.HeaderString("kid"); tc.name != "unencoded attached" && (!ok || kid != "k1") {
				t.Fatalf("kid %q", kid)
			}
		})
	}
	for _, bad := range []string{"", "a.b", "a.b.c.d", "..sig", "e30.e30.", "bm9wZQ.e30.c2ln", b64url([]byte(`{"a":1,"a":2}`)) + ".e30.c2ln", "e30.***.c2ln"} {
		t.Run("refused "+bad, func(t *testing.T) {
			if _, err := signer.DecodeUnverified(bad); !errors.Is(err, signer.ErrMalformedJWS) {
				t.Fatalf("%q: %v", bad, err)
			}
		})
	}
}
