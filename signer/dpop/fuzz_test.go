package dpop

import (
	"errors"
	"testing"
)

// FuzzVerify: any DPoP header value is refused with a reason of the fixed set, or accepted
// only when it is a proof of this request; never a panic.
func FuzzVerify(f *testing.F) {
	p, _ := GenerateProver(Options{})
	good, _ := p.Proof("POST", "https://as.example/token", "")
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	reasons := map[string]bool{"missing": true, "malformed": true, "typ": true, "alg": true, "jwk": true, "signature": true, "htm": true, "htu": true, "iat": true, "ath": true, "key": true, "use_dpop_nonce": true}
	f.Fuzz(func(t *testing.T, proof string) {
		got, err := Verify(proof, VerifyOptions{Method: "POST", URL: "https://as.example/token"})
		var e *Error
		switch {
		case err == nil && (got.HTM != "POST" || got.ATH != "" || got.JTI == ""):
			t.Fatalf("accepted %q: %+v", proof, got)
		case err != nil && (!errors.As(err, &e) || !reasons[e.Reason]):
			t.Fatalf("%q: %v", proof, err)
		}
	})
}

// FuzzAsksForNonce: never a panic nor a hang on any WWW-Authenticate line.
func FuzzAsksForNonce(f *testing.F) {
	f.Add(`DPoP error="use_dpop_nonce", error_description="x"`)
	f.Add(`Basic abc==, DPoP algs="ES256", error=use_dpop_nonce`)
	f.Add(`"\`)
	f.Fuzz(func(t *testing.T, line string) {
		AsksForNonce([]string{line})
	})
}
