package signer_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/finauth/finauth/signer"
	jose "github.com/go-jose/go-jose/v4"
)

func TestVerify_Refusals(t *testing.T) {
	t.Parallel()
	ec := mustKeyFile(t, "test-ec-p256-pkcs8.pem", signer.WithKeyID("ec-1"))
	rsaKey := mustKeyFile(t, "test-rsa-pkcs8.pem", signer.WithKeyID("rsa-1"))
	keys := signer.NewKeySet(ec.Public(), rsaKey.Public())
	v := mustVerifier(t, keys, signer.ES256, signer.RS256)
	good, err := mustSigner(t, ec, signer.Options{}).SignJWT(map[string]int{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(good); err != nil {
		t.Fatalf("the good token must verify: %v", err)
	}
	parts := strings.Split(good, ".")
	pub, err := rsaKey.Public().MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	// HS256 "signed" with the RSA public key as the HMAC secret: the classic confusion attack.
	hsHeader := b64url([]byte(`{"alg":"HS256","kid":"rsa-1"}`))
	mac := hmac.New(sha256.New, pub)
	mac.Write([]byte(hsHeader + "." + parts[1]))
	hs256 := hsHeader + "." + parts[1] + "." + b64url(mac.Sum(nil))

	psToken, err := mustSigner(t, rsaKey, signer.Options{Algorithm: signer.PS256}).SignJWT(map[string]int{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none", b64url([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", signer.ErrMalformedJWS},
		{"alg none signed", b64url([]byte(`{"alg":"none","kid":"ec-1"}`)) + "." + parts[1] + ".AA", signer.ErrAlgNone},
		{"alg NONE", b64url([]byte(`{"alg":"NONE","kid":"ec-1"}`)) + "." + parts[1] + ".AA", signer.ErrAlgNone},
		{"HMAC with a public key", hs256, signer.ErrAlgHMAC},
		{"alg not allowed", psToken, signer.ErrAlgNotAllowed},
		{"unknown kid", b64url([]byte(`{"alg":"ES256","kid":"nope"}`)) + "." + parts[1] + "." + parts[2], signer.ErrUnknownKeyID},
		{"no kid, two keys", b64url([]byte(`{"alg":"ES256"}`)) + "." + parts[1] + "." + parts[2], signer.ErrUnknownKeyID},
		{"kid of a key of another type", b64url([]byte(`{"alg":"ES256","kid":"rsa-1"}`)) + "." + parts[1] + "." + parts[2], signer.ErrAlgNotAllowed},
		{"unknown crit", b64url([]byte(`{"alg":"ES256","kid":"ec-1","x":1,"crit":["x"]}`)) + "." + parts[1] + "." + parts[2], signer.ErrUnsupportedCritical},
		{"crit names absent member", b64url([]byte(`{"alg":"ES256","kid":"ec-1","crit":["x"]}`)) + "." + parts[1] + "." + parts[2], signer.ErrMalformedJWS},
		{"crit lists registered", b64url([]byte(`{"alg":"ES256","kid":"ec-1","crit":["kid"]}`)) + "." + parts[1] + "." + parts[2], signer.ErrMalformedJWS},
		{"crit empty", b64url([]byte(`{"alg":"ES256","kid":"ec-1","crit":[]}`)) + "." + parts[1] + "." + parts[2], signer.ErrMalformedJWS},
		{"b64 false outside crit", b64url([]byte(`{"alg":"ES256","kid":"ec-1","b64":false}`)) + ".x." + parts[2], signer.ErrMalformedJWS},
		{"duplicate alg", b64url([]byte(`{"alg":"ES256","kid":"ec-1","alg":"none"}`)) + "." + parts[1] + "." + parts[2], signer.ErrMalformedJWS},
		{"header not JSON", b64url([]byte(`nope`)) + "." + parts[1] + "." + parts[2], signer.ErrMalformedJWS},
		{"header trailing data", b64url([]byte(`{"alg":"ES256"} {}`)) + "." + parts[1] + "." + parts[2], signer.ErrMalformedJWS},
		{"two parts", parts[0] + "." + parts[1], signer.ErrMalformedJWS},
		{"four parts", good + ".x", signer.ErrMalformedJWS},
		{"bad base64", parts[0] + ".***." + parts[2], signer.ErrMalformedJWS},
		{"tampered payload", parts[0] + "." + b64url([]byte(`{"a":2}`)) + "." + parts[2], signer.ErrInvalidSignature},
		{"non-canonical base64 signature", parts[0] + "." + parts[1] + "." + nonCanonical(parts[2]), signer.ErrMalformedJWS},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:20], signer.ErrInvalidSignature},
		{"empty", "", signer.ErrMalformedJWS},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(c.token)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
				return
			}
			var ve *signer.VerifyError
			if !errors.As(err, &ve) {
				t.Errorf("%s: not a *VerifyError", c.name)
			}
			if strings.Contains(err.Error(), parts[2]) || strings.Contains(err.Error(), parts[1]) {
				t.Errorf("%s: error shows the token: %v", c.name, err)
			}
		})
	}
	if _, err := v.VerifyDetached(good, []byte(`{"a":1}`)); !errors.Is(err, signer.ErrDetachedPayload) {
		t.Errorf("an attached token given as detached: %v", err)
	}
}

