package revolutmock

import (
	"strings"
	"testing"

	"github.com/finauth/finauth/signer"
)

// FuzzVerifyJWS: whatever x-jws-signature and body a client sends, the verifier never
// panics, and accepts only a signature that the application's key made over that body.
func FuzzVerifyJWS(f *testing.F) {
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-rsa-pkcs8.pem")
	if err != nil {
		f.Fatal(err)
	}
	m, err := New(Config{ClientID: "c", RedirectURIs: []string{"https://a.example/cb"}, Keys: signer.NewKeySet(key.Public().WithKeyID("k")), TAN: "a.example"})
	if err != nil {
		f.Fatal(err)
	}
	s, _ := signer.New(key, signer.Options{Algorithm: signer.PS256, KeyID: "k"})
	body := []byte(`{"Data":{}}`)
	good, err := s.SignDetached(signer.Header{{Name: "typ", Value: "JOSE"}, {Name: "crit", Value: []string{TANHeader}}, {Name: TANHeader, Value: "a.example"}}, body)
	if err != nil {
		f.Fatal(err)
	}
	if reason := m.VerifyJWS(good, body); reason != "" {
		f.Fatalf("a good signature is refused: %s", reason)
	}
	f.Add(good, body)
	f.Add(good, []byte(`{"Data":{"x":1}}`))
	f.Add(strings.Replace(good, "..", ".e30.", 1), body)
	f.Add("..", body)
	f.Add("", body)
	header, _, _ := strings.Cut(good, ".")
	f.Fuzz(func(t *testing.T, jws string, b []byte) {
		// Only signatures the key made over body exist (PS256 is randomized, so each fuzzing
		// process makes its own): anything else accepted is a verifier bug.
		if m.VerifyJWS(jws, b) == "" && (string(b) != string(body) || !strings.HasPrefix(jws, header+"..")) {
			t.Fatalf("accepted %q over %q", jws, b)
		}
	})
}
