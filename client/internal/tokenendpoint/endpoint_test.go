package tokenendpoint

import (
	"context"
	"errors"
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
			_, _, err := te.Post(context.Background(), "application/json", []byte(`{}`))
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
	_, _, err := te.Post(context.Background(), "application/json", []byte(`{"token":"secret-jwt"}`))
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
	_, _, err := te.Post(context.Background(), "application/json", []byte(`{}`))
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
		status, body, err := te.Post(context.Background(), "application/x-www-form-urlencoded", []byte("grant_type=client_credentials"))
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
