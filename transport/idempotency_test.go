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

	"github.com/hashicorp/go-retryablehttp"

	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// keyServer records the idempotency key of every request by path.
type keyServer struct {
	*httptest.Server
	mu   sync.Mutex
	keys map[string][]string
}

func newKeyServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int) bool) *keyServer {
	s := &keyServer{keys: map[string][]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.keys[r.URL.Path] = append(s.keys[r.URL.Path], r.Header.Get("X-Idempotency-Key"))
		n := len(s.keys[r.URL.Path])
		s.mu.Unlock()
		if h == nil || !h(w, r, n) {
			w.WriteHeader(http.StatusCreated)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *keyServer) seen(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys[path]...)
}

func post(t *testing.T, rt http.RoundTripper, req *http.Request) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func TestIdempotency_OneKeyPerLogicalRequest(t *testing.T) {
	t.Parallel()
	srv := newKeyServer(t, nil)
	rt := &transport.Idempotency{Base: srv.Client().Transport}
	newPost := func(ctx context.Context) *http.Request {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/consents", strings.NewReader(`{}`))
		return req
	}
	first := newPost(context.Background())
	post(t, rt, first)
	first.Body, _ = first.GetBody()
	post(t, rt, first) // the same request sent again (a retry loop above): the same key
	post(t, rt, newPost(context.Background()))
	mine := newPost(context.Background())
	mine.Header.Set("x-idempotency-key", "callers-own")
	post(t, rt, mine)
	post(t, rt, newPost(transport.WithIdempotencyKey(context.Background(), "from-context")))
	get, _ := http.NewRequest(http.MethodGet, srv.URL+"/consents", nil)
	post(t, rt, get)
	k := srv.seen("/consents")
	if len(k) != 6 || k[0] == "" || len(k[0]) > 40 || k[1] != k[0] || k[2] == k[0] || k[2] == "" || k[3] != "callers-own" || k[4] != "from-context" || k[5] != "" {
		t.Fatalf("keys %q", k)
	}
	if first.Header.Get("X-Idempotency-Key") != "" {
		t.Fatal("the caller's request was changed")
	}
}

// Everything below Idempotency that sends a request again keeps its key: http.Client's
// redirect, Bearer's 401 replay, go-retryablehttp's retry after a 503.
func TestIdempotency_KeptAcrossRedirectsReplaysAndRetries(t *testing.T) {
	t.Parallel()
	t.Run("redirect", func(t *testing.T) {
		t.Parallel()
		srv := newKeyServer(t, func(w http.ResponseWriter, r *http.Request, _ int) bool {
			if r.URL.Path == "/a" {
				http.Redirect(w, r, "/b", http.StatusTemporaryRedirect)
				return true
			}
			return false
		})
		hc := &http.Client{Transport: &transport.Idempotency{Base: srv.Client().Transport}}
		resp, err := hc.Post(srv.URL+"/a", "application/json", bytes.NewReader([]byte(`{"amount":"1.00"}`)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if a, b := srv.seen("/a"), srv.seen("/b"); len(a) != 1 || len(b) != 1 || a[0] == "" || a[0] != b[0] {
			t.Fatalf("redirect: %q then %q", a, b)
		}
	})
	t.Run("401 replay", func(t *testing.T) {
		t.Parallel()
		srv := newKeyServer(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
			if n == 1 {
				w.WriteHeader(http.StatusUnauthorized)
				return true
			}
			return false
		})
		var n atomic.Int64
		cache := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
			return tokencache.Token{Value: "tok-" + string(rune('0'+n.Add(1))), Expiry: time.Now().Add(time.Hour)}, nil
		}, tokencache.Options{})
		t.Cleanup(func() { cache.Close() })
		bearer := &transport.Bearer{Base: srv.Client().Transport, Tokens: cache, Origins: mustOrigins(t, srv.URL)}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/payments", strings.NewReader(`{}`))
		post(t, &transport.Idempotency{Base: bearer}, req)
		if k := srv.seen("/payments"); len(k) != 2 || k[0] == "" || k[0] != k[1] || bearer.Replays() != 1 {
			t.Fatalf("replay: %q, %d replays", k, bearer.Replays())
		}
	})
	t.Run("retry after 503", func(t *testing.T) {
		t.Parallel()
		srv := newKeyServer(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
			if n < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		rc := retryablehttp.NewClient()
		rc.Logger = nil
		rc.RetryWaitMin, rc.RetryWaitMax = time.Millisecond, 5*time.Millisecond
		rc.HTTPClient.Transport = srv.Client().Transport
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/payments", strings.NewReader(`{}`))
		post(t, &transport.Idempotency{Base: &retryablehttp.RoundTripper{Client: rc}}, req)
		if k := srv.seen("/payments"); len(k) != 3 || k[0] == "" || k[0] != k[1] || k[1] != k[2] {
			t.Fatalf("retries: %q", k)
		}
	})
}

// The same request sent again through an http.Client keeps its key whatever the client's
// settings: a Timeout (net/http sends a copy of the request on every Do when a deadline is
// set), userinfo in the URL (a copy with its own header), redirects and a CheckRedirect of
// the caller's. The case that pays twice: a POST that timed out (the server may have made
// the payment) retried with the same request.
func TestIdempotency_TheSameRequestKeepsItsKeyWhateverTheClient(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newKeyServer(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch {
		case r.URL.Path == "/slow" && n == 1:
			<-release // the first attempt outlives the client's Timeout
		case strings.HasPrefix(r.URL.Path, "/redirect"):
			http.Redirect(w, r, "/landed"+r.URL.Path, http.StatusTemporaryRedirect)
			return true
		}
		return false
	})
	t.Cleanup(func() { close(release) })
	u := srv.URL
	withUser := strings.Replace(u, "http://", "http://svc:pw@", 1)
	for _, c := range []struct {
		name, url string
		hc        *http.Client
	}{
		{"timeout, retried after it expired", u + "/slow", &http.Client{Timeout: 300 * time.Millisecond}},
		{"timeout", u + "/timeout", &http.Client{Timeout: 5 * time.Second}},
		{"userinfo", withUser + "/userinfo", &http.Client{}},
		{"userinfo and timeout", withUser + "/both", &http.Client{Timeout: 5 * time.Second}},
		{"redirect, CheckRedirect and timeout", u + "/redirect/x", &http.Client{Timeout: 5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.hc.Transport = &transport.Idempotency{Base: srv.Client().Transport}
			req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader(`{"amount":"100.00"}`))
			for range 2 {
				if resp, err := c.hc.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				req.Body, _ = req.GetBody()
			}
			path := req.URL.Path
			k := srv.seen(path)
			if strings.HasPrefix(path, "/redirect") {
				k = append(k, srv.seen("/landed"+path)...)
			}
			if len(k) < 2 || k[0] == "" {
				t.Fatalf("keys %q", k)
			}
			for _, key := range k {
				if key != k[0] {
					t.Fatalf("one request went out under several keys: %q", k)
				}
			}
		})
	}
}

// A key the caller set under a header name that is not canonical is found, and sent once,
// canonical: never two keys.
func TestIdempotency_ACallersKeyUnderAnyCaseIsSentOnce(t *testing.T) {
	t.Parallel()
	var got atomic.Pointer[http.Header]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		got.Store(&h)
	}))
	t.Cleanup(srv.Close)
	rt := &transport.Idempotency{Base: srv.Client().Transport}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/payments", strings.NewReader(`{}`))
	name := strings.ToLower(transport.DefaultIdempotencyHeader) // not canonical, on purpose
	req.Header[name] = []string{"callers-own"}
	post(t, rt, req)
	h := *got.Load()
	if v := h.Values("X-Idempotency-Key"); len(v) != 1 || v[0] != "callers-own" {
		t.Fatalf("sent %q", v)
	}
	if len(req.Header) != 1 || req.Header[name][0] != "callers-own" {
		t.Fatalf("the caller's request was changed: %v", req.Header)
	}
}
