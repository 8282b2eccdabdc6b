package business

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finauth/finauth/signer"
)

const testKeyFile = "../../../signer/testdata/keys/test-rsa-pkcs8.pem"

// Golden values, computed outside Go: printf '%s' VALUES | openssl dgst -sha512, and
// printf '%s' FINGERPRINT | openssl dgst -sha512 -sign signer/testdata/keys/test-rsa-pkcs8.pem | base64
// (RSA PKCS#1 v1.5 is deterministic: the same key and message give the same bytes).
var golden = []struct {
	name        string
	values      []string
	fingerprint string
	signature   string // of fingerprint, with testKeyFile; "" when not pinned
}{
	{"internal transfer: amount, currencyCode, fromWalletId, toWalletId, token", []string{"100.5", "EUR", "wallet-1", "wallet-2", "internal-tok"},
		"9595664ce2bce53a911e84a0c88b5215ee80dda3e57d0d61665dc1e6103409e8c480b27f7b20dd3cc09478e22530f0f3b6528cc0d30ebe3046d402bb6d89d4bf",
		"ABkOMe7wfIbeyodMnMm5lTAZAxaoQ2TFvFshYTkHSblHtTRa1vmKCKdEfsHNEaAIdBXX9zUUUdOBnwqkoEyNoCFJY9N6G4NoelnzwoszS0UVETMzfoAHge9Fo8cTWpbS8twUXLIhckYwBoRY/wSjOX3cv5MyXDFaXWBnDWQopKzvHRcca0oV7SEB5JSbG4L1D2PZPFWzet06eQxfKBkejUpWeIKaKLYjzuQnRigDH+4dmtZM+3Otti6a8wLDGdLcZmMDlv1SwhbgT9AC+49FqjuTxX9n+kN+PzE0cK6tFehkPB5WDlMtfijacicn9vpWTmE0WEyX3uwx9qK5aoxqQA=="},
	{"a transaction: id, token", []string{"tx-42", "internal-tok"},
		"b201a2d60e619449dc240eb2fd1454abc2e87f18def446e69267f6201a251ade6c1fd9a7cededa1d0ef0ad5ac0d8273a83a9d65414894a1799e41eed6d1d79a6", ""},
	{"whoami: token", []string{"internal-tok"},
		"3ce37bec70f770dacfaaab3ac0e859ec484f62575a3b5f97063adea3dc8946cb4a8fe15a32a9ae303a235b9abb2f01a98596ff4e942da6969cc1061a29dd1a82", ""},
}

func testKey(t testing.TB) *signer.Key {
	t.Helper()
	k, err := signer.LoadKeyFile(testKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestFingerprint_Golden(t *testing.T) {
	key := testKey(t)
	for _, g := range golden {
		if got := Fingerprint(g.values...); got != g.fingerprint {
			t.Errorf("%s: fingerprint %s, want %s", g.name, got, g.fingerprint)
		}
		if g.signature == "" {
			continue
		}
		sig, err := SignFingerprint(key.Signer(), g.fingerprint)
		if err != nil || sig != g.signature {
			t.Errorf("%s: signature %s (%v), want %s", g.name, sig, err, g.signature)
		}
	}
}

// The signature is byte for byte openssl's "dgst -sha512 -sign" over the fingerprint's hex
// string, for fingerprints made in the test.
func TestSignFingerprint_AgreesWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is needed under CI")
		}
		t.Skip("openssl not installed")
	}
	key := testKey(t)
	dir := t.TempDir()
	for _, vals := range [][]string{{"x"}, {"12.00", "GBP", "a/b", "c d", "tok"}, {strings.Repeat("é", 300), "tok"}} {
		fp := Fingerprint(vals...)
		in := filepath.Join(dir, "fp")
		os.WriteFile(in, []byte(fp), 0o600)
		out, err := exec.Command(openssl, "dgst", "-sha512", "-sign", testKeyFile, "-binary", in).Output()
		if err != nil {
			t.Fatal(err)
		}
		sig, err := SignFingerprint(key.Signer(), fp)
		if err != nil {
			t.Fatal(err)
		}
		if want := b64(out); sig != want {
			t.Errorf("values %q: signature differs from openssl's\n got %s\nwant %s", vals, sig, want)
		}
		// and openssl verifies ours with the public key
		sigFile := filepath.Join(dir, "sig")
		raw, _ := unb64(sig)
		os.WriteFile(sigFile, raw, 0o600)
		pub := filepath.Join(dir, "pub.pem")
		pem, _ := key.Public().MarshalPEM()
		os.WriteFile(pub, pem, 0o600)
		if msg, err := exec.Command(openssl, "dgst", "-sha512", "-verify", pub, "-signature", sigFile, in).CombinedOutput(); err != nil || !bytes.Contains(msg, []byte("Verified OK")) {
			t.Errorf("openssl does not verify our signature: %s %v", msg, err)
		}
	}
}

