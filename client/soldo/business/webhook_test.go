package business

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A webhook as Soldo's OpenAPI description gives it: a Transaction event, the order
// "id, walletId, status, transactionSign" (camelCase names of the data's snake_case
// fields), the fingerprint of their values, its signature with Soldo's key (the test key
// here).
const webhookBody = `{"event_uuid":"7bf79328-a7ae-4222-aa54-091ff7f429a7","event_type":"Transaction","event_name":"card_authorization",
"company_account_id":"XMPL1234","data":{"id":"1309-189704842-1503070696138","wallet_id":"f086f47f-1526-11e7-9287-0a89c8769141",
"status":"Settled","category":"Refund","transaction_sign":"Positive","amount":56,"merchant":{"name":"PRET A MANGER"},"tags":[]}}`

const sdkWebhookOrder = "id, walletId, status, transactionSign"

var webhookValues = "1309-189704842-1503070696138" + "f086f47f-1526-11e7-9287-0a89c8769141" + "Settled" + "Positive"

func sha512hex(s string) string {
	sum := sha512.Sum512([]byte(s))
	return hex.EncodeToString(sum[:])
}

func webhookHeaders(order, fp, sig string) http.Header {
	h := http.Header{}
	if order != "" {
		h.Set(HeaderFingerprintOrder, order)
	}
	if fp != "" {
		h.Set(HeaderFingerprint, fp)
	}
	if sig != "" {
		h.Set(HeaderFingerprintSignature, sig)
	}
	return h
}

// signed returns the headers of a webhook whose fingerprint covers values, signed with the
// test key.
func signed(t testing.TB, order, values string) http.Header {
	t.Helper()
	fp := sha512hex(values)
	sig, err := SignFingerprint(testKey(t).Signer(), fp)
	if err != nil {
		t.Fatal(err)
	}
	return webhookHeaders(order, fp, sig)
}

func testVerifier(t testing.TB) *WebhookVerifier {
	return &WebhookVerifier{PublicKey: testKey(t).Signer().Public().(*rsa.PublicKey), InternalToken: "internal-tok"}
}

func TestWebhookVerifier_AcceptsSoldosSignedWebhooksAndRefusesEverythingElse(t *testing.T) {
	v := testVerifier(t)
	w, err := v.Verify(signed(t, sdkWebhookOrder, webhookValues), []byte(webhookBody))
	if err != nil || w.EventType != "Transaction" || w.EventName != "card_authorization" || len(w.Order) != 4 {
		t.Fatalf("a good webhook: %+v %v", w, err)
	}
	// a number field, written as in the body; an older webhook's order naming the token
	if _, err := v.Verify(signed(t, "amount,id", "56"+"1309-189704842-1503070696138"), []byte(webhookBody)); err != nil {
		t.Fatalf("a number field: %v", err)
	}
	if _, err := v.Verify(signed(t, "id,token", "1309-189704842-1503070696138internal-tok"), []byte(webhookBody)); err != nil {
		t.Fatalf("an order with the token: %v", err)
	}
	good := signed(t, sdkWebhookOrder, webhookValues)
	other := signed(t, sdkWebhookOrder, "something else")
	refused := []struct {
		name   string
		v      *WebhookVerifier
		h      http.Header
		body   string
		reason string
	}{
		{"no public key", &WebhookVerifier{InternalToken: "internal-tok"}, good, webhookBody, WebhookSignature},
		{"no order", v, webhookHeaders("", good.Get(HeaderFingerprint), good.Get(HeaderFingerprintSignature)), webhookBody, WebhookNoOrder},
		{"an object in the order", v, signed(t, "merchant", ""), webhookBody, WebhookNoOrder},
		{"the token named, no internal token", &WebhookVerifier{PublicKey: v.PublicKey}, signed(t, "id,token", "x"), webhookBody, WebhookNoOrder},
		{"no fingerprint", v, webhookHeaders(sdkWebhookOrder, "", good.Get(HeaderFingerprintSignature)), webhookBody, WebhookNoFingerprint},
		{"a changed body", v, good, strings.Replace(webhookBody, "Settled", "Declined", 1), WebhookFingerprint},
		{"another order", v, webhookHeaders("walletId, id, status, transactionSign", good.Get(HeaderFingerprint), good.Get(HeaderFingerprintSignature)), webhookBody, WebhookFingerprint},
		{"no signature", v, webhookHeaders(sdkWebhookOrder, good.Get(HeaderFingerprint), ""), webhookBody, WebhookNoSignature},
		{"not base64", v, webhookHeaders(sdkWebhookOrder, good.Get(HeaderFingerprint), "!!"), webhookBody, WebhookSignature},
		{"the signature of something else", v, webhookHeaders(sdkWebhookOrder, good.Get(HeaderFingerprint), other.Get(HeaderFingerprintSignature)), webhookBody, WebhookSignature},
		{"not JSON", v, good, "id=1", WebhookMalformed},
		{"no data object", v, good, `{"data":[1]}`, WebhookMalformed},
		{"too large", v, good, webhookBody + strings.Repeat(" ", DefaultMaxWebhookBytes), WebhookTooLarge},
	}
	for _, c := range refused {
		_, err := c.v.Verify(c.h, []byte(c.body))
		var we *WebhookError
		if !errors.As(err, &we) || we.Reason != c.reason || !errors.Is(err, ErrWebhookRefused) {
			t.Errorf("%s: %v, want reason %s", c.name, err, c.reason)
		}
		if err != nil && strings.Contains(err.Error(), "internal-tok") {
			t.Errorf("%s: the internal token in the error", c.name)
		}
	}
}

