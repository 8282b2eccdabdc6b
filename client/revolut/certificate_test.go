package revolut_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/testkit/telemetrytest"
)

// certConfig is a Revolut configuration whose transport certificate (made here, self-signed)
// is valid from notBefore to notAfter.
func certConfig(t *testing.T, notBefore, notAfter time.Time) revolut.Config {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "transport-under-test", Organization: []string{"Example Payments"}},
		NotBefore: notBefore, NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(priv)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "transport.pem"), filepath.Join(dir, "transport.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	key, err := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	if err != nil {
		t.Fatal(err)
	}
	return revolut.Config{ClientID: "my-app", KeyID: "sig-1", Key: key, TransportCertFile: certFile, TransportKeyFile: keyFile,
		TokenURL: "https://auth.example/token", APIURLs: []string{"https://auth.example"}, AuthURL: "https://ui.example/ui/index.html",
		Audience: "https://auth.example", RedirectURI: "https://app.example/cb", TAN: "app.example"}
}

// An expired transport certificate, or one not valid yet, fails NewTransport and NewRegistrar
// with ErrCertificateExpired, naming the variable, the subject and the date, instead of a TLS
// handshake failure at the first request whose message does not say why.
func TestTransportCertificate_NotValidNowIsAnErrorAtLoad(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for name, c := range map[string]struct {
		from, to time.Time
		says     string
	}{
		"expired":       {now.Add(-400 * 24 * time.Hour), now.Add(-2 * time.Hour), "expired at"},
		"not yet valid": {now.Add(3 * time.Hour), now.Add(400 * 24 * time.Hour), "valid only from"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := certConfig(t, c.from, c.to)
			_, err := revolut.NewTransport(cfg)
			if !errors.Is(err, revolut.ErrCertificateExpired) {
				t.Fatalf("NewTransport: %v, want ErrCertificateExpired", err)
			}
			for _, want := range []string{"REVOLUT_TRANSPORT_CERT_FILE", "CN=transport-under-test", c.says} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q: %v", want, err)
				}
			}
			if _, err := revolut.NewRegistrar(cfg); !errors.Is(err, revolut.ErrCertificateExpired) {
				t.Errorf("NewRegistrar: %v, want ErrCertificateExpired", err)
			}
		})
	}
}

// A certificate that expires within the warning window (30 days by default) is logged once
// at load, with its subject, date and days left; one further off is not, and
// WithCertificateExpiryWarning moves the window (0: never).
func TestTransportCertificate_ExpiringSoonIsAWarning(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for name, c := range map[string]struct {
		left time.Duration
		opt  []revolut.Option
		warn bool
	}{
		"10 days, default window":   {10 * 24 * time.Hour, nil, true},
		"90 days, default window":   {90 * 24 * time.Hour, nil, false},
		"90 days, 100-day window":   {90 * 24 * time.Hour, []revolut.Option{revolut.WithCertificateExpiryWarning(100 * 24 * time.Hour)}, true},
		"10 days, warnings off (0)": {10 * 24 * time.Hour, []revolut.Option{revolut.WithCertificateExpiryWarning(0)}, false},
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := certConfig(t, now.Add(-time.Hour), now.Add(c.left))
			tr, err := revolut.NewTransport(cfg, append(c.opt, revolut.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))...)
			if err != nil {
				t.Fatal(err)
			}
			tr.Close()
			warned := strings.Contains(logs.String(), "transport certificate expires soon")
			if warned != c.warn {
				t.Fatalf("warned %v, want %v:\n%s", warned, c.warn, logs.String())
			}
			if warned && (!strings.Contains(logs.String(), "CN=transport-under-test") || !strings.Contains(logs.String(), "days_left=")) {
				t.Errorf("the warning does not say which certificate or when:\n%s", logs.String())
			}
		})
	}
}

// finauth.certificate.expiry reports the seconds the transport certificate has left, with the
// provider, the certificate's role and its subject, for as long as the transport lives.
func TestTransportCertificate_ExpiryGauge(t *testing.T) {
	t.Parallel()
	rec := telemetrytest.New(t)
	left := 45 * 24 * time.Hour
	cfg := certConfig(t, time.Now().Add(-time.Hour), time.Now().Add(left).Truncate(time.Second))
	tr, err := revolut.NewTransport(cfg, revolut.WithMeterProvider(rec.Meter))
	if err != nil {
		t.Fatal(err)
	}
	attrs := []string{"finauth.provider=revolut", "finauth.certificate=transport", "finauth.certificate.subject=CN=transport-under-test,O=Example Payments"}
	got := telemetrytest.Sum(rec.Metrics(t), "finauth.certificate.expiry", attrs...)
	if got < (left-time.Hour).Seconds() || got > left.Seconds() {
		t.Fatalf("finauth.certificate.expiry %v s, want about %v s", got, left.Seconds())
	}
	tr.Close()
	if n := telemetrytest.Points(rec.Metrics(t), "finauth.certificate.expiry"); n != 0 {
		t.Fatalf("%d points after Close", n)
	}
}