func TestValues_TakeEachFieldFromPathQueryOrBody(t *testing.T) {
	tab, err := newTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	const form, js = "application/x-www-form-urlencoded", "application/json"
	cases := []struct {
		name, method, url, ctype, body string
		want                           []string
		err                            error
	}{
		{"transfer: path and form body (Soldo's content type for it)", "PUT", "/business/v2/wallets/internalTransfer/w%2F1/w2", form, "amount=100.50&currencyCode=EUR", []string{"100.50", "EUR", "w/1", "w2", "T"}, nil},
		{"transfer with a JSON body", "PUT", "/business/v2/wallets/internalTransfer/w1/w2", js, `{"amount": 100.50, "currencyCode": "EUR"}`, []string{"100.50", "EUR", "w1", "w2", "T"}, nil},
		{"search: the filters in order, absent ones empty", "GET", "/business/v2/transactions?status=Settled&type=company&fromDate=2026-01-01&text=caf%C3%A9&requiredInformation=RECEIPT", "", "",
			[]string{"company", "", "", "", "2026-01-01", "", "", "", "Settled", "", "", "café", "", "", "RECEIPT", "T"}, nil},
		{"a transaction", "GET", "/business/v2/transactions/tx-1", "", "", []string{"tx-1", "T"}, nil},
		{"a nested field", "POST", "/business/v2/transactions/mileage-reimbursements", js,
			`{"request_timestamp": 1, "date": "2026-01-02", "owner_id": "u1", "mileage": {"vehicle_id": "v1", "reimbursement_rate": 0.3, "distance": 12, "round_trip": true}}`,
			[]string{"1", "2026-01-02", "u1", "v1", "0.3", "12", "true", "T"}, nil},
		{"a renamed path parameter", "PUT", "/business/v2/online-ads/ad-7", js, `{"name": "n", "wallet_id": "w"}`, []string{"ad-7", "n", "w", "T"}, nil},
		{"a filter given twice", "GET", "/business/v2/transactions?type=a&type=b", "", "", nil, ErrFingerprintFields},
		{"a form field given twice", "PUT", "/business/v2/wallets/internalTransfer/a/b", form, "amount=1&amount=2&currencyCode=EUR", nil, ErrFingerprintFields},
		{"an object where a value is expected", "PUT", "/business/v2/wallets/internalTransfer/a/b", js, `{"amount": {"v": 1}, "currencyCode": "EUR"}`, nil, ErrFingerprintFields},
		{"path and body disagree", "PUT", "/business/v2/wallets/internalTransfer/a/b", js, `{"amount": 1, "currencyCode": "EUR", "fromWalletId": "z"}`, nil, ErrFingerprintFields},
		{"a JSON body that is not JSON", "PUT", "/business/v2/wallets/internalTransfer/a/b", js, `amount=1`, nil, ErrFingerprintFields},
		{"a write the description does not know", "POST", "/business/v2/rockets", js, `{}`, nil, ErrFingerprintOrderUnknown},
		{"a transaction read the description does not know", "GET", "/business/v2/transactions/tx-1/rocket", "", "", nil, ErrFingerprintOrderUnknown},
		{"an order that joins arrays", "POST", "/business/v2/contacts", js, `{}`, nil, ErrFingerprintOrderUnknown},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, "https://api.soldo.example"+c.url, strings.NewReader(c.body))
		p, err := tab.planFor(req)
		var got []string
		if err == nil {
			got, err = values(p.fields, p.params, req.URL.Query(), []byte(c.body), c.ctype, "T")
		}
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: error %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: %q (%v), want %q", c.name, got, err, c.want)
		}
	}
}

