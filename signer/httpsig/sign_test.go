package httpsig_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/signer/httpsig"
	"github.com/finauth/finauth/transport"
)

const keys = "../testdata/keys/"

func load(t *testing.T, file string) *signer.Key {
	t.Helper()
	k, err := signer.LoadKeyFile(keys + file)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Every algorithm signs with a key of its kind and verifies with its public half; a key of
// another kind is refused by name before anything is signed.
func TestSigner_EveryAlgorithmRoundTrips(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file string
		alg  httpsig.Algorithm
	}{
		{"test-rsa-pkcs8.pem", httpsig.RSAPSSSHA512},
		{"test-rsa-pkcs8.pem", httpsig.RSAv15SHA256},
		{"test-ec-p256-pkcs8.pem", httpsig.ECDSAP256SHA256},
		{"test-ec-p384-pkcs8.pem", httpsig.ECDSAP384SHA384},
		{"test-ed25519-pkcs8.pem", httpsig.Ed25519},
	} {
		t.Run(string(c.alg), func(t *testing.T) {
			key := load(t, c.file)
			s := &httpsig.Signer{Key: key, Algorithm: c.alg, KeyID: "k1", IncludeAlg: true, Nonce: true, Expires: time.Minute,
				Covered: []string{"@method", "@target-uri", "@authority", "@path", "@query", "@scheme", "@request-target", "content-type"}}
			req := httptest.NewRequest(http.MethodPost, "https://API.example:443/a%2Fb/c?x=1&y=%20", nil)
			req.Header.Set("Content-Type", " application/json ")
			m := httpsig.Request(req)
			in, sig, err := s.Sign(m)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(in, `alg="`+string(c.alg)+`"`) || !strings.Contains(in, "nonce=") || !strings.Contains(in, "expires=") {
				t.Fatalf("Signature-Input: %s", in)
			}
			m.Header = m.Header.Clone()
			m.Header.Set("Signature-Input", in)
			m.Header.Set("Signature", sig)
			v := &httpsig.Verifier{Key: httpsig.KeySet(signer.NewKeySet(key.Public().WithKeyID("k1"))), MaxAge: time.Minute,
				Required: []string{"@method", "@target-uri"}}
			got, err := v.Verify(m)
			if err != nil || got.Algorithm != c.alg || got.KeyID != "k1" || got.Nonce == "" {
				t.Fatalf("%+v %v", got, err)
			}
			m.URL.RawQuery = "x=2&y=%20"
			if _, err := v.Verify(m); !reason(err, "bad_signature") {
				t.Fatalf("another query: %v", err)
			}
		})
	}
	ed := load(t, "test-ed25519-pkcs8.pem")
	if _, _, err := (&httpsig.Signer{Key: ed, Algorithm: httpsig.RSAPSSSHA512, Covered: []string{"@method"}}).Sign(httpsig.Request(httptest.NewRequest("GET", "https://a.example/", nil))); !errors.Is(err, httpsig.ErrAlgorithm) {
		t.Fatalf("an Ed25519 key for rsa-pss-sha512: %v", err)
	}
}

func reason(err error, r string) bool {
	var ve *httpsig.VerifyError
	return errors.As(err, &ve) && ve.Reason == r
}

