package transport_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/finauth/finauth/transport"
)

// roundTripFunc is an http.RoundTripper from a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Bounded hands the transport below a replayable body (GetBody, ContentLength) and refuses
// one over the bound, having closed it, before the transport below sees anything.
func TestBounded_ReplayableWithinTheBoundRefusedBeyond(t *testing.T) {
	t.Parallel()
	var sent []string
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		for range 2 { // a retrying transport reads it twice
			body, _ := r.GetBody()
			b, _ := io.ReadAll(body)
			body.Close()
			sent = append(sent, string(b))
		}
		r.Body.Close()
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	b := &transport.Bounded{Base: base, MaxBodyBytes: 8}
	small := &countingBody{Reader: strings.NewReader("12345678")}
	req, _ := http.NewRequest(http.MethodPost, "https://api.example.com/x", small)
	if _, err := b.RoundTrip(req); err != nil || len(sent) != 2 || sent[0] != "12345678" || sent[1] != sent[0] || small.closes.Load() != 1 {
		t.Fatalf("%v %q, closed %d", err, sent, small.closes.Load())
	}
	big := &countingBody{Reader: strings.NewReader("123456789")}
	req, _ = http.NewRequest(http.MethodPost, "https://api.example.com/x", big)
	_, err := b.RoundTrip(req)
	var tooLarge *transport.BodyTooLargeError
	if !errors.As(err, &tooLarge) || len(sent) != 2 || big.closes.Load() != 1 {
		t.Fatalf("%v, sent %q, closed %d", err, sent, big.closes.Load())
	}
}
