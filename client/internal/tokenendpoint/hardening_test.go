package tokenendpoint

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/internal/settings"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

// An expires_in too large for time.Duration (1e10 s wrapped round to 1759 before) is clamped
// to MaxTokenLifetime, logged once, and the token stays usable.
func TestTokenEndpoint_AbsurdLifetimesAreClampedAndLoggedOnce(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for _, body := range []string{
		`{"access_token":"a","expires_in":10000000000}`,
		`{"access_token":"a","expires_in":"1099511627776"}`,
		`{"access_token":"a","expires_in":9.3e9}`,
		`{"access_token":"a","expires_in":86401}`,
	} {
		t.Run(body, func(t *testing.T) {
			tok, err := ParseResponse("Test", []byte(body), now, 0)
			if err != nil || !tok.Expiry.Equal(now.Add(client.DefaultMaxTokenLifetime)) {
				t.Fatalf("expiry %v, err %v", tok.Expiry, err)
			}
		})
	}
	var logs bytes.Buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"access_token":"a","expires_in":10000000000}`))
	}))
	defer srv.Close()
	te := New("Test", srv.URL, client.ExchangeOptions{MaxTokenLifetime: 2 * time.Hour},
		&settings.Settings{TokenClient: srv.Client(), Clock: tokencachetest.NewFakeClock(now), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for range 3 {
		tok, err := te.Token(context.Background(), "application/json", nil)
		if err != nil || !tok.Expiry.Equal(now.Add(2*time.Hour)) {
			t.Fatalf("expiry %v, err %v", tok.Expiry, err)
		}
	}
	if n := strings.Count(logs.String(), "clamped"); n != 1 {
		t.Fatalf("logged %d times:\n%s", n, logs.String())
	}
}

// A token that cannot go in a header is refused at the exchange, with an error naming the
// endpoint, instead of being cached and failing every request inside net/http.
func TestTokenEndpoint_RefusesTokensThatCannotGoInAHeader(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"abc\r\nX-Injected: 1", "with space", "tab\there", "é", "nul\x00"} {
		t.Run(fmt.Sprintf("%q", bad), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"access_token":%q,"expires_in":60}`, bad)
			}))
			defer srv.Close()
			_, err := New("Test", srv.URL, client.ExchangeOptions{}, &settings.Settings{TokenClient: srv.Client()}).Token(context.Background(), "application/json", nil)
			if !errors.Is(err, client.ErrTokenResponse) || !strings.Contains(err.Error(), srv.URL) || strings.Contains(err.Error(), bad) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// A Retry-After longer than what is left of the exchange fails at once with the status and
// the Retry-After, instead of waiting out the total timeout into "context deadline exceeded".
func TestTokenEndpoint_ARetryAfterBeyondTheBudgetFailsAtOnceWithTheStatus(t *testing.T) {
	t.Parallel()
	for _, ra := range []string{"3600", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)} {
		t.Run(ra, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				w.Header().Set("Retry-After", ra)
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			defer srv.Close()
			te := New("Test", srv.URL, client.ExchangeOptions{TotalTimeout: time.Minute}, &settings.Settings{TokenClient: srv.Client()})
			_, _, err := te.Post(context.Background(), "application/json", nil)
			var e *client.TokenEndpointError
			if !errors.As(err, &e) || e.Status != 503 || e.RetryAfter < time.Hour || n.Load() != 1 || !strings.Contains(err.Error(), "Retry-After") {
				t.Fatalf("err = %v after %d attempts", err, n.Load())
			}
		})
	}
}

// Error bodies are bounded per field, lose their control characters, and tokens cut into
// pieces are still redacted.
func TestProviderMessage_BoundsStripsAndRedactsConservatively(t *testing.T) {
	t.Parallel()
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJlc2ln"
	chunks := []string{}
	for i := 0; i < len(jwt); i += 20 {
		chunks = append(chunks, jwt[i:min(i+20, len(jwt))])
	}
	body, _ := json.Marshal(map[string]string{
		"error":             strings.Repeat("E", 900_000),
		"error_description": "bad\r\nX-Injected: 1\x1b[31mred\x1b[0m token " + strings.Join(chunks, " ") + " invalid_client_assertion",
	})
	code, msg := providerMessage(body)
	if len(code) > maxErrorCode+3 || len(msg) > maxErrorMessage+3 {
		t.Fatalf("code %d bytes, message %d bytes", len(code), len(msg))
	}
	if strings.ContainsAny(msg, "\r\n\x1b") || strings.Contains(msg, "eyJ") || !strings.Contains(msg, "invalid_client_assertion") {
		t.Fatalf("%q", msg)
	}
	for _, c := range chunks[1:] {
		if len(c) >= 12 && strings.Contains(msg, c) {
			t.Fatalf("chunk %q of the JWT shows: %q", c, msg)
		}
	}
}