// The verifier refuses each thing a FAPI 2.0 resource server must: no signature, a required
// component not covered, another tag, an expired or too old signature, an unknown key, and a
// component changed after signing; each with its own reason.
func TestVerifier_RefusesEachWithItsReason(t *testing.T) {
	t.Parallel()
	key := load(t, "test-ec-p256-pkcs8.pem")
	now := time.Unix(1_800_000_000, 0)
	sign := func(s *httpsig.Signer, m httpsig.Message) httpsig.Message {
		t.Helper()
		s.Key, s.Now = key, func() time.Time { return now }
		in, sig, err := s.Sign(m)
		if err != nil {
			t.Fatal(err)
		}
		m.Header = m.Header.Clone()
		m.Header.Set("Signature-Input", in)
		m.Header.Set("Signature", sig)
		return m
	}
	req := httptest.NewRequest(http.MethodGet, "https://rs.example/accounts", nil)
	req.Header.Set("Authorization", "DPoP abc")
	base := httpsig.Request(req)
	v := func() *httpsig.Verifier {
		return &httpsig.Verifier{Key: httpsig.KeySet(signer.NewKeySet(key.Public().WithKeyID("k1"))), Tag: "fapi-2-request",
			Required: []string{"@method", "@target-uri", "authorization"}, MaxAge: time.Minute, Now: func() time.Time { return now }}
	}
	good := sign(httpsig.FAPI2Request(nil, "k1"), base)
	if _, err := v().Verify(good); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		m      httpsig.Message
		edit   func(*httpsig.Verifier)
		reason string
	}{
		"no signature":         {base, nil, "no_signature"},
		"authorization absent": {sign(&httpsig.Signer{KeyID: "k1", Tag: "fapi-2-request", Covered: []string{"@method", "@target-uri"}}, base), nil, "missing_component"},
		"another tag":          {sign(&httpsig.Signer{KeyID: "k1", Tag: "other", Covered: []string{"@method", "@target-uri", "authorization"}}, base), nil, "tag"},
		"expired":              {sign(&httpsig.Signer{KeyID: "k1", Tag: "fapi-2-request", Expires: time.Second, Covered: []string{"@method", "@target-uri", "authorization"}}, base), func(v *httpsig.Verifier) { v.Now = func() time.Time { return now.Add(2 * time.Second) } }, "expired"},
		"too old":              {good, func(v *httpsig.Verifier) { v.Now = func() time.Time { return now.Add(2 * time.Minute) } }, "too_old"},
		"unknown key":          {sign(&httpsig.Signer{KeyID: "k2", Tag: "fapi-2-request", Covered: []string{"@method", "@target-uri", "authorization"}}, base), nil, "unknown_key"},
		"token changed": {func() httpsig.Message {
			m := good
			m.Header = m.Header.Clone()
			m.Header.Set("Authorization", "DPoP abd")
			return m
		}(), nil, "bad_signature"},
	} {
		ver := v()
		if c.edit != nil {
			c.edit(ver)
		}
		if _, err := ver.Verify(c.m); !reason(err, c.reason) {
			t.Errorf("%s: %v, want %s", name, err, c.reason)
		}
	}
}

// FAPI 2.0's request profile through transport.Signing below a transport that sets
// Authorization: every attempt is signed afresh over the body bytes sent (Content-Digest of
// them, covered), a replay included; the wrong order (no Authorization yet) is an error
// before anything is sent.
func TestFAPI2Request_ThroughTheSigningTransport(t *testing.T) {
	t.Parallel()
	key := load(t, "test-rsa-pkcs8.pem")
	var verified, refused atomic.Int32
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v := &httpsig.Verifier{Key: httpsig.KeySet(signer.NewKeySet(key.Public().WithKeyID("client-1"))), Tag: "fapi-2-request",
			Required: []string{"@method", "@target-uri", "authorization", "content-digest"}, MaxAge: time.Minute}
		got, err := v.Verify(httpsig.ServerRequest(r))
		if err == nil {
			err = httpsig.VerifyContentDigest(r.Header.Get("Content-Digest"), body)
		}
		if err != nil {
			refused.Add(1)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		seen = append(seen, strings.Join(got.Covered, " "))
		if verified.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the client sends it again
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	origins, _ := transport.NewOrigins([]string{srv.URL}, false)
	signing := &transport.Signing{Base: srv.Client().Transport, Origins: origins, SignHeaders: httpsig.FAPI2Request(key, "client-1").SignHeaders}
	auth := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer at-1")
		return signing.RoundTrip(r)
	})
	body := []byte(`{"amount":"5.00"}`)
	for attempt := range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/payments", bytes.NewReader(body))
		resp, err := auth.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := []int{503, 201}[attempt]; resp.StatusCode != want {
			t.Fatalf("attempt %d: %d", attempt, resp.StatusCode)
		}
	}
	if verified.Load() != 2 || refused.Load() != 0 || seen[0] != "@method @target-uri authorization content-digest" {
		t.Fatalf("verified %d, refused %d, covered %v", verified.Load(), refused.Load(), seen)
	}
	// The wrong order: signing above the transport that sets Authorization.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/accounts", nil)
	if _, err := signing.RoundTrip(req); !errors.Is(err, httpsig.ErrNoAuthorization) {
		t.Fatalf("no Authorization: %v", err)
	}
	if verified.Load()+refused.Load() != 2 {
		t.Fatal("the unsigned request was sent")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