func TestVerify_KeyRegisteredForOneAlgorithm(t *testing.T) {
	t.Parallel()
	k := mustKeyFile(t, "test-rsa-pkcs8.pem")
	pub, err := signer.NewPublicKey(k.Public().Key(), signer.WithAlgorithm(signer.RS256))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := mustSigner(t, k, signer.Options{Algorithm: signer.PS256}).Sign([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	v := mustVerifier(t, signer.NewKeySet(pub), signer.RS256, signer.PS256)
	if _, err := v.Verify(ps); !errors.Is(err, signer.ErrAlgNotAllowed) {
		t.Fatalf("a key registered for RS256 must not verify PS256: %v", err)
	}
}

func TestVerify_SingleKeyWithoutIDMatchesAnyKid(t *testing.T) {
	t.Parallel()
	k := mustKeyFile(t, "test-rsa-pkcs8.pem")
	tok, err := mustSigner(t, k, signer.Options{KeyID: "pismo-key-7"}).Sign([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := signer.LoadPublicKeysFile("testdata/keys/test-rsa-public.pem")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustVerifier(t, set, signer.RS256).Verify(tok); err != nil {
		t.Fatal(err)
	}
	two := signer.NewKeySet(set.Keys()[0], mustKeyFile(t, "test-rsa-pkcs1.pem").Public())
	if _, err := mustVerifier(t, two, signer.RS256).Verify(tok); !errors.Is(err, signer.ErrUnknownKeyID) {
		t.Fatalf("two keys without IDs: %v", err)
	}
	// By thumbprint, a key without an explicit ID is found among several.
	tok2, err := mustSigner(t, k, signer.Options{KeyID: k.Public().Thumbprint()}).Sign([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustVerifier(t, two, signer.RS256).Verify(tok2); err != nil {
		t.Fatal(err)
	}
}

func TestNewVerifier_Misconfiguration(t *testing.T) {
	t.Parallel()
	k := mustKeyFile(t, "test-rsa-pkcs8.pem")
	if _, err := signer.NewVerifier(signer.NewKeySet(k.Public()), signer.VerifyOptions{}); !errors.Is(err, signer.ErrVerifierConfig) {
		t.Fatal(err)
	}
	if _, err := signer.NewVerifier(signer.NewKeySet(), signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.RS256}}); !errors.Is(err, signer.ErrVerifierConfig) {
		t.Fatal(err)
	}
	if _, err := signer.NewVerifier(signer.NewKeySet(k.Public()), signer.VerifyOptions{Algorithms: []signer.Algorithm{"HS256"}}); !errors.Is(err, signer.ErrUnsupportedAlgorithm) {
		t.Fatal(err)
	}
}

// nonCanonical sets the unused trailing bits of the last base64url character: lenient
// decoders read the same bytes, so accepting it would let anyone alter a valid token.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i|1])
}

// The Verifier is written by hand because go-jose cannot verify what Open Banking signs (it
// refuses every "crit" parameter but b64, with no hook for one the caller checks); for
// everything go-jose can verify, the two must agree: what go-jose refuses, the Verifier
// refuses too (it may refuse more: non-canonical base64, duplicate header members), and what
// the Verifier accepts, go-jose accepts.
func TestVerifier_AgreesWithGoJOSE(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file string
		alg  signer.Algorithm
	}{
		{"test-ec-p256-pkcs8.pem", signer.ES256}, {"test-ec-p384-pkcs8.pem", signer.ES384}, {"test-ec-p521-pkcs8.pem", signer.ES512},
		{"test-rsa-pkcs8.pem", signer.RS256}, {"test-rsa-pkcs8.pem", signer.PS256}, {"test-ed25519-pkcs8.pem", signer.EdDSA},
	} {
		t.Run(string(c.alg), func(t *testing.T) {
			t.Parallel()
			key := mustKeyFile(t, c.file, signer.WithKeyID("k"))
			ours := mustVerifier(t, signer.NewKeySet(key.Public()), c.alg)
			jalg := jose.SignatureAlgorithm(c.alg)
			js, err := jose.NewSigner(jose.SigningKey{Algorithm: jalg, Key: key.Signer()}, (&jose.SignerOptions{}).WithHeader("kid", "k"))
			if err != nil {
				t.Fatal(err)
			}
			obj, err := js.Sign([]byte(`{"sub":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			byJose, _ := obj.CompactSerialize()
			byUs, err := mustSigner(t, key, signer.Options{Algorithm: c.alg}).SignJWT(map[string]string{"sub": "x"})
			if err != nil {
				t.Fatal(err)
			}
			theirs := func(tok string) error {
				p, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jalg})
				if err != nil {
					return err
				}
				_, err = p.Verify(key.Signer().Public())
				return err
			}
			for _, good := range []string{byJose, byUs} {
				if _, err := ours.Verify(good); err != nil {
					t.Fatalf("ours refuses a good token: %v", err)
				}
				if err := theirs(good); err != nil {
					t.Fatalf("go-jose refuses a good token: %v", err)
				}
				for i, bad := range tampered(good) {
					_, oerr := ours.Verify(bad)
					terr := theirs(bad)
					if terr != nil && oerr == nil {
						t.Errorf("variant %d: go-jose refuses (%v), ours accepts %q", i, terr, bad)
					}
				}
			}
		})
	}
}

// tampered returns variants of a compact JWS: each segment changed by one character, the
// segments swapped, the signature cut, another alg, a second alg member, crit added.
func tampered(tok string) []string {
	p := strings.Split(tok, ".")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	header := func(h string) string { return b64url([]byte(h)) }
	var out []string
	for seg := range 3 {
		for _, i := range []int{0, len(p[seg]) / 2, len(p[seg]) - 1} {
			q := append([]string(nil), p...)
			q[seg] = flip(q[seg], i)
			out = append(out, strings.Join(q, "."))
		}
	}
	return append(out,
		p[1]+"."+p[0]+"."+p[2],
		p[0]+"."+p[1]+"."+p[2][:len(p[2])/2],
		p[0]+"."+p[1]+".",
		header(`{"alg":"none","kid":"k"}`)+"."+p[1]+".",
		header(`{"alg":"HS256","kid":"k"}`)+"."+p[1]+"."+p[2],
		header(`{"alg":"ES256","alg":"RS256","kid":"k"}`)+"."+p[1]+"."+p[2],
		header(`{"alg":"ES256","kid":"k","crit":["exp"],"exp":1}`)+"."+p[1]+"."+p[2],
		tok+"=",
	)
}
