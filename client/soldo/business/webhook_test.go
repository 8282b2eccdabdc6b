package business

import (
	"bytes"
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

// The webhook of a public SDK's documentation, its fingerprint order, and the fingerprint
// computed here with the internal token.
const webhookBody = `{"event_type":"Transaction","event_name":"card_authorization","data":{"id":"1309-189704842-1503070696138",
"wallet_id":"f086f47f-1526-11e7-9287-0a89c8769141","status":"Settled","category":"Refund","transaction_sign":"Positive","amount":56,
"merchant":{"name":"PRET A MANGER"},"tags":[]}}`

const sdkWebhookOrder = "id,wallet_id,status,transaction_sign,token"

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

func TestWebhookVerifier_AcceptsSoldosFingerprintAndRefusesEverythingElse(t *testing.T) {
	const it = "internal-tok"
	good := sha512hex("1309-189704842-1503070696138" + "f086f47f-1526-11e7-9287-0a89c8769141" + "Settled" + "Positive" + it)
	v := &WebhookVerifier{InternalToken: it}
	w, err := v.Verify(webhookHeaders(sdkWebhookOrder, good, ""), []byte(webhookBody))
	if err != nil || w.EventType != "Transaction" || w.EventName != "card_authorization" || len(w.Order) != 5 {
		t.Fatalf("a good webhook: %+v %v", w, err)
	}
	// the amount (a number) in the order, written as in the body
	withAmount := sha512hex("56" + "1309-189704842-1503070696138" + it)
	if _, err := v.Verify(webhookHeaders("amount,id,token", withAmount, ""), []byte(webhookBody)); err != nil {
		t.Fatalf("a number field: %v", err)
	}
	refused := []struct {
		name   string
		h      http.Header
		body   string
		reason string
	}{
		{"no order", webhookHeaders("", good, ""), webhookBody, WebhookNoOrder},
		{"an order without the token", webhookHeaders("id,wallet_id,status,transaction_sign", good, ""), webhookBody, WebhookNoOrder},
		{"an object in the order", webhookHeaders("merchant,token", good, ""), webhookBody, WebhookNoOrder},
		{"no fingerprint", webhookHeaders(sdkWebhookOrder, "", ""), webhookBody, WebhookNoFingerprint},
		{"another internal token", webhookHeaders(sdkWebhookOrder, sha512hex("1309-189704842-1503070696138f086f47f-1526-11e7-9287-0a89c8769141SettledPositiveother"), ""), webhookBody, WebhookFingerprint},
		{"a changed body", webhookHeaders(sdkWebhookOrder, good, ""), strings.Replace(webhookBody, "Settled", "Declined", 1), WebhookFingerprint},
		{"another order", webhookHeaders("wallet_id,id,status,transaction_sign,token", good, ""), webhookBody, WebhookFingerprint},
		{"not JSON", webhookHeaders(sdkWebhookOrder, good, ""), "id=1", WebhookMalformed},
		{"no data object", webhookHeaders(sdkWebhookOrder, good, ""), `{"data":[1]}`, WebhookMalformed},
		{"too large", webhookHeaders(sdkWebhookOrder, good, ""), webhookBody + strings.Repeat(" ", DefaultMaxWebhookBytes), WebhookTooLarge},
	}
	for _, c := range refused {
		_, err := v.Verify(c.h, []byte(c.body))
		var we *WebhookError
		if !errors.As(err, &we) || we.Reason != c.reason || !errors.Is(err, ErrWebhookRefused) {
			t.Errorf("%s: %v, want reason %s", c.name, err, c.reason)
		}
		if err != nil && strings.Contains(err.Error(), it) {
			t.Errorf("%s: the internal token in the error", c.name)
		}
	}
}

func TestWebhookVerifier_SignatureWhenSoldosKeyIsGiven(t *testing.T) {
	const it = "internal-tok"
	key := testKey(t)
	fp := sha512hex("1309-189704842-1503070696138" + "f086f47f-1526-11e7-9287-0a89c8769141" + "Settled" + "Positive" + it)
	sig, err := SignFingerprint(key.Signer(), fp)
	if err != nil {
		t.Fatal(err)
	}
	v := &WebhookVerifier{InternalToken: it, PublicKey: key.Signer().Public().(*rsa.PublicKey)}
	if _, err := v.Verify(webhookHeaders(sdkWebhookOrder, fp, sig), []byte(webhookBody)); err != nil {
		t.Fatalf("signed: %v", err)
	}
	other, _ := SignFingerprint(key.Signer(), sha512hex("x"))
	for name, c := range map[string]struct{ sig, reason string }{
		"missing":           {"", WebhookNoSignature},
		"not base64":        {"!!", WebhookSignature},
		"of something else": {other, WebhookSignature},
	} {
		_, err := v.Verify(webhookHeaders(sdkWebhookOrder, fp, c.sig), []byte(webhookBody))
		var we *WebhookError
		if !errors.As(err, &we) || we.Reason != c.reason {
			t.Errorf("signature %s: %v", name, err)
		}
	}
}

func TestWebhookVerifier_Middleware(t *testing.T) {
	const it = "internal-tok"
	fp := sha512hex("1309-189704842-1503070696138" + "f086f47f-1526-11e7-9287-0a89c8769141" + "Settled" + "Positive" + it)
	var got []byte
	var hook *Webhook
	h := (&WebhookVerifier{InternalToken: it}).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		hook, _ = WebhookFrom(r.Context())
	}), nil)
	req := httptest.NewRequest("POST", "/hooks/soldo", strings.NewReader(webhookBody))
	req.Header = webhookHeaders(sdkWebhookOrder, fp, "")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || string(got) != webhookBody || hook == nil || hook.EventName != "card_authorization" {
		t.Fatalf("accepted: %d, body intact %v, hook %+v", rec.Code, string(got) == webhookBody, hook)
	}
	got = nil
	var refusal error
	h = (&WebhookVerifier{InternalToken: it}).Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got = []byte("reached") }),
		func(_ *http.Request, err error) { refusal = err })
	req = httptest.NewRequest("POST", "/hooks/soldo", strings.NewReader(webhookBody))
	req.Header = webhookHeaders(sdkWebhookOrder, sha512hex("forged"), "")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 401 || got != nil || !errors.Is(refusal, ErrWebhookRefused) || !strings.Contains(rec.Body.String(), WebhookFingerprint) {
		t.Fatalf("refused: %d %q %v", rec.Code, rec.Body.String(), refusal)
	}
}