func TestWebhookVerifier_Middleware(t *testing.T) {
	var got []byte
	var hook *Webhook
	h := testVerifier(t).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		hook, _ = WebhookFrom(r.Context())
	}), nil)
	req := httptest.NewRequest("POST", "/hooks/soldo", strings.NewReader(webhookBody))
	req.Header = signed(t, sdkWebhookOrder, webhookValues)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || string(got) != webhookBody || hook == nil || hook.EventName != "card_authorization" {
		t.Fatalf("accepted: %d, body intact %v, hook %+v", rec.Code, string(got) == webhookBody, hook)
	}
	got = nil
	var refusal error
	h = testVerifier(t).Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got = []byte("reached") }),
		func(_ *http.Request, err error) { refusal = err })
	req = httptest.NewRequest("POST", "/hooks/soldo", strings.NewReader(webhookBody))
	req.Header = signed(t, sdkWebhookOrder, "forged")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 401 || got != nil || !errors.Is(refusal, ErrWebhookRefused) || !strings.Contains(rec.Body.String(), WebhookFingerprint) {
		t.Fatalf("refused: %d %q %v", rec.Code, rec.Body.String(), refusal)
	}
}

// FuzzWebhookVerifier: arbitrary orders, signed values and bodies never panic, and a
// webhook is accepted only when what Soldo's key signed is the named fields' values (read
// here with encoding/json, independently; "token" the internal token).
func FuzzWebhookVerifier(f *testing.F) {
	const it = "internal-tok"
	// A 1024-bit key: the property is about what is read and signed, not the key's size,
	// and each input is signed (2048 bits would cost 1 ms an input, too slow for CI's count).
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sdkWebhookOrder, webhookValues, webhookBody)
	f.Add("token", it, `{"data":{}}`)
	f.Add("a,,token", "", `{"data":{"a":null}}`)
	f.Add("amount,token", "1e3"+it, `{"data":{"amount":1e3}}`)
	f.Add("x,token", "true"+it, `{"data":{"x":true,"x":false}}`)
	f.Add("walletId", "w", `{"data":{"wallet_id":"w","walletId":"v"}}`)
	v := &WebhookVerifier{PublicKey: &key.PublicKey, InternalToken: it, MaxBodyBytes: 4096}
	f.Fuzz(func(t *testing.T, order, values, body string) {
		// the fuzzer picks what is signed (values): the verifier must accept only when they
		// are the named fields' values
		fp := sha512hex(values)
		sig, _ := SignFingerprint(key, fp)
		w, err := v.Verify(webhookHeaders(order, fp, sig), []byte(body))
		if err != nil {
			var we *WebhookError
			if !errors.As(err, &we) || strings.Contains(err.Error(), it) {
				t.Fatalf("untyped error or the internal token in it: %v", err)
			}
			return
		}
		var msg struct{ Data map[string]any }
		d := json.NewDecoder(bytes.NewReader([]byte(body)))
		d.UseNumber()
		if d.Decode(&msg) != nil {
			t.Fatalf("accepted a body encoding/json cannot read: %q", body)
		}
		var s strings.Builder
		for _, name := range w.Order {
			if name == TokenField {
				s.WriteString(it)
				continue
			}
			x, ok := msg.Data[name]
			if !ok {
				x = msg.Data[snakeCase(name)]
			}
			switch x := x.(type) {
			case string:
				s.WriteString(x)
			case json.Number:
				s.WriteString(x.String())
			case bool:
				if x {
					s.WriteString("true")
				} else {
					s.WriteString("false")
				}
			case nil:
			default:
				t.Fatalf("accepted a fingerprint over a non-scalar field %q", name)
			}
		}
		if s.String() != values {
			t.Fatalf("accepted a signed fingerprint of %q for the fields %q: order %q body %q", values, s.String(), order, body)
		}
	})
}
