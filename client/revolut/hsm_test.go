package revolut_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/signer/awskms"
	_ "github.com/finauth/finauth/signer/pkcs11"
	"github.com/finauth/finauth/testkit/hsmtest"
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

// awsLikeKMS signs as AWS KMS documents (PSS with a salt as long as the hash), with the
// repository's RSA test key: the Revolut flow with a KMS key, which local-kms cannot show
// (it signs PSS with the largest salt).
type awsLikeKMS struct{ key *rsa.PrivateKey }

func (f awsLikeKMS) GetPublicKey(_ context.Context, in *kms.GetPublicKeyInput, _ ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	der, _ := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	return &kms.GetPublicKeyOutput{KeyId: in.KeyId, PublicKey: der, KeyUsage: types.KeyUsageTypeSignVerify,
		SigningAlgorithms: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecRsassaPssSha256}}, nil
}

func (f awsLikeKMS) Sign(_ context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	if in.MessageType != types.MessageTypeDigest || in.SigningAlgorithm != types.SigningAlgorithmSpecRsassaPssSha256 {
		return nil, fmt.Errorf("asked %s over %s", in.SigningAlgorithm, in.MessageType)
	}
	sig, err := rsa.SignPSS(rand.Reader, f.key, crypto.SHA256, in.Message, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	return &kms.SignOutput{Signature: sig}, err
}

// By the library with a KMS key (Config.Key from awskms.New): the payment consent's
// x-jws-signature verifies at the strict mock, and so does the request object of its
// authorisation.
func TestRevolut_AKMSKeySignsTheJWSAndTheRequestObject(t *testing.T) {
	file, _ := signer.LoadKeyFile(regKeyFile)
	key, err := awskms.New(context.Background(), awsLikeKMS{file.Signer().(*rsa.PrivateKey)}, "alias/revolut")
	if err != nil {
		t.Fatal(err)
	}
	m, cfg, _ := registrationSetup(t, true)
	m2, err := revolutmock.NewServer(revolutmock.Config{ClientID: "kms-app", RedirectURIs: []string{"https://app.example/cb"},
		Keys: signer.NewKeySet(file.Public().WithKeyID("sig-1")), TAN: "app.example"}, m.PKI)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	cfg.ClientID, cfg.TokenURL, cfg.APIURLs, cfg.AuthURL = "kms-app", m2.TokenURL(), []string{m2.URL}, m2.AuthURL()
	cfg.PrivateKeyFile, cfg.Key = "", key
	tr, err := revolut.NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	req, _ := http.NewRequest(http.MethodPost, m2.URL+revolutmock.PaymentConsentsPath,
		strings.NewReader(`{"Data":{"Initiation":{"InstructedAmount":{"Amount":"5.00","Currency":"GBP"}}},"Risk":{}}`))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var consent struct{ Data struct{ ConsentId string } }
	json.NewDecoder(resp.Body).Decode(&consent)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%d: %v", resp.StatusCode, m2.Stats().Rejections)
	}
	link, err := tr.Signer().AuthorizationURL(consent.Data.ConsentId, "payments", "st")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.PKI.Authorise(link); err != nil {
		t.Fatalf("the request object: %v", err)
	}
}