// The token endpoint's credential never follows a redirect to another origin, even with a
// caller's client that follows 307/308 (http.DefaultClient does).
func TestTokenEndpoint_DoesNotFollowRedirectsToAnotherOrigin(t *testing.T) {
	t.Parallel()
	var stolen atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		w.Write([]byte(`{"access_token":"a","expires_in":60}`))
	}))
	defer elsewhere.Close()
	var same atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, elsewhere.URL+"/token", http.StatusTemporaryRedirect)
		case "/moved":
			http.Redirect(w, r, "/token", http.StatusPermanentRedirect)
		default:
			same.Add(1)
			w.Write([]byte(`{"access_token":"a","expires_in":60}`))
		}
	}))
	defer srv.Close()
	away := New("Test", srv.URL+"/away", fastRetries, &settings.Settings{TokenClient: http.DefaultClient})
	_, _, err := away.Post(context.Background(), "application/json", []byte(`{"token":"signed-jwt"}`))
	var e *client.TokenEndpointError
	if !errors.As(err, &e) || e.Status != http.StatusTemporaryRedirect || stolen.Load() != 0 {
		t.Fatalf("err %v, the other origin got %d requests", err, stolen.Load())
	}
	moved := New("Test", srv.URL+"/moved", fastRetries, &settings.Settings{TokenClient: http.DefaultClient})
	if _, err := moved.Token(context.Background(), "application/json", []byte(`{"token":"signed-jwt"}`)); err != nil || same.Load() != 1 {
		t.Fatalf("a same-origin redirect: %v", err)
	}
}

// failingTransport fails every request with err.
type failingTransport struct {
	err   error
	calls atomic.Int64
}

func (f *failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	f.calls.Add(1)
	return nil, f.err
}

// A host that does not exist and a certificate nobody vouches for are not retried: one
// attempt, and an error saying which.
func TestTokenEndpoint_DNSAndTLSFailuresAreNotRetried(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"no such host":      &net.DNSError{Err: "no such host", Name: "auth.invalid", IsNotFound: true},
		"unknown authority": x509.UnknownAuthorityError{},
	} {
		t.Run(name, func(t *testing.T) {
			ft := &failingTransport{err: err}
			te := New("Test", "https://auth.invalid/token", fastRetries, &settings.Settings{TokenClient: &http.Client{Transport: ft}})
			_, _, perr := te.Post(context.Background(), "application/json", nil)
			if perr == nil || ft.calls.Load() != 1 || !strings.Contains(perr.Error(), "after 1 attempt") {
				t.Fatalf("%d attempts: %v", ft.calls.Load(), perr)
			}
		})
	}
}

// A 200 that is not JSON (a proxy's HTML page) is reported with its content type and a
// short, redacted snippet.
func TestTokenEndpoint_AnHTMLAnswerIsShownBriefly(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<html><body>Please log in to the corporate proxy "+strings.Repeat("x", 500)+" session eyJhbGciOiJIUzI1NiJ9.e30.abc</body></html>")
	}))
	defer srv.Close()
	_, err := New("Test", srv.URL, client.ExchangeOptions{}, &settings.Settings{TokenClient: srv.Client()}).Token(context.Background(), "application/json", nil)
	if !errors.Is(err, client.ErrTokenResponse) || !strings.Contains(err.Error(), `Content-Type "text/html; charset=utf-8"`) || !strings.Contains(err.Error(), "Please log in") || len(err.Error()) > 500 || strings.Contains(err.Error(), "eyJ") {
		t.Fatalf("err = %v", err)
	}
}
