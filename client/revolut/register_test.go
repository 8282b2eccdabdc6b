package revolut_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

const regKeyFile = "../../signer/testdata/keys/test-rsa-pkcs8.pem"

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }
func (c fixedClock) AfterFunc(d time.Duration, f func()) tokencache.Timer {
	return time.AfterFunc(d, f)
}

// registrationSetup is a mock that knows no application, a JWKS host it trusts serving the
// signing key with its certificate, and the configuration to register with.
func registrationSetup(t *testing.T, withX5C bool) (*revolutmock.Server, revolut.Config, string) {
	t.Helper()
	pki, err := revolutmock.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	m, err := revolutmock.NewServer(revolutmock.Config{TAN: "app.example"}, pki)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	key, _ := signer.LoadKeyFile(regKeyFile, signer.WithKeyID("sig-1"), signer.WithAlgorithm(signer.PS256))
	now := time.Now()
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sig-1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public().Key(), key.Signer())
	cert, _ := x509.ParseCertificate(der)
	pub := key.Public()
	if withX5C {
		pub, _ = pub.WithCertificates([]*x509.Certificate{cert})
	}
	doc, _ := json.Marshal(signer.NewKeySet(pub))
	js := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(doc) }))
	js.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Server}}
	js.StartTLS()
	t.Cleanup(js.Close)
	dir := t.TempDir()
	if err := pki.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	cfg := revolut.Config{KeyID: "sig-1", PrivateKeyFile: regKeyFile, TransportCertFile: filepath.Join(dir, revolutmock.TransportCertFile),
		TransportKeyFile: filepath.Join(dir, revolutmock.TransportKeyFile), CAFile: filepath.Join(dir, revolutmock.CAFile),
		TokenURL: m.TokenURL(), APIURLs: []string{m.URL}, AuthURL: m.AuthURL(), Audience: "https://oba-auth.revolut.com",
		RedirectURI: "https://app.example/cb", TAN: "app.example"}
	return m, cfg, js.URL + "/jwks.json"
}

