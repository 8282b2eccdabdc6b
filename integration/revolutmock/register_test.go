package revolutmock_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/signer"
)

const rsaKey = "../../signer/testdata/keys/test-rsa-pkcs8.pem"

// registrationRig is a mock knowing no application, a JWKS host it trusts (TLS with the
// PKI's loopback certificate) serving what the test sets, and a client with the transport
// certificate.
type registrationRig struct {
	m    *revolutmock.Server
	jwks string // the JWKS document served
	url  string
	hc   *http.Client
	key  *signer.Key
	cert *x509.Certificate
	dn   string
}

func newRig(t *testing.T) *registrationRig {
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
	rig := &registrationRig{m: m}
	js := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, rig.jwks) }))
	js.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Server}}
	js.StartTLS()
	t.Cleanup(js.Close)
	rig.url = js.URL + "/jwks.json"
	rig.key, err = signer.LoadKeyFile(rsaKey, signer.WithKeyID("sig-1"), signer.WithAlgorithm(signer.PS256))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sig-1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tpl, tpl, rig.key.Public().Key(), rig.key.Signer())
	rig.cert, _ = x509.ParseCertificate(der)
	rig.publish(t, true)
	client, err := tls.X509KeyPair(pki.ClientCertPEM, pki.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(client.Certificate[0])
	rig.dn = leaf.Subject.String()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pki.CAPEM)
	rig.hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{client}}}}
	return rig
}

// publish serves the key with its certificate (x5c) or without.
func (r *registrationRig) publish(t *testing.T, withX5C bool) {
	pub := r.key.Public()
	if withX5C {
		var err error
		if pub, err = pub.WithCertificates([]*x509.Certificate{r.cert}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(signer.NewKeySet(pub))
	r.jwks = string(b)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// claims are valid registration claims; tests break one rule each.
func (r *registrationRig) claims() map[string]any {
	now := time.Now().Unix()
	ssa := b64(`{"alg":"none"}`) + "." + b64(`{"org_jwks_endpoint":"`+r.url+`","org_name":"finauth test"}`) + "."
	return map[string]any{
		"iss": "finauth test", "iat": now, "exp": now + 300, "aud": "revolut", "scope": "openid accounts payments",
		"redirect_uris": []string{"https://app.example/cb"}, "token_endpoint_auth_method": "tls_client_auth",
		"application_type": "web", "id_token_signed_response_alg": "PS256", "request_object_signing_alg": "PS256",
		"tls_client_auth_dn": r.dn, "software_statement": ssa,
	}
}

func (r *registrationRig) post(t *testing.T, kid string, claims map[string]any) (int, map[string]any) {
	t.Helper()
	return r.postAs(t, r.key, signer.PS256, kid, claims)
}

func (r *registrationRig) postAs(t *testing.T, key *signer.Key, alg signer.Algorithm, kid string, claims map[string]any) (int, map[string]any) {
	t.Helper()
	s, err := signer.New(key, signer.Options{Algorithm: alg, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := s.SignJWT(claims)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.hc.Post(r.m.URL+revolutmock.RegisterPath, "application/jwt", strings.NewReader(jwt))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans map[string]any
	json.NewDecoder(resp.Body).Decode(&ans)
	return resp.StatusCode, ans
}

// A valid registration is answered 201 with a client ID (scope as a list); every rule of
// Revolut's guide broken alone is refused with its own reason.
func TestRegister_EveryRuleHasItsRefusal(t *testing.T) {
	t.Parallel()
	rig := newRig(t)
	status, ans := rig.post(t, "sig-1", rig.claims())
	if status != http.StatusCreated || ans["client_id"] == "" || ans["org_jwks_endpoint"] != rig.url || len(ans["scope"].([]any)) != 3 {
		t.Fatalf("a valid registration: %d %v", status, ans)
	}
	with := func(k string, v any) map[string]any {
		c := maps.Clone(rig.claims())
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	now := time.Now().Unix()
	signedSSA := b64(`{"alg":"PS256"}`) + "." + b64(`{"org_jwks_endpoint":"`+rig.url+`","org_name":"x"}`) + ".c2ln"
	for name, tc := range map[string]struct {
		kid    string
		claims map[string]any
		reason string
	}{
		"kid not in the JWKS":      {"sig-9", rig.claims(), revolutmock.ReasonKID},
		"dn of another cert":       {"sig-1", with("tls_client_auth_dn", "CN=someone else"), revolutmock.ReasonDN},
		"aud too long":             {"sig-1", with("aud", "revolut-open-banking-aud"), revolutmock.ReasonAudience},
		"aud with a dot":           {"sig-1", with("aud", "oba.revolut"), revolutmock.ReasonAudience},
		"no openid":                {"sig-1", with("scope", "accounts payments"), revolutmock.ReasonScope},
		"another auth method":      {"sig-1", with("token_endpoint_auth_method", "private_key_jwt"), revolutmock.ReasonAuthMethod},
		"expired":                  {"sig-1", with("exp", now-10), revolutmock.ReasonTimes},
		"iat in the future":        {"sig-1", with("iat", now+3600), revolutmock.ReasonTimes},
		"no exp":                   {"sig-1", with("exp", nil), revolutmock.ReasonTimes},
		"RS256 request objects":    {"sig-1", with("request_object_signing_alg", "RS256"), revolutmock.ReasonRegistrationAlgs},
		"no software statement":    {"sig-1", with("software_statement", nil), revolutmock.ReasonSSA},
		"a signed SSA":             {"sig-1", with("software_statement", signedSSA), revolutmock.ReasonSSA},
		"no redirect URI":          {"sig-1", with("redirect_uris", []string{}), revolutmock.ReasonRedirectURI},
		"application type desktop": {"sig-1", with("application_type", "desktop"), revolutmock.ReasonAppType},
	} {
		t.Run(name, func(t *testing.T) {
			status, ans := rig.post(t, tc.kid, tc.claims)
			if status != http.StatusBadRequest || ans["error"] != tc.reason {
				t.Fatalf("%d %v: want 400 %s", status, ans, tc.reason)
			}
		})
	}
	t.Run("no x5c", func(t *testing.T) {
		rig.publish(t, false)
		defer rig.publish(t, true)
		if status, ans := rig.post(t, "sig-1", rig.claims()); status != http.StatusBadRequest || ans["error"] != revolutmock.ReasonX5C {
			t.Fatalf("%d %v", status, ans)
		}
	})
	t.Run("not signed by the kid's key", func(t *testing.T) {
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		other, _ := signer.NewKey(k)
		if status, ans := rig.postAs(t, other, signer.PS256, "sig-1", rig.claims()); status != http.StatusBadRequest || ans["error"] != revolutmock.ReasonRegistrationJWT {
			t.Fatalf("%d %v", status, ans)
		}
	})
	t.Run("RS256", func(t *testing.T) {
		if status, ans := rig.postAs(t, rig.key, signer.RS256, "sig-1", rig.claims()); status != http.StatusBadRequest || ans["error"] != revolutmock.ReasonRegistrationJWT {
			t.Fatalf("%d %v", status, ans)
		}
	})
	t.Run("wrong content type", func(t *testing.T) {
		resp, _ := rig.hc.Post(rig.m.URL+revolutmock.RegisterPath, "application/json", strings.NewReader("{}"))
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	if st := rig.m.Stats(); st.Registered != 1 {
		t.Fatalf("registered %d", st.Registered)
	}
}
