package soldomock_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

// FuzzVerify sends arbitrary Authorization values, paths and bodies to the mock. It must
// never panic, and it may answer 200 only to a header and body that our signer signed.
func FuzzVerify(f *testing.F) {
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-ed25519-pkcs8.pem")
	if err != nil {
		f.Fatal(err)
	}
	now := time.UnixMilli(1_700_000_000_000)
	m, err := soldomock.New(soldomock.Config{Members: map[string][]*signer.PublicKey{"m:1": {key.Public().WithKeyID("k")}}, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	signed := map[string]bool{}
	for _, attached := range []bool{false, true} {
		ss, err := soldo.NewSigner(soldo.Config{APIURLs: []string{"https://example.com"}, Key: key, KeyID: "k", MemberID: "m:1", Attached: attached}, soldo.WithClock(tokencachetest.NewFakeClock(now)))
		if err != nil {
			f.Fatal(err)
		}
		for _, c := range []struct{ method, target, body string }{{"POST", "/banks/iron/consents", `{"a": 1}`}, {"GET", "/transfers/t?x=1", ""}} {
			req := httptest.NewRequest(c.method, "http://example.com"+c.target, nil)
			auth, err := ss.Sign(req, strings.NewReader(c.body))
			if err != nil {
				f.Fatal(err)
			}
			jws := strings.TrimPrefix(auth, "Bearer ")
			signed[jws[:strings.LastIndex(jws, ".")]+"|"+c.body] = true
			f.Add(auth, c.method, c.target, []byte(c.body))
		}
	}
	f.Fuzz(func(t *testing.T, auth, method, target string, body []byte) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || method == "" || strings.ContainsAny(method, " \r\n\t/") {
			return // not a request a server would receive
		}
		req := httptest.NewRequest("GET", "http://example.com/", bytes.NewReader(body))
		req.Method = method
		if u, err := req.URL.Parse(target); err == nil {
			req.URL, req.RequestURI = u, target
		} else {
			return
		}
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return
		}
		jws := strings.TrimPrefix(auth, "Bearer ")
		if i := strings.LastIndex(jws, "."); i < 0 || !signed[jws[:i]+"|"+string(body)] {
			t.Fatalf("verified a request no signer made: %q %s %s %q", auth, method, target, body)
		}
	})
}
