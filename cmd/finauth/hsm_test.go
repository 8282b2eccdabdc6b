package main

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/finauth/finauth/integration/miamock"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/testkit/hsmtest"
	"github.com/finauth/finauth/testkit/kmstest"
)

// keyBackend is where a test key lives: SoftHSM2 (imported from the repository's key
// files) or the local KMS (seeded with them), so that the mocks' registered public keys
// are the same.
type keyBackend struct {
	name     string
	rsa, ec  string            // the URIs of the RSA and the EC P-256 key
	env      map[string]string // what the finauth process needs to reach the backend
	pssWorks bool              // local-kms signs PSS with the wrong salt
}

func backends(t *testing.T) []keyBackend {
	t.Helper()
	tk := hsmtest.Shared(t)
	tk.Import(t, "imported-rsa", keys+"test-rsa-pkcs8.pem")
	tk.Import(t, "imported-p256", keys+"test-ec-p256-pkcs8.pem")
	k := kmstest.Shared(t, keys)
	return []keyBackend{
		{"hsm", tk.URI("imported-rsa"), tk.URI("imported-p256"), map[string]string{"SOFTHSM2_CONF": tk.Conf}, true},
		{"kms", "awskms:" + k.ARN(kmstest.RSAKeyID), "awskms:" + kmstest.ECAlias, maps.Clone(k.Env), false},
	}
}

func with(env map[string]string, more map[string]string) map[string]string {
	out := maps.Clone(env)
	maps.Copy(out, more)
	return out
}