// FuzzWebhookVerifier: arbitrary headers and bodies never panic, and a webhook is accepted
// only when its fingerprint header is the SHA-512 of the named fields' values (read here
// with encoding/json, independently) followed where "token" is named by the internal token.
func FuzzWebhookVerifier(f *testing.F) {
	const it = "internal-tok"
	f.Add(sdkWebhookOrder, sha512hex("1309-189704842-1503070696138f086f47f-1526-11e7-9287-0a89c8769141SettledPositive"+it), webhookBody)
	f.Add("token", sha512hex(it), `{"data":{}}`)
	f.Add("a,,token", "00", `{"data":{"a":null}}`)
	f.Add("amount,token", sha512hex("1e3"+it), `{"data":{"amount":1e3}}`)
	f.Add("x,token", sha512hex("true"+it), `{"data":{"x":true,"x":false}}`)
	v := &WebhookVerifier{InternalToken: it, MaxBodyBytes: 4096}
	f.Fuzz(func(t *testing.T, order, fp, body string) {
		w, err := v.Verify(webhookHeaders(order, fp, ""), []byte(body))
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
			switch x := msg.Data[name].(type) {
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
		if sha512hex(s.String()) != strings.ToLower(strings.TrimSpace(fp)) {
			t.Fatalf("accepted a fingerprint that is not the fields' SHA-512: order %q fp %q body %q", order, fp, body)
		}
	})
}
