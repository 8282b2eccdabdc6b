package revolut_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/internal/hsmtest"
	"github.com/finauth/finauth/signer"
	_ "github.com/finauth/finauth/signer/pkcs11"
)

// By the library: a Revolut transport whose signing key is in SoftHSM2 (a pkcs11: URI as
// PrivateKeyFile) makes a payment consent whose x-jws-signature the strict mock verifies.
func TestRevolut_AnHSMKeySignsTheJWS(t *testing.T) {
	tk := hsmtest.Shared(t)
	tk.Import(t, "revolut-lib", regKeyFile)
	m, cfg, _ := registrationSetup(t, true)
	key, _ := signer.LoadKeyFile(regKeyFile)
	m2, err := revolutmock.NewServer(revolutmock.Config{ClientID: "hsm-app", RedirectURIs: []string{"https://app.example/cb"},
		Keys: signer.NewKeySet(key.Public().WithKeyID("sig-1")), TAN: "app.example"}, m.PKI)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	cfg.ClientID, cfg.TokenURL, cfg.APIURLs, cfg.AuthURL = "hsm-app", m2.TokenURL(), []string{m2.URL}, m2.AuthURL()
	cfg.PrivateKeyFile = tk.URI("revolut-lib")
	hc, err := revolut.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, m2.URL+revolutmock.PaymentConsentsPath,
		strings.NewReader(`{"Data":{"Initiation":{"InstructedAmount":{"Amount":"5.00","Currency":"GBP"}}},"Risk":{}}`))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%d: %v", resp.StatusCode, m2.Stats().Rejections)
	}
}

// A pin-value in a key URI never prints: not in the configuration (every fmt verb, JSON,
// slog), not in the error of a key that does not open.
func TestRevolut_APKCS11PINNeverPrints(t *testing.T) {
	const pin = "PIN-4242-secret"
	cfg := revolut.Config{KeyID: "k", PrivateKeyFile: "pkcs11:token=nope;object=k?module-path=" + hsmtest.Module + "&pin-value=" + pin}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "cfg", cfg)
	j, _ := json.Marshal(cfg)
	_, err := revolut.NewSigner(cfg)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s %q", cfg, cfg, cfg, cfg, cfg), string(j), logs.String(), fmt.Sprint(err)} {
		if strings.Contains(out, pin) {
			t.Fatalf("the PIN shows: %s", out)
		}
	}
	if err == nil {
		t.Fatal("a key that cannot open was accepted")
	}
}
