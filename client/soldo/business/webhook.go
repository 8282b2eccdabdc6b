package business

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/finauth/finauth/client"
)

// DefaultMaxWebhookBytes bounds a webhook's body unless WebhookVerifier.MaxBodyBytes says
// otherwise.
const DefaultMaxWebhookBytes = 1 << 20

// maxOrderFields bounds the fields a webhook's fingerprint order may name.
const maxOrderFields = 64

// ErrWebhookRefused is wrapped by every *WebhookError.
var ErrWebhookRefused = errors.New("finauth: soldo business: webhook refused")

// WebhookError says why a webhook was refused. Reason is one of the Webhook* reason
// constants; the message never holds the internal token.
type WebhookError struct {
	Reason  string
	Message string
}

// The reasons a webhook is refused.
const (
	WebhookMalformed     = "malformed"            // not a JSON object with a "data" object
	WebhookTooLarge      = "too_large"            // the body is over the limit
	WebhookNoOrder       = "no_fingerprint_order" // X-Soldo-Fingerprint-Order missing or unusable
	WebhookNoFingerprint = "no_fingerprint"       // X-Soldo-Fingerprint missing
	WebhookFingerprint   = "fingerprint"          // the fingerprint does not match the fields
	WebhookNoSignature   = "no_signature"         // a public key is configured and X-Soldo-Fingerprint-Signature is missing
	WebhookSignature     = "signature"            // the signature does not verify with Soldo's key
)

// Error says why the webhook was refused.
func (e *WebhookError) Error() string {
	return "finauth: soldo business: webhook refused (" + e.Reason + "): " + e.Message
}

// Unwrap returns ErrWebhookRefused.
func (e *WebhookError) Unwrap() error { return ErrWebhookRefused }

// Webhook is a webhook whose fingerprint was verified.
type Webhook struct {
	// EventType and EventName are the body's event_type and event_name.
	EventType, EventName string
	// Data is the body's data object, as sent.
	Data json.RawMessage
	// Order is the fingerprint order Soldo sent (X-Soldo-Fingerprint-Order).
	Order []string
}

// WebhookVerifier checks the webhooks Soldo sends, as Soldo's OpenAPI description gives
// them: X-Soldo-Fingerprint-Order names the fields of the body's data object the
// fingerprint covers ("id, walletId, status, transactionSign"), X-Soldo-Fingerprint is the
// lowercase hex SHA-512 of their values concatenated in that order, and
// X-Soldo-Fingerprint-Signature its SHA512withRSA signature (base64) with Soldo's key. All
// three are required, and the signature must verify with PublicKey: the fingerprint alone
// covers no secret (anyone can compute it). A name of the order is looked up in the data
// object as written, else in snake_case (the order says walletId, the data has wallet_id);
// "token", in an older webhook's order, is the internal token. Comparisons are
// constant-time; the body is bounded.
type WebhookVerifier struct {
	// PublicKey is Soldo's RSA public key for webhook signatures (Soldo's "Soldo public key"
	// page). Required.
	PublicKey *rsa.PublicKey
	// InternalToken is the internal token of the API credentials, for an order that names
	// "token".
	InternalToken client.Secret
	// MaxBodyBytes bounds the body; 0 means DefaultMaxWebhookBytes.
	MaxBodyBytes int64
}