// The registration JWT: header {"alg":"PS256","kid"}, the claims of Revolut's guide in its
// order (golden), verified by go-jose with the signing key; the self-signed software
// statement is {"alg":"none"} with an empty signature.
func TestRegistrationJWT_GoldenClaims(t *testing.T) {
	_, cfg, _ := registrationSetup(t, true)
	at := time.Unix(1796119200, 0) // 2026-12-01T10:00:00Z
	reg, err := revolut.NewRegistrar(cfg, revolut.WithClock(fixedClock{at}))
	if err != nil {
		t.Fatal(err)
	}
	ssa, err := revolut.SelfSignedSSA(revolut.SoftwareStatement{JWKSURL: "https://keys.app.example/jwks.json", OrgName: "App Ltd", SoftwareClientName: "App"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "eyJhbGciOiJub25lIn0.eyJvcmdfandrc19lbmRwb2ludCI6Imh0dHBzOi8va2V5cy5hcHAuZXhhbXBsZS9qd2tzLmpzb24iLCJvcmdfbmFtZSI6IkFwcCBMdGQiLCJzb2Z0d2FyZV9jbGllbnRfbmFtZSI6IkFwcCJ9."; ssa != want {
		t.Fatalf("SSA %s", ssa)
	}
	jwt, err := reg.RegistrationJWT(revolut.Registration{SoftwareStatement: ssa})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := jose.ParseSignedCompact(jwt, []jose.SignatureAlgorithm{jose.PS256})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := signer.LoadKeyFile(regKeyFile)
	payload, err := obj.Verify(key.Public().Key())
	if err != nil {
		t.Fatalf("go-jose does not verify the registration JWT: %v", err)
	}
	if h := obj.Signatures[0].Protected; h.KeyID != "sig-1" || h.Algorithm != "PS256" {
		t.Fatalf("header %+v", h)
	}
	want := `{"iss":"App Ltd","iat":1796119200,"exp":1796119500,"aud":"revolut","scope":"openid accounts payments",` +
		`"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"tls_client_auth","application_type":"web",` +
		`"id_token_signed_response_alg":"PS256","request_object_signing_alg":"PS256","tls_client_auth_dn":"CN=revolutmock test client",` +
		`"software_statement":"` + ssa + `"}`
	if string(payload) != want {
		t.Fatalf("claims\n got %s\nwant %s", payload, want)
	}
}

// The DN is written as Revolut's /distinguished-name answers it (its documented example).
func TestDistinguishedName_RevolutsFormat(t *testing.T) {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	orgID := asn1.ObjectIdentifier{2, 5, 4, 97}
	name := pkix.Name{Country: []string{"GB"}, Organization: []string{"OpenBanking"}, OrganizationalUnit: []string{"001570000113UAvAAM"},
		CommonName: "2kiXQyo0podjW2somjHo67", ExtraNames: []pkix.AttributeTypeAndValue{{Type: orgID, Value: "PSDUK-REVCA-6885ef16-75dc-4be8-8f8a-228fbd3a1e7d"}}}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: name, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	want := "organizationIdentifier=PSDUK-REVCA-6885ef16-75dc-4be8-8f8a-228fbd3a1e7d,CN=2kiXQyo0podjW2somjHo67,OU=001570000113UAvAAM,O=OpenBanking,C=GB"
	if got := revolut.DistinguishedName(cert); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

// Register, read back, update (x-jws-signature) and delete against the strict mock; what the
// mock refuses comes back as a *RegistrationError with its reason, and what finauth can tell
// is wrong before sending is refused without a request.
func TestRegistrar_AgainstTheStrictMock(t *testing.T) {
	m, cfg, jwksURL := registrationSetup(t, true)
	ctx := context.Background()
	reg, err := revolut.NewRegistrar(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if reg.URL() != m.URL+"/register" {
		t.Fatalf("the registration URL %s", reg.URL())
	}
	ssa, _ := revolut.SelfSignedSSA(revolut.SoftwareStatement{JWKSURL: jwksURL, OrgName: "App Ltd"})
	c, err := reg.Register(ctx, revolut.Registration{SoftwareStatement: ssa})
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID == "" || strings.Join(c.Scope, " ") != "openid accounts payments" || c.OrgJWKSEndpoint != jwksURL || c.TLSClientAuthDN != reg.DistinguishedName() {
		t.Fatalf("%+v", c)
	}
	got, err := reg.Get(ctx, c.ClientID)
	if err != nil || got.ClientID != c.ClientID {
		t.Fatalf("get: %+v %v", got, err)
	}
	up, err := reg.Update(ctx, c.ClientID, revolut.Registration{SoftwareStatement: ssa, Scopes: []string{"openid", "accounts"}})
	if err != nil || strings.Join(up.Scope, " ") != "openid accounts" {
		t.Fatalf("update: %+v %v", up, err)
	}
	if err := reg.Delete(ctx, c.ClientID); err != nil {
		t.Fatal(err)
	}
	_, err = reg.Get(ctx, c.ClientID)
	if !errors.Is(err, revolut.ErrRegistration) {
		t.Fatalf("get after delete: %v", err)
	}

	refused := func(t *testing.T, err error, code string) {
		t.Helper()
		var re *revolut.RegistrationError
		if !errors.As(err, &re) || re.Code != code || re.Status != http.StatusBadRequest || re.Op != "register" || !errors.Is(err, revolut.ErrRegistration) {
			t.Fatalf("want a *RegistrationError %s: %v", code, err)
		}
		if strings.Contains(err.Error(), "eyJ") {
			t.Fatalf("the error carries a JWT: %v", err)
		}
	}
	t.Run("dn", func(t *testing.T) {
		_, err := reg.Register(ctx, revolut.Registration{SoftwareStatement: ssa, TLSClientAuthDN: "CN=someone else"})
		refused(t, err, revolutmock.ReasonDN)
	})
	t.Run("kid", func(t *testing.T) {
		c2 := cfg
		c2.KeyID = "sig-9"
		r2, err := revolut.NewRegistrar(c2)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r2.Register(ctx, revolut.Registration{SoftwareStatement: ssa})
		refused(t, err, revolutmock.ReasonKID)
	})
	t.Run("x5c", func(t *testing.T) {
		_, cfg3, bare := registrationSetup(t, false)
		r3, _ := revolut.NewRegistrar(cfg3)
		ssa3, _ := revolut.SelfSignedSSA(revolut.SoftwareStatement{JWKSURL: bare, OrgName: "App Ltd"})
		_, err := r3.Register(ctx, revolut.Registration{SoftwareStatement: ssa3})
		refused(t, err, revolutmock.ReasonX5C)
	})
	before := len(m.Requests())
	for name, r := range map[string]revolut.Registration{
		"no software statement": {},
		"aud":                   {SoftwareStatement: ssa, Audience: "oba.revolut.com"},
		"no openid":             {SoftwareStatement: ssa, Scopes: []string{"accounts"}},
		"unknown scope":         {SoftwareStatement: ssa, Scopes: []string{"openid", "cards"}},
		"application type":      {SoftwareStatement: ssa, ApplicationType: "desktop"},
		"ssa not a JWT":         {SoftwareStatement: "not-a-jwt"},
	} {
		if _, err := reg.Register(ctx, r); !errors.Is(err, revolut.ErrRegistration) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(m.Requests()) - before; n != 0 {
		t.Fatalf("%d requests sent for registrations refused before sending", n)
	}
	if _, err := revolut.SelfSignedSSA(revolut.SoftwareStatement{JWKSURL: "http://keys.example/jwks.json", OrgName: "x"}); !errors.Is(err, revolut.ErrRegistration) {
		t.Fatalf("an http JWKS URL: %v", err)
	}
}

// NewRegistrar needs no client ID, and says every missing setting at once.
func TestNewRegistrar_NeedsNoClientID(t *testing.T) {
	_, err := revolut.NewRegistrar(revolut.Config{})
	for _, v := range []string{"REVOLUT_KEY_ID", "REVOLUT_TRANSPORT_CERT_FILE", "REVOLUT_REGISTRATION_URL"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Fatalf("%v: want %s", err, v)
		}
	}
	if strings.Contains(err.Error(), "REVOLUT_CLIENT_ID") {
		t.Fatalf("asks for a client ID: %v", err)
	}
}

// Issue 31 (10): a client ID that is not printable ASCII without spaces (a hostile or broken
// registration endpoint's newline, escape or space) is refused, never handed on to whoever
// prints it for a shell; one that is (quotes, $( ) included) is the caller's to quote.
func TestRegistrar_RefusesAClientIDThatIsNotPrintableASCII(t *testing.T) {
	m, cfg, jwksURL := registrationSetup(t, true)
	reg, err := revolut.NewRegistrar(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ssa, _ := revolut.SelfSignedSSA(revolut.SoftwareStatement{JWKSURL: jwksURL, OrgName: "App Ltd"})
	for _, id := range []string{"ok\nexport EVIL=1", "a b", "\x1b[2J", strings.Repeat("x", 300), "café"} {
		m.IssueClientID(id)
		_, err := reg.Register(context.Background(), revolut.Registration{SoftwareStatement: ssa})
		if !errors.Is(err, revolut.ErrRegistration) || !strings.Contains(err.Error(), "client_id") || strings.Contains(err.Error(), id) {
			t.Errorf("client ID %q: %v", id, err)
		}
	}
	m.IssueClientID("$(touch${IFS}pwned)'`x`")
	if c, err := reg.Register(context.Background(), revolut.Registration{SoftwareStatement: ssa}); err != nil || c.ClientID != "$(touch${IFS}pwned)'`x`" {
		t.Fatalf("a printable client ID: %+v %v", c, err)
	}
}
