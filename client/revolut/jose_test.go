package revolut_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

const keys = "../../signer/testdata/keys/"

// The seed's example, revolut-json-web-tokens.md: its header and payload values give the
// first two segments of its "Full JWT" byte for byte (its signature segment is arbitrary).
const (
	seedHeader  = "eyJhbGciOiJQUzI1NiIsImtpZCI6ImFiYzEyMyJ9"
	seedPayload = "eyJyZXNwb25zZV90eXBlIjoiY29kZSBpZF90b2tlbiIsImNsaWVudF9pZCI6ImQzNjM5NTFmLTBmNzAtNDNlOS04MGU2LWRiOWIwYzU3ODA2MSIsInJlZGlyZWN0X3VyaSI6Imh0dHBzOi8vZXhhbXBsZS5jb20iLCJhdWQiOiJodHRwczovL29iYS1hdXRoLnJldm9sdXQuY29tIiwic2NvcGUiOiJwYXltZW50cyIsInN0YXRlIjoiODY0MTNjODktYTY5Zi00NDlmLTk3Y2MtYTZjYTk0OTMzOGY2IiwibmJmIjoxNzM4MTU4NjUzLCJleHAiOjE3MzgxNjE5NTMsImNsYWltcyI6eyJpZF90b2tlbiI6eyJvcGVuYmFua2luZ19pbnRlbnRfaWQiOnsidmFsdWUiOiI0M2U1NjQ0Ny00MDg4LTQxMTEtYTZlOC0xZWVmNTg1NjQ1YTcifX19fQ"
)

func seedSigner(t *testing.T, opts ...revolut.Option) (*revolut.Signer, *signer.Key) {
	t.Helper()
	key, err := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	if err != nil {
		t.Fatal(err)
	}
	// nbf = now - 5 min = 1738158653 (29 Jan 2025 13:50:53 UTC); exp = nbf + 55 min.
	clock := tokencachetest.NewFakeClock(time.Unix(1738158653, 0).Add(revolut.RequestObjectBackdate))
	s, err := revolut.NewSigner(revolut.Config{
		Env: revolut.Production, ClientID: "d363951f-0f70-43e9-80e6-db9b0c578061", KeyID: "abc123", Key: key,
		RedirectURI: "https://example.com", TAN: "example.com",
	}, append([]revolut.Option{revolut.WithClock(clock)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s, key
}

func TestRequestObject_ReproducesTheSeedExample(t *testing.T) {
	t.Parallel()
	s, key := seedSigner(t, revolut.WithoutNonce()) // the example has none
	jwt, err := s.RequestObject("43e56447-4088-4111-a6e8-1eef585645a7", "payments", "86413c89-a69f-449f-97cc-a6ca949338f6")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || parts[0] != seedHeader || parts[1] != seedPayload {
		t.Fatalf("header and payload differ from the seed's:\n%s.%s\n%s.%s", parts[0], parts[1], seedHeader, seedPayload)
	}
	// And the signature is a real PS256 one.
	v, err := signer.NewVerifier(signer.NewKeySet(key.Public().WithKeyID("abc123")), signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.PS256}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(jwt); err != nil {
		t.Fatalf("the request object does not verify: %v", err)
	}
}

func TestAuthorizationURL_CarriesTheQueryAndTheRequestObject(t *testing.T) {
	t.Parallel()
	s, _ := seedSigner(t)
	raw, err := s.AuthorizationURL("consent-1", "accounts", "st-1")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != "https://oba.revolut.com/ui/index.html" || q.Get("response_type") != "code id_token" ||
		q.Get("client_id") != "d363951f-0f70-43e9-80e6-db9b0c578061" || q.Get("redirect_uri") != "https://example.com" ||
		q.Get("scope") != "accounts" || q.Get("state") != "st-1" {
		t.Fatalf("%s", raw)
	}
	u2, err := signer.DecodeUnverified(q.Get("request"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Scope, State string
		Nbf, Exp     int64
		Claims       struct {
			IDToken struct {
				Intent struct{ Value string } `json:"openbanking_intent_id"`
			} `json:"id_token"`
		}
	}
	if err := json.Unmarshal(u2.Payload, &c); err != nil || c.Scope != "accounts" || c.State != "st-1" ||
		c.Claims.IDToken.Intent.Value != "consent-1" || c.Exp-c.Nbf != 55*60 {
		t.Fatalf("%s %v", u2.Payload, err)
	}
	if _, err := s.AuthorizationURL("", "", "x"); !errors.Is(err, revolut.ErrRequestObject) || !strings.Contains(err.Error(), "consent ID") || !strings.Contains(err.Error(), "scope") {
		t.Fatalf("no consent or scope: %v", err)
	}
}

// x-jws-signature verifies with the signer's verifier told about the tan (go-jose would
// refuse the unknown crit), over the exact body; the legacy profile signs the raw bytes.
func TestJWSSignature_DetachedOverTheExactBody(t *testing.T) {
	t.Parallel()
	body := []byte(`{"Data":{"Initiation":{"InstructedAmount":{"Amount":"10.00","Currency":"GBP"}}},"Risk":{}}`)
	for _, legacy := range []bool{false, true} {
		var opts []revolut.Option
		if legacy {
			opts = append(opts, revolut.WithLegacyJWS("org-1/software-1"))
		}
		s, key := seedSigner(t, opts...)
		req, _ := http.NewRequest(http.MethodPost, "https://oba.revolut.com/domestic-payments", nil)
		jws, err := s.JWSSignature(req, strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		if parts := strings.Split(jws, "."); len(parts) != 3 || parts[1] != "" {
			t.Fatalf("not detached: %s", jws)
		}
		crit := []string{revolut.TANHeader}
		if legacy {
			crit = append(crit, "http://openbanking.org.uk/iat", "http://openbanking.org.uk/iss")
		}
		v, _ := signer.NewVerifier(signer.NewKeySet(key.Public().WithKeyID("abc123")), signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.PS256}, Critical: crit})
		got, err := v.VerifyDetached(jws, body)
		if err != nil {
			t.Fatalf("legacy %v: %v", legacy, err)
		}
		if tan, _ := got.HeaderString(revolut.TANHeader); tan != "example.com" {
			t.Fatalf("tan %q", tan)
		}
		if typ, _ := got.HeaderString("typ"); typ != "JOSE" {
			t.Fatalf("typ %q", typ)
		}
		if _, err := v.VerifyDetached(jws, append(body, ' ')); err == nil {
			t.Fatal("verifies over other bytes")
		}
		if _, ok := got.Header["b64"]; ok != legacy {
			t.Fatalf("legacy %v: b64 present %v", legacy, ok)
		}
	}
}

// A request object carries a nonce (OpenID Connect requires one for "code id_token"), a new
// random one each time, and still verifies.
func TestRequestObject_CarriesAFreshNonce(t *testing.T) {
	t.Parallel()
	s, key := seedSigner(t)
	v, _ := signer.NewVerifier(signer.NewKeySet(key.Public().WithKeyID("abc123")), signer.VerifyOptions{Algorithms: []signer.Algorithm{signer.PS256}})
	seen := map[string]bool{}
	for range 3 {
		jwt, err := s.RequestObject("c-1", "payments", "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Verify(jwt)
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Nonce string }
		if got.Claims(&c) != nil || len(c.Nonce) < 22 || seen[c.Nonce] {
			t.Fatalf("nonce %q (seen %v)", c.Nonce, seen)
		}
		seen[c.Nonce] = true
	}
}
