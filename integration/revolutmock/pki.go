package revolutmock

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// PKI is a test CA with a server certificate (for 127.0.0.1 and localhost) and a client
// (transport) certificate it signed, all made in memory.
type PKI struct {
	CAPEM                       []byte          // the CA, PEM: trust it (REVOLUT_CA_FILE)
	Server                      tls.Certificate // the mock's certificate
	ClientCertPEM, ClientKeyPEM []byte          // the transport certificate and key, PEM
	// ServerCertPEM and ServerKeyPEM are the server certificate (localhost, 127.0.0.1, ::1)
	// and its key, PEM: for a JWKS host on loopback that the mock trusts (jwks serve).
	ServerCertPEM, ServerKeyPEM []byte
	pool                        *x509.CertPool
	caCert                      *x509.Certificate
	caKey                       *ecdsa.PrivateKey
}

// NewPKI makes the CA and both certificates, valid for 90 days.
// validFor is how long the PKI's certificates are valid: past the 30 days within which
// clients warn that a transport certificate expires soon.
const validFor = 90 * 24 * time.Hour

func NewPKI() (*PKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "revolutmock test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validFor), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, server bool) ([]byte, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validFor),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if server {
			tpl.DNSNames, tpl.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		der, err := x509.CreateCertificate(rand.Reader, tpl, caCert, &key.PublicKey, caKey)
		return der, key, err
	}
	sDER, sKey, err := leaf(2, "localhost", x509.ExtKeyUsageServerAuth, true)
	if err != nil {
		return nil, err
	}
	cDER, cKey, err := leaf(3, "revolutmock test client", x509.ExtKeyUsageClientAuth, false)
	if err != nil {
		return nil, err
	}
	p := &PKI{CAPEM: pemBlock("CERTIFICATE", caDER), pool: x509.NewCertPool(), caCert: caCert, caKey: caKey}
	p.pool.AddCert(caCert)
	p.Server = tls.Certificate{Certificate: [][]byte{sDER}, PrivateKey: sKey}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(cKey)
	p.ClientCertPEM, p.ClientKeyPEM = pemBlock("CERTIFICATE", cDER), pemBlock("PRIVATE KEY", keyDER)
	sKeyDER, _ := x509.MarshalPKCS8PrivateKey(sKey)
	p.ServerCertPEM, p.ServerKeyPEM = pemBlock("CERTIFICATE", sDER), pemBlock("PRIVATE KEY", sKeyDER)
	return p, nil
}

// ClientCertificate makes another transport certificate the mock trusts, valid until
// notAfter (for tests of a certificate about to expire), with a new key; PEM.
func (p *PKI) ClientCertificate(cn string, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER), nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// ServerTLS is the mock's TLS configuration: its certificate, and client certificates
// verified against the CA when given (the mock refuses every request without one but the
// authorisation UI's, which a user's browser opens).
func (p *PKI) ServerTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.Server}, ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs: p.pool, MinVersion: tls.VersionTLS12}
}

// The files WriteFiles writes: the CA (REVOLUT_CA_FILE) and the client's transport certificate
// and key (REVOLUT_TRANSPORT_CERT_FILE, REVOLUT_TRANSPORT_KEY_FILE).
const (
	CAFile            = "ca.pem"
	TransportCertFile = "transport.pem"
	TransportKeyFile  = "transport.key"
	// JWKSHostCertFile and JWKSHostKeyFile are a server certificate for localhost signed by
	// the CA: serve your JWKS with them on loopback (finauth jwks serve --tls-cert/--tls-key)
	// and the mock, which trusts its CA, fetches it.
	JWKSHostCertFile = "jwks-host.pem"
	JWKSHostKeyFile  = "jwks-host.key"
)

// CertPool is the CA as a pool: the roots the mock trusts for the JWKS it fetches.
func (p *PKI) CertPool() *x509.CertPool { return p.pool }

// WriteFiles writes the CA and the transport certificate and key to dir (made if missing),
// mode 0600, as a client's configuration names them.
func (p *PKI) WriteFiles(dir string) error {
	// Readable by everyone, the key too: this is throwaway test material, made anew at each
	// start and trusted by this mock alone, and a mock in a container (root) writes it into
	// a bind mount that the host's user must read (0600 root files were unreadable there).
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	os.Chmod(dir, 0o755)
	for name, data := range map[string][]byte{CAFile: p.CAPEM, TransportCertFile: p.ClientCertPEM, TransportKeyFile: p.ClientKeyPEM,
		JWKSHostCertFile: p.ServerCertPEM, JWKSHostKeyFile: p.ServerKeyPEM} {
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, data, 0o644); err != nil {
			return err
		}
		if err := os.Chmod(file, 0o644); err != nil { // an older file keeps its mode through WriteFile
			return err
		}
	}
	return nil
}

// Authorise plays the user's browser: it opens the consent authorisation URL (trusting the
// CA, presenting no client certificate), does not follow the redirect to the application, and
// returns where it redirects: the redirect URI with the code and the state.
func (p *PKI) Authorise(link string) (*url.URL, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.CAPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	browser := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(link)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || back.Query().Get("code") == "" {
		return nil, fmt.Errorf("revolutmock: the authorisation answered %s: %s", resp.Status, b)
	}
	return back, nil
}