func TestPlan_OverridesAndStandardRequests(t *testing.T) {
	tab, err := newTable([]Endpoint{{Method: "post", Path: "/business/v2/rockets/{rocketId}/launch", Fields: []string{"rocketId", "name", "token"}},
		{Method: "PUT", Path: "/business/v2/wallets/internalTransfer/{fromWalletId}/{toWalletId}", Fields: []string{"fromWalletId", "token"}}})
	if err != nil {
		t.Fatal(err)
	}
	req := func(ctx context.Context, method, path string) *http.Request {
		r, _ := http.NewRequestWithContext(ctx, method, "https://x"+path, nil)
		return r
	}
	bg := context.Background()
	for _, c := range []struct {
		ctx          context.Context
		method, path string
		fields       string // "" standard
		err          error
	}{
		{bg, "POST", "/business/v2/rockets/r1/launch", "rocketId,name,token", nil},                      // added
		{bg, "PUT", "/business/v2/wallets/internalTransfer/a/b", "fromWalletId,token", nil},             // replaced
		{WithFingerprintOrder(bg, "a", "token"), "DELETE", "/business/v2/x", "a,token", nil},            // per request
		{WithFingerprintOrder(bg, "a"), "DELETE", "/business/v2/x", "", ErrFingerprintFields},           // no token
		{WithStandardAuthentication(bg), "POST", "/business/v2/x", "", nil},                             // marked standard
		{bg, "GET", "/business/v2/wallets", "", nil},                                                    // standard in the description
		{bg, "GET", "/business/v2/ping/whoami", "", nil},                                                // standard in the description
		{bg, "POST", "/business/v2/expense-review/processes", "", nil},                                  // a standard write in the description
		{bg, "GET", "/business/v2/transactions/mileage-reimbursements/m1", "transactionId,token", nil},  // the most specific pattern
		{WithFingerprintOrder(bg, "name", "token"), "POST", "/business/v2/contacts", "name,token", nil}, // a left-out order given
	} {
		p, err := tab.planFor(req(c.ctx, c.method, c.path))
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s %s: %v, want %v", c.method, c.path, err, c.err)
			}
			continue
		}
		if err != nil || strings.Join(p.fields, ",") != c.fields {
			t.Errorf("%s %s: fields %q (%v), want %q", c.method, c.path, p.fields, err, c.fields)
		}
	}
	if _, err := newTable([]Endpoint{{Method: "GET", Path: "/x", Fields: []string{"id"}}}); err == nil {
		t.Error("an endpoint whose order does not end with the token was accepted")
	}
}

// The table covers Soldo's description whole: every operation is fingerprinted, standard
// or left out with a reason, and every fingerprinted one's path parameters that its order
// names are parameters of its pattern.
func TestTable_IsSoldosDescription(t *testing.T) {
	if n := len(documented) + len(standard) + len(leftOut); n < 200 {
		t.Fatalf("only %d operations: the table is not the description", n)
	}
	seen := map[string]bool{}
	for _, e := range documented {
		key := e.Method + " " + e.Path
		if seen[key] {
			t.Errorf("%s twice", key)
		}
		seen[key] = true
		if err := checkOrder(e.Fields); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
	for _, e := range standard {
		if seen[e.Method+" "+e.Path] {
			t.Errorf("%s %s is both fingerprinted and standard", e.Method, e.Path)
		}
	}
	if OpenAPIVersion() == "" {
		t.Error("no version")
	}
}

func TestLoadKey_RefusesWhatSoldoCannotVerify(t *testing.T) {
	base := Config{APIURL: DemoURL, ClientID: "c", ClientSecret: "s", InternalToken: "i"}
	ec := base
	ec.PrivateKeyFile = "../../../signer/testdata/keys/test-ec-p256-pkcs8.pem"
	if _, err := ec.loadKey(); err == nil || !strings.Contains(err.Error(), "not an RSA key") {
		t.Errorf("an EC key: %v", err)
	}
	small := base
	small.PrivateKeyFile = "../../../signer/testdata/keys/test-rsa-1024-too-small.pem"
	if _, err := small.loadKey(); err == nil {
		t.Errorf("a 1024-bit key was accepted")
	}
	ok := base
	ok.PrivateKeyFile = testKeyFile
	k, err := ok.loadKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, isRSA := k.Signer().Public().(*rsa.PublicKey); !isRSA {
		t.Fatal("not RSA")
	}
}

func b64(b []byte) string            { return base64.StdEncoding.EncodeToString(b) }
func unb64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
