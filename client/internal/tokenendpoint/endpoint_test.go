package tokenendpoint

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/internal/settings"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

// fastRetries keeps the retry waits short.
var fastRetries = client.ExchangeOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond}

func TestTokenEndpoint_RetryPolicy(t *testing.T) {
	t.Parallel()
	for status, wantAttempts := range map[int]int{500: 4, 502: 4, 503: 4, 429: 4, 501: 1, 400: 1, 401: 1, 404: 1} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				w.WriteHeader(status)
			}))
			defer srv.Close()
			te := New("Test", srv.URL, fastRetries, &settings.Settings{TokenClient: srv.Client()})
			_, _, err := te.Send(context.Background(), Request{JSON: map[string]any{}})
			var e *client.TokenEndpointError
			if !errors.As(err, &e) || e.Status != status || e.Attempts != wantAttempts || int(n.Load()) != wantAttempts {
				t.Errorf("%d: err %v, server saw %d", status, err, n.Load())
			}
		})
	}
}

func TestTokenEndpoint_UnreachableIsRetriedThenClear(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := strings.Replace(srv.URL, "http://", "http://svc:hunter2-pw@", 1)
	srv.Close()
	te := New("Test", url, fastRetries, &settings.Settings{})
	_, _, err := te.Send(context.Background(), Request{JSON: map[string]any{"token": "secret-jwt"}})
	if !errors.Is(err, client.ErrTokenExchange) || !strings.Contains(err.Error(), "after 4 attempt") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "secret-jwt") || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "svc:***@") {
		t.Fatalf("the error shows a secret or hides the user: %v", err)
	}
}

func TestTokenEndpoint_TotalTimeoutBoundsRetries(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	te := New("Test", srv.URL, client.ExchangeOptions{TotalTimeout: 200 * time.Millisecond, RetryWaitMin: 10 * time.Second, RetryWaitMax: 10 * time.Second}, &settings.Settings{TokenClient: srv.Client()})
	_, _, err := te.Send(context.Background(), Request{JSON: map[string]any{}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the total deadline", err)
	}
}

// An attempt that hangs is cut at AttemptTimeout and the next one answers, whatever HTTP
// client is used: without the per-attempt limit the first attempt would use up the whole
// TotalTimeout (a minute here) and the call would fail.
func TestTokenEndpoint_AttemptTimeoutCutsAHangingAttempt(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		w.Write([]byte(`{"access_token":"a","expires_in":60}`))
	}))
	defer srv.Close()
	defer close(hang)
	opts := client.ExchangeOptions{AttemptTimeout: 100 * time.Millisecond, TotalTimeout: time.Minute, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond}
	for name, hc := range map[string]*http.Client{"own client": nil, "caller's client without timeout": {Transport: srv.Client().Transport}} {
		n.Store(0)
		te := New("Test", srv.URL, opts, &settings.Settings{TokenClient: hc})
		status, body, err := te.Send(context.Background(), Request{Form: url.Values{"grant_type": {"client_credentials"}}})
		if err != nil || status != 200 || string(body) != `{"access_token":"a","expires_in":60}` || n.Load() != 2 {
			t.Fatalf("%s: %d %q %v after %d attempts", name, status, body, err, n.Load())
		}
	}
}

