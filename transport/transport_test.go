package transport_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/finauth/finauth/transport"
)

// countingBody counts Close calls.
type countingBody struct {
	io.Reader
	closes atomic.Int64
}

func (c *countingBody) Close() error { c.closes.Add(1); return nil }

// closingBase is a base transport that reads and closes the body it is given, as
// http.Transport does, answering status.
type closingBase struct{ status int }

func (b closingBase) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{StatusCode: b.status, Body: http.NoBody, Request: req}, nil
}

// Every path of both RoundTrippers closes the caller's body exactly once: errors before
// sending, bodies handed to the base transport, buffered copies, replays.
func TestRoundTrippers_CloseTheCallersBodyOnceOnEveryPath(t *testing.T) {
	t.Parallel()
	const api = "https://api.example.com/pay"
	origins := mustOrigins(t, api)
	keyErr := errors.New("no account")
	bearer := func(status int, max int64, key transport.KeyFunc) http.RoundTripper {
		return &transport.Bearer{Base: closingBase{status}, Tokens: &tokens{}, Origins: origins, MaxBodyBytes: max, Key: key}
	}
	signing := func(sign transport.SignFunc, max int64) http.RoundTripper {
		return &transport.Signing{Base: closingBase{200}, Sign: sign, Origins: origins, MaxBodyBytes: max}
	}
	okSign := func(*http.Request, io.Reader) (string, error) { return "Bearer sig", nil }
	for _, tc := range []struct {
		name    string
		rt      http.RoundTripper
		url     string
		getBody bool
		wantErr bool
	}{
		{"bearer: buffered, 200", bearer(200, 0, nil), api, false, false},
		{"bearer: GetBody, 200", bearer(200, 0, nil), api, true, false},
		{"bearer: buffered, 401 then replay", bearer(401, 0, nil), api, false, false},
		{"bearer: GetBody, 401 then replay", bearer(401, 0, nil), api, true, false},
		{"bearer: over the limit, streamed", bearer(401, 4, nil), api, false, false},
		{"bearer: foreign origin", bearer(200, 0, nil), "https://evil.example/x", false, true},
		{"bearer: key error", bearer(200, 0, func(*http.Request) (string, error) { return "", keyErr }), api, false, true},
		{"bearer: misconfigured", &transport.Bearer{Origins: origins}, api, false, true},
		{"signing: buffered", signing(okSign, 0), api, false, false},
		{"signing: GetBody", signing(okSign, 0), api, true, false},
		{"signing: over the limit", signing(okSign, 4), api, false, true},
		{"signing: sign error", signing(func(*http.Request, io.Reader) (string, error) { return "", keyErr }, 0), api, false, true},
		{"signing: foreign origin", signing(okSign, 0), "https://evil.example/x", false, true},
		{"signing: misconfigured", &transport.Signing{Origins: origins}, api, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingBody{Reader: strings.NewReader(`{"amount":"10.00"}`)}
			req, _ := http.NewRequest(http.MethodPost, tc.url, body)
			if tc.getBody {
				req.GetBody = func() (io.ReadCloser, error) {
					return io.NopCloser(bytes.NewReader([]byte(`{"amount":"10.00"}`))), nil
				}
				req.ContentLength = 18
			}
			resp, err := tc.rt.RoundTrip(req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if resp != nil {
				resp.Body.Close()
			}
			if n := body.closes.Load(); n != 1 {
				t.Fatalf("the caller's body was closed %d times", n)
			}
		})
	}
}

// A request without a URL is an error, as net/http makes it, not a panic.
func TestRoundTrippers_ARequestWithoutURLIsAnError(t *testing.T) {
	t.Parallel()
	origins := mustOrigins(t, "https://api.example.com")
	for name, rt := range map[string]http.RoundTripper{
		"bearer":      &transport.Bearer{Tokens: &tokens{}, Origins: origins},
		"signing":     &transport.Signing{Sign: func(*http.Request, io.Reader) (string, error) { return "x", nil }, Origins: origins},
		"idempotency": &transport.Idempotency{Base: &transport.Bearer{Tokens: &tokens{}, Origins: origins}},
	} {
		t.Run(name, func(t *testing.T) {
			body := &countingBody{Reader: strings.NewReader("x")}
			method := "GET"
			if name == "idempotency" {
				method = "POST" // the method it gives a key to
			}
			if _, err := rt.RoundTrip(&http.Request{Method: method, Body: body}); err == nil || body.closes.Load() != 1 {
				t.Fatalf("err %v, body closed %d times", err, body.closes.Load())
			}
		})
	}
}

func mustRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