// Every provider's flow with a key that never leaves SoftHSM2 or the KMS, by the CLI alone:
// the Pismo exchange, a Soldo request the strict mock verifies, the Mia assertion (the
// client registered with jwk of the HSM/KMS key), Revolut's x-jws-signature on a payment
// consent and its request object (the mock authorises the consent). With local-kms,
// Revolut's PS256 fails with the reason (local-kms signs PSS with the wrong salt), and then
// runs against kmstest.StartAWSLike, an endpoint that signs PSS as AWS KMS documents.
func TestCLI_EveryProviderWithAnHSMOrKMSKey(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Run("pismo", func(t *testing.T) {
				m := newPismoMock(t)
				r := finauth(t, with(pismoEnv(m), with(b.env, map[string]string{"PISMO_PRIVATE_KEY_FILE": b.rsa})), "", "token", "pismo")
				if r.code != exitOK || !strings.Contains(r.stdout, "expires") {
					t.Fatalf("%+v", r)
				}
			})
			t.Run("soldo", func(t *testing.T) {
				key, _ := signer.LoadKeyFile(keys + "test-ec-p256-pkcs8.pem")
				m, err := soldomock.NewServer(soldomock.Config{Members: map[string][]*signer.PublicKey{"m:1": {key.Public().WithKeyID("ec-1")}}})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				env := with(b.env, map[string]string{"SOLDO_PRIVATE_KEY_FILE": b.ec, "SOLDO_KEY_ID": "ec-1", "SOLDO_MEMBER_ID": "m:1", "SOLDO_API_URL": m.URL})
				c := finauth(t, env, "", "call", "--profile", "soldo", "-X", "PUT", "--data", "hello", m.URL+"/transfers/t-1")
				if c.code != exitOK || !strings.Contains(c.stdout, `"method":"PUT"`) {
					t.Fatalf("%+v", c)
				}
			})
			ed25519 := func(t *testing.T) { // an HSM's Ed25519 key (AWS KMS has none for JOSE)
				tk := hsmtest.Shared(t)
				tk.Generate(t, "cli-ed25519", "EC:edwards25519")
				pub, err := signer.LoadPublicKeysFile(tk.URI("cli-ed25519"), signer.WithKeyID("ed-1"))
				if err != nil {
					t.Fatal(err)
				}
				m, err := soldomock.NewServer(soldomock.Config{Members: map[string][]*signer.PublicKey{"m:1": pub.Keys()}})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				env := with(b.env, map[string]string{"SOLDO_PRIVATE_KEY_FILE": tk.URI("cli-ed25519"), "SOLDO_KEY_ID": "ed-1", "SOLDO_MEMBER_ID": "m:1", "SOLDO_API_URL": m.URL})
				c := finauth(t, env, "", "call", "--profile", "soldo", "-X", "PUT", "--data", "hello", m.URL+"/transfers/t-1")
				if c.code != exitOK || !strings.Contains(c.stdout, `"method":"PUT"`) {
					t.Fatalf("%+v", c)
				}
			}
			if b.name == "hsm" {
				t.Run("soldo-ed25519", ed25519)
			}
			t.Run("mia", func(t *testing.T) {
				j := finauth(t, b.env, "", "jwk", "--kid", "mia-kms", "--alg", "RS256", b.rsa)
				var jwk map[string]any
				if j.code != exitOK || json.Unmarshal([]byte(j.stdout), &jwk) != nil || jwk["kid"] != "mia-kms" || jwk["d"] != nil {
					t.Fatalf("jwk of the %s key: %+v", b.name, j)
				}
				m, err := miamock.NewServer(miamock.Config{Issuer: "https://mia.example/issuer"})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if err := m.Register("hsm-client", []byte(j.stdout)); err != nil {
					t.Fatal(err)
				}
				env := with(b.env, map[string]string{"MIA_TOKEN_URL": m.TokenURL(), "MIA_API_URL": m.URL, "MIA_CLIENT_ID": "hsm-client", "MIA_KEY_ID": "mia-kms",
					"MIA_PRIVATE_KEY_FILE": b.rsa, "MIA_AUDIENCE": "https://mia.example/issuer"})
				if tok := finauth(t, env, "", "token", "mia"); tok.code != exitOK {
					t.Fatalf("token mia: %+v", tok)
				}
			})
			t.Run("revolut", func(t *testing.T) {
				m, env := revolutEnv(t)
				env = with(env, with(b.env, map[string]string{"REVOLUT_PRIVATE_KEY_FILE": b.rsa}))
				r := finauth(t, env, "", "call", "--profile", "revolut", "-X", "POST", "--data", `{"Data":{"Initiation":{"InstructedAmount":{"Amount":"5.00","Currency":"GBP"}}},"Risk":{}}`, m.URL+revolutmock.PaymentConsentsPath)
				if !b.pssWorks {
					// local-kms signs PSS with the largest salt: refused by name. The flow
					// then runs against a KMS endpoint that signs as AWS documents.
					if r.code == exitOK || !strings.Contains(r.stderr, "salt is not as long as the hash") {
						t.Fatalf("PS256 through local-kms: %+v", r)
					}
					aws := kmstest.StartAWSLike(t, keys+"test-rsa-pkcs8.pem", "revolut-ps256")
					env = with(env, with(aws.Env, map[string]string{"REVOLUT_PRIVATE_KEY_FILE": "awskms:revolut-ps256"}))
					r = finauth(t, env, "", "call", "--profile", "revolut", "-X", "POST", "--data", `{"Data":{"Initiation":{"InstructedAmount":{"Amount":"5.00","Currency":"GBP"}}},"Risk":{}}`, m.URL+revolutmock.PaymentConsentsPath)
				}
				var consent struct{ Data struct{ ConsentID string } }
				if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &consent) != nil || consent.Data.ConsentID == "" {
					t.Fatalf("a payment consent (x-jws-signature): %+v", r)
				}
				link := finauth(t, env, "", "authorize", "revolut", "--consent", consent.Data.ConsentID)
				if _, err := m.PKI.Authorise(strings.TrimSpace(link.stdout)); err != nil {
					t.Fatalf("the request object: %v (%+v)", err, link)
				}
			})
		})
	}
}