// The wait before a retry comes from the injected random source and clock.
func TestTokenEndpoint_BackoffIsJitteredExponentialWithinBounds(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for _, r := range []float64{0, 0.5, 0.999999} {
		te := New("Test", "https://token.example", client.ExchangeOptions{}, &settings.Settings{Clock: tokencachetest.NewFakeClock(now), Rand: func() float64 { return r }})
		min, max := 250*time.Millisecond, 5*time.Second
		for attempt := range 40 {
			ceiling := max
			if attempt < 30 && min<<attempt < max {
				ceiling = min << attempt
			}
			want := min + time.Duration(r*float64(ceiling-min))
			if d := te.backoff(min, max, attempt, nil); d != want || d < min || d > ceiling {
				t.Fatalf("rand %v attempt %d: %v, want %v within [%v, %v]", r, attempt, d, want, min, ceiling)
			}
		}
		resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"7"}}}
		if d := te.backoff(min, max, 1, resp); d != 7*time.Second {
			t.Fatalf("Retry-After: 7 gave %v", d)
		}
		resp.Header.Set("Retry-After", now.Add(3*time.Second).Format(http.TimeFormat))
		if d := te.backoff(min, max, 1, resp); d != 3*time.Second {
			t.Fatalf("Retry-After as a date gave %v", d)
		}
		resp.Header.Set("Retry-After", now.Add(-time.Hour).Format(http.TimeFormat))
		if d := te.backoff(min, max, 1, resp); d != 0 {
			t.Fatalf("Retry-After in the past gave %v", d)
		}
	}
}

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
		tok, err := te.Token(context.Background(), Request{JSON: map[string]any{}})
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
			_, err := New("Test", srv.URL, client.ExchangeOptions{}, &settings.Settings{TokenClient: srv.Client()}).Token(context.Background(), Request{JSON: map[string]any{}})
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
			_, _, err := te.Send(context.Background(), Request{JSON: map[string]any{}})
			var e *client.TokenEndpointError
			if !errors.As(err, &e) || e.Status != 503 || e.RetryAfter < time.Hour || n.Load() != 1 || !strings.Contains(err.Error(), "Retry-After") {
				t.Fatalf("err = %v after %d attempts", err, n.Load())
			}
		})
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
	_, _, err := away.Send(context.Background(), Request{JSON: map[string]any{"token": "signed-jwt"}})
	var e *client.TokenEndpointError
	if !errors.As(err, &e) || e.Status != http.StatusTemporaryRedirect || stolen.Load() != 0 {
		t.Fatalf("err %v, the other origin got %d requests", err, stolen.Load())
	}
	moved := New("Test", srv.URL+"/moved", fastRetries, &settings.Settings{TokenClient: http.DefaultClient})
	if _, err := moved.Token(context.Background(), Request{JSON: map[string]any{"token": "signed-jwt"}}); err != nil || same.Load() != 1 {
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
			_, _, perr := te.Send(context.Background(), Request{JSON: map[string]any{}})
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
	_, err := New("Test", srv.URL, client.ExchangeOptions{}, &settings.Settings{TokenClient: srv.Client()}).Token(context.Background(), Request{JSON: map[string]any{}})
	if !errors.Is(err, client.ErrTokenResponse) || !strings.Contains(err.Error(), `Content-Type "text/html; charset=utf-8"`) || !strings.Contains(err.Error(), "Please log in") || len(err.Error()) > 500 || strings.Contains(err.Error(), "eyJ") {
		t.Fatalf("err = %v", err)
	}
}

// Issue 31: a request sent Once (a refresh grant) whose answer may have been lost after the
// server acted on it (a 5xx, a connection closed once the request was read) is not sent
// again: a server that rotated the refresh token would take its second use for theft and
// revoke the consent. It is sent again only when it surely never reached the server: no
// connection could be made, or a 429.
func TestTokenEndpoint_AOnceRequestIsNotSentAgainAfterItMayHaveReachedTheServer(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		answer      func(w http.ResponseWriter)
		once, plain int // attempts the server sees with Once and without
	}{
		"500":                     {func(w http.ResponseWriter) { w.WriteHeader(500) }, 1, 4},
		"502":                     {func(w http.ResponseWriter) { w.WriteHeader(502) }, 1, 4},
		"504":                     {func(w http.ResponseWriter) { w.WriteHeader(504) }, 1, 4},
		"503 (not handled)":       {func(w http.ResponseWriter) { w.WriteHeader(503) }, 4, 4},
		"the answer lost mid-way": {hangUp, 1, 4},
		"429 (not processed)":     {func(w http.ResponseWriter) { w.WriteHeader(429) }, 4, 4},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, once := range []bool{true, false} {
				var n atomic.Int64
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.ReadAll(r.Body) // the server has the refresh token: it may rotate it now
					n.Add(1)
					c.answer(w)
				}))
				te := New("Test", srv.URL, fastRetries, &settings.Settings{TokenClient: srv.Client()})
				_, err := te.Token(context.Background(), Request{Form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-1"}}, Once: once})
				srv.Close()
				want := c.plain
				if once {
					want = c.once
				}
				if err == nil || int(n.Load()) != want {
					t.Errorf("Once=%v: the server saw %d attempts, want %d (%v)", once, n.Load(), want, err)
				}
			}
		})
	}
	// No connection at all: nothing reached a server, so sending again is safe.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var attempts int
	te := New("Test", "http://"+addr+"/token", fastRetries, &settings.Settings{})
	_, err = te.Token(context.Background(), Request{Form: url.Values{"grant_type": {"refresh_token"}}, Once: true})
	var target *client.TokenEndpointError
	if err == nil || errors.As(err, &target) {
		t.Fatalf("a closed port: %v", err)
	}
	if _, err := fmt.Sscanf(err.Error()[strings.Index(err.Error(), "after ")+len("after "):], "%d attempt", &attempts); err != nil || attempts != 4 {
		t.Fatalf("a closed port: %d attempts (%v), want 4: a connection refused is sent again", attempts, err)
	}
}

// hangUp closes the connection without an answer, as a proxy that dies after forwarding.
func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// A token request prints its parameters' names, never their values.
func TestRequest_PrintsNoValue(t *testing.T) {
	r := Request{Form: url.Values{"client_secret": {"s3cret-value"}, "refresh_token": {"rt-value"}}, Header: http.Header{"Authorization": {"Basic c2VjcmV0"}}}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "r", r)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s %q", r, r, r, r, r), logs.String()} {
		if strings.Contains(out, "s3cret") || strings.Contains(out, "rt-value") || strings.Contains(out, "c2VjcmV0") {
			t.Fatalf("a value shows: %s", out)
		}
	}
}