func refuse(reason, format string, args ...any) error {
	return &WebhookError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Verify checks a webhook's headers against its body. A refusal is a *WebhookError.
func (v *WebhookVerifier) Verify(h http.Header, body []byte) (*Webhook, error) {
	if v == nil || v.PublicKey == nil {
		return nil, refuse(WebhookSignature, "the verifier has no Soldo public key: set WebhookVerifier.PublicKey (Soldo's webhooks are signed, and the fingerprint alone proves nothing)")
	}
	if int64(len(body)) > v.limit() {
		return nil, refuse(WebhookTooLarge, "the body is over %d bytes", v.limit())
	}
	order, err := webhookOrder(h.Get(HeaderFingerprintOrder))
	if err != nil {
		return nil, err
	}
	got := strings.TrimSpace(h.Get(HeaderFingerprint))
	if got == "" {
		return nil, refuse(WebhookNoFingerprint, "no %s header", HeaderFingerprint)
	}
	var msg struct {
		EventType string          `json:"event_type"`
		EventName string          `json:"event_name"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || !bytes.HasPrefix(bytes.TrimSpace(msg.Data), []byte("{")) {
		return nil, refuse(WebhookMalformed, `the body is not a JSON object with a "data" object`)
	}
	members, err := jsonMembers(msg.Data)
	if err != nil {
		return nil, refuse(WebhookMalformed, "the data object cannot be read")
	}
	vals := make([]string, len(order))
	for i, f := range order {
		if f == TokenField {
			if v.InternalToken == "" {
				return nil, refuse(WebhookNoOrder, "%s names %q and the verifier has no internal token: set WebhookVerifier.InternalToken", HeaderFingerprintOrder, TokenField)
			}
			vals[i] = string(v.InternalToken)
			continue
		}
		raw, ok := members[f]
		if !ok {
			raw, ok = members[snakeCase(f)]
		}
		if ok {
			if vals[i], err = scalar(f, raw); err != nil {
				return nil, refuse(WebhookNoOrder, "the field %q of the fingerprint order is an object or array", f)
			}
		}
	}
	want := Fingerprint(vals...)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) != 1 {
		return nil, refuse(WebhookFingerprint, "%s does not match the fields it names (a different internal token, or a body changed on the way)", HeaderFingerprint)
	}
	if err := verifySignature(v.PublicKey, h.Get(HeaderFingerprintSignature), want); err != nil {
		return nil, err
	}
	return &Webhook{EventType: msg.EventType, EventName: msg.EventName, Data: msg.Data, Order: order}, nil
}

func (v *WebhookVerifier) limit() int64 {
	if v.MaxBodyBytes > 0 {
		return v.MaxBodyBytes
	}
	return DefaultMaxWebhookBytes
}

// snakeCase is a camelCase name in snake_case: transactionSign -> transaction_sign.
func snakeCase(name string) string {
	var b strings.Builder
	for i, r := range name {
		if 'A' <= r && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// webhookOrder reads X-Soldo-Fingerprint-Order: field names separated by commas.
func webhookOrder(header string) ([]string, error) {
	if strings.TrimSpace(header) == "" {
		return nil, refuse(WebhookNoOrder, "no %s header", HeaderFingerprintOrder)
	}
	parts := strings.Split(header, ",")
	if len(parts) > maxOrderFields {
		return nil, refuse(WebhookNoOrder, "%s names %d fields, more than %d", HeaderFingerprintOrder, len(parts), maxOrderFields)
	}
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
		if parts[i] == "" {
			return nil, refuse(WebhookNoOrder, "%s has an empty field name", HeaderFingerprintOrder)
		}
	}
	return parts, nil
}

// verifySignature checks X-Soldo-Fingerprint-Signature over the fingerprint.
func verifySignature(pub *rsa.PublicKey, header, fingerprint string) error {
	if strings.TrimSpace(header) == "" {
		return refuse(WebhookNoSignature, "no %s header (a Soldo public key is configured)", HeaderFingerprintSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
	if err != nil {
		return refuse(WebhookSignature, "%s is not base64", HeaderFingerprintSignature)
	}
	sum := sha512.Sum512([]byte(fingerprint))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA512, sum[:], sig) != nil {
		return refuse(WebhookSignature, "%s does not verify with Soldo's public key", HeaderFingerprintSignature)
	}
	return nil
}

type webhookKey struct{}

// WebhookFrom returns the verified webhook Middleware put in the request's context.
func WebhookFrom(ctx context.Context) (*Webhook, bool) {
	w, ok := ctx.Value(webhookKey{}).(*Webhook)
	return w, ok
}

// Middleware verifies every request before next sees it: a refused one gets 401 with the
// reason (and, when onRefuse is set, the error is passed to it, e.g. to log it); an
// accepted one reaches next with its body intact and its Webhook in the context
// (WebhookFrom).
func (v *WebhookVerifier) Middleware(next http.Handler, onRefuse func(*http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, v.limit()+1))
		r.Body.Close()
		var hook *Webhook
		if err == nil {
			hook, err = v.Verify(r.Header, body)
		}
		if err != nil {
			if onRefuse != nil {
				onRefuse(r, err)
			}
			reason := "unreadable"
			var we *WebhookError
			if errors.As(err, &we) {
				reason = we.Reason
			}
			http.Error(w, "webhook refused: "+reason, http.StatusUnauthorized)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), webhookKey{}, hook))
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}
