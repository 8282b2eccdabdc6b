package transport_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/transport"
)

// A stream over MaxBodyBytes cannot be replayed, so its 401 goes back to the caller; the
// token must still be invalidated, or upload-only traffic would carry the revoked token
// until it expires.
func TestBearer_401OfABodyThatCannotBeReplayedStillInvalidates(t *testing.T) {
	t.Parallel()
	srv := newAPI(t, "tok-2") // tok-1 is revoked
	src := &tokens{}
	rt := &transport.Bearer{Tokens: src, Origins: mustOrigins(t, srv.URL), MaxBodyBytes: 10}
	var statuses []int
	for range 5 {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/upload", io.NopCloser(bytes.NewReader(bytes.Repeat([]byte("u"), 100))))
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	if want := []int{401, 200, 200, 200, 200}; !equalInts(statuses, want) || src.n != 2 {
		t.Fatalf("statuses %v (want %v), %d tokens fetched", statuses, want, src.n)
	}
}

// An API that rejects every token costs one refresh per key per RefreshInterval, not one
// exchange per request; the 401s come back meanwhile and are counted.
func TestBearer_AnAPIRejectingEveryTokenCostsOneRefreshPerInterval(t *testing.T) {
	t.Parallel()
	srv := newAPI(t) // accepts nothing
	src := &tokens{}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rt := &transport.Bearer{Tokens: src, Origins: mustOrigins(t, srv.URL), Now: clock}
	get := func() int {
		resp, err := rt.RoundTrip(mustRequest(t, http.MethodGet, srv.URL+"/x", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 100 {
		if get() != 401 {
			t.Fatal("the 401 must reach the caller")
		}
	}
	if src.n != 2 || len(srv.requests()) != 101 || rt.SuppressedRefreshes() != 99 || rt.Replays() != 1 {
		t.Fatalf("%d tokens, %d API hits, %d suppressed, %d replays", src.n, len(srv.requests()), rt.SuppressedRefreshes(), rt.Replays())
	}
	mu.Lock()
	now = now.Add(transport.DefaultRefreshInterval)
	mu.Unlock()
	get()
	if src.n != 3 || len(srv.requests()) != 103 {
		t.Fatalf("after the interval: %d tokens, %d API hits", src.n, len(srv.requests()))
	}
}

// A revocation seen by many requests at once still refreshes at once, once, and every one
// of them is replayed with the new token: the limit applies only to a token that a
// 401-triggered refresh fetched.
func TestBearer_AStormOf401sOnARevokedTokenIsReplayedNotSuppressed(t *testing.T) {
	t.Parallel()
	const n = 20
	srv := newAPI(t, "tok-2")
	var arrived atomic.Int64
	all := make(chan struct{})
	srv.handlers["/storm"] = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			if arrived.Add(1) == n {
				close(all)
			}
			<-all // every request carries the revoked token before any 401 is seen
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
	src := &tokens{}
	rt := &transport.Bearer{Tokens: src, Origins: mustOrigins(t, srv.URL)}
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := rt.RoundTrip(mustRequest(t, http.MethodPost, srv.URL+"/storm", strings.NewReader("b")))
			if err == nil {
				if resp.StatusCode == 200 {
					ok.Add(1)
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if ok.Load() != n || src.n != 2 || rt.SuppressedRefreshes() != 0 {
		t.Fatalf("%d of %d answered 200, %d tokens, %d suppressed", ok.Load(), n, src.n, rt.SuppressedRefreshes())
	}
}

// A 401 whose body never arrives must not hold the caller: the drain gives up, the
// connection is dropped and the request is replayed.
func TestBearer_A401WhoseBodyStallsDoesNotHangTheCaller(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte("0123456789"))
			w.(http.Flusher).Flush()
			select { // the other 990 bytes never come
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	rt := &transport.Bearer{Base: srv.Client().Transport, Tokens: &tokens{}, Origins: mustOrigins(t, srv.URL), DrainTimeout: 50 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/pay", strings.NewReader(`{"amount":1}`))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("the caller got %v instead of the replay's answer", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" || rt.Replays() != 1 {
		t.Fatalf("%d %q, %d replays", resp.StatusCode, body, rt.Replays())
	}
}

// A request without a URL is an error, as net/http makes it, not a panic.
func TestRoundTrippers_ARequestWithoutURLIsAnError(t *testing.T) {
	t.Parallel()
	origins := mustOrigins(t, "https://api.example.com")
	for name, rt := range map[string]http.RoundTripper{
		"bearer":  &transport.Bearer{Tokens: &tokens{}, Origins: origins},
		"signing": &transport.Signing{Sign: func(*http.Request, io.Reader) (string, error) { return "x", nil }, Origins: origins},
	} {
		t.Run(name, func(t *testing.T) {
			body := &countingBody{Reader: strings.NewReader("x")}
			if _, err := rt.RoundTrip(&http.Request{Method: "GET", Body: body}); err == nil || body.closes.Load() != 1 {
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

// A token that worked and is then revoked is refreshed at once, however soon after the
// previous 401-triggered refresh: only a token rejected without ever working waits for the
// interval. (A server revoking every third use: every request ends 200.)
func TestBearer_ARevokedTokenThatWorkedIsRefreshedAtOnce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	uses := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tok := r.Header.Get("Authorization")
		if uses[tok]++; uses[tok] > 3 { // revoked at its fourth use
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	src := &tokens{}
	rt := &transport.Bearer{Base: srv.Client().Transport, Tokens: src, Origins: mustOrigins(t, srv.URL), Now: func() time.Time { return now }}
	for i := range 30 {
		resp, err := rt.RoundTrip(mustRequest(t, http.MethodGet, srv.URL+"/x", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d after %d tokens", i, resp.StatusCode, src.n)
		}
	}
	if src.n != 10 || rt.SuppressedRefreshes() != 0 {
		t.Fatalf("%d tokens (want 10: one per 3 uses), %d suppressed", src.n, rt.SuppressedRefreshes())
	}
}
