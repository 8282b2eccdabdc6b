package transport_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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
	"github.com/finauth/finauth/tokencache/tokencachetest"
	"github.com/finauth/finauth/transport"
)

// tokens is a TokenSource handing out tok-1, tok-2, ... and counting what it is asked.
type tokens struct {
	mu          sync.Mutex
	n           int
	current     map[string]string
	invalidated []string
	fail        error
}

func (s *tokens) Token(_ context.Context, key string) (tokencache.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return tokencache.Token{}, s.fail
	}
	if s.current == nil {
		s.current = map[string]string{}
	}
	if v, ok := s.current[key]; ok {
		return tokencache.Token{Value: v}, nil
	}
	s.n++
	v := fmt.Sprintf("tok-%d", s.n)
	s.current[key] = v
	return tokencache.Token{Value: v}, nil
}

func (s *tokens) Invalidate(key, rejected string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated = append(s.invalidated, rejected)
	if s.current[key] == rejected {
		delete(s.current, key)
		return true
	}
	return false
}

// Rejected is the simplest policy: drop the token and fetch once; a replay's rejection, or
// a request that cannot be sent again, goes back to the caller. (tokencache.Cache's rules
// are tested in tokencache; the tests below that need them use a Cache.)
func (s *tokens) Rejected(ctx context.Context, key, value string, attempt tokencache.Attempt) (tokencache.Token, bool, error) {
	s.Invalidate(key, value)
	if attempt != tokencache.FirstTry {
		return tokencache.Token{}, false, nil
	}
	tok, err := s.Token(ctx, key)
	return tok, err == nil, err
}

func (s *tokens) Accepted(key, value string) {}

// counted is a Cache on clock (nil: the real one) whose fetches hand out tok-1, tok-2, ...,
// each valid for an hour, counted in fetches.
func counted(t *testing.T, clock tokencache.Clock, o tokencache.Options) (*tokencache.Cache, *atomic.Int64) {
	t.Helper()
	var fetches atomic.Int64
	o.Clock = clock
	c := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: fmt.Sprintf("tok-%d", fetches.Add(1)), Expiry: time.Now().Add(time.Hour)}, nil
	}, o)
	t.Cleanup(func() { c.Close() })
	return c, &fetches
}

// api is a loopback server that accepts only the listed tokens and records what it saw.
type api struct {
	*httptest.Server
	mu       sync.Mutex
	accept   map[string]bool
	reject   atomic.Int64 // answer 401 to this many more requests regardless
	seen     []seen
	handlers map[string]http.HandlerFunc
}

type seen struct {
	auth, method, path, bodySHA string
}

func newAPI(t *testing.T, accept ...string) *api {
	a := &api{accept: map[string]bool{}, handlers: map[string]http.HandlerFunc{}}
	for _, v := range accept {
		a.accept[v] = true
	}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		a.mu.Lock()
		a.seen = append(a.seen, seen{r.Header.Get("Authorization"), r.Method, r.URL.Path, hex.EncodeToString(sum[:])})
		ok := a.accept[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		h := a.handlers[r.URL.Path]
		a.mu.Unlock()
		if h != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			h(w, r)
			return
		}
		if a.reject.Add(-1) >= 0 || !ok {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid token"}`)
			return
		}
		a.reject.Store(0)
		fmt.Fprintf(w, "%s %s %x", r.Method, r.URL.Path, sum)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *api) requests() []seen {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]seen(nil), a.seen...)
}

func mustOrigins(t *testing.T, urls ...string) *transport.Origins {
	t.Helper()
	o, err := transport.NewOrigins(urls, false)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// closeTracker records whether the transport closed the request body.
type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }

func TestBearer_401RefreshesOnceAndReplaysTheSameBytes(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"amount": 10.00, "note": "same bytes"}`)
	bodies := map[string]func() (io.Reader, func() (io.ReadCloser, error)){
		"bytes with GetBody": func() (io.Reader, func() (io.ReadCloser, error)) { return bytes.NewReader(payload), nil },
		"stream without GetBody": func() (io.Reader, func() (io.ReadCloser, error)) {
			return io.MultiReader(bytes.NewReader(payload[:5]), bytes.NewReader(payload[5:])), nil
		},
		"nil body":     func() (io.Reader, func() (io.ReadCloser, error)) { return nil, nil },
		"http.NoBody":  func() (io.Reader, func() (io.ReadCloser, error)) { return http.NoBody, nil },
		"empty reader": func() (io.Reader, func() (io.ReadCloser, error)) { return strings.NewReader(""), nil },
	}
	for name, mk := range bodies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newAPI(t, "tok-2") // tok-1 is rejected
			src := &tokens{}
			rt := &transport.Bearer{Tokens: src, Origins: mustOrigins(t, srv.URL)}
			r, _ := mk()
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/pay", r)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Caller", "kept")
			if name == "stream without GetBody" {
				req.GetBody = nil
			}
			resp, err := (&http.Client{Transport: rt}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			want := payload
			if name != "bytes with GetBody" && name != "stream without GetBody" {
				want = nil
			}
			got := srv.requests()
			if len(got) != 2 || got[0].auth != "Bearer tok-1" || got[1].auth != "Bearer tok-2" {
				t.Fatalf("requests %+v", got)
			}
			if got[0].bodySHA != sha(want) || got[1].bodySHA != sha(want) {
				t.Fatal("the replay did not carry the same body bytes")
			}
			if len(src.invalidated) != 1 || src.invalidated[0] != "tok-1" || rt.Replays() != 1 {
				t.Fatalf("invalidated %v, replays %d", src.invalidated, rt.Replays())
			}
			if req.Header.Get("Authorization") != "" || req.Header.Get("X-Caller") != "kept" || len(req.Header) != 1 {
				t.Fatalf("the caller's request was changed: %v", req.Header)
			}
		})
	}
}

func TestBearer_Second401GoesBackIntact(t *testing.T) {
	t.Parallel()
	srv := newAPI(t) // accepts nothing
	src := &tokens{}
	rt := &transport.Bearer{Tokens: src, Origins: mustOrigins(t, srv.URL)}
	resp, err := (&http.Client{Transport: rt}).Post(srv.URL+"/x", "text/plain", strings.NewReader("b"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || string(body) != `{"error":"invalid token"}` {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if n := len(srv.requests()); n != 2 {
		t.Fatalf("%d requests, want the first and one replay", n)
	}
}

func TestBearer_403AndOthersAreReturnedAsTheyAre(t *testing.T) {
	t.Parallel()
	srv := newAPI(t, "tok-1")
	srv.handlers["/forbidden"] = func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no permission", http.StatusForbidden) }
	src := &tokens{}
	rt := &transport.Bearer{Tokens: src, Origins: mustOrigins(t, srv.URL)}
	resp, err := (&http.Client{Transport: rt}).Get(srv.URL + "/forbidden")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || len(src.invalidated) != 0 || len(srv.requests()) != 1 {
		t.Fatalf("403 must not refresh: status %d, invalidated %v", resp.StatusCode, src.invalidated)
	}
}

func TestBearer_BodyOverTheLimitIsStreamedNotReplayed(t *testing.T) {
	t.Parallel()
	srv := newAPI(t) // 401 always
	rt := &transport.Bearer{Tokens: &tokens{}, Origins: mustOrigins(t, srv.URL), MaxBodyBytes: 10}
	big := bytes.Repeat([]byte("z"), 100)
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/big", io.NopCloser(bytes.NewReader(big)))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := srv.requests()
	if resp.StatusCode != 401 || len(got) != 1 || got[0].bodySHA != sha(big) {
		t.Fatalf("status %d, %d requests", resp.StatusCode, len(got))
	}
}

func TestBearer_RefusesOtherOriginsAndClosesTheBody(t *testing.T) {
	t.Parallel()
	srv := newAPI(t, "tok-1")
	other := newAPI(t)
	rt := &transport.Bearer{Tokens: &tokens{}, Origins: mustOrigins(t, srv.URL)}
	body := &closeTracker{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, other.URL+"/steal", body)
	_, err := rt.RoundTrip(req)
	var oe *transport.OriginError
	if !errors.As(err, &oe) || !errors.Is(err, transport.ErrOriginNotAllowed) {
		t.Fatalf("err = %v", err)
	}
	if !body.closed.Load() || len(other.requests()) != 0 {
		t.Fatal("body not closed or request sent")
	}
}

func TestBearer_TokenErrorIsTypedAndClosesTheBody(t *testing.T) {
	t.Parallel()
	srv := newAPI(t)
	boom := errors.New("token endpoint says no")
	rt := &transport.Bearer{Tokens: &tokens{fail: boom}, Origins: mustOrigins(t, srv.URL)}
	body := &closeTracker{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/x", body)
	_, err := rt.RoundTrip(req)
	if !errors.Is(err, transport.ErrToken) || !errors.Is(err, boom) || !body.closed.Load() {
		t.Fatalf("err = %v, closed %v", err, body.closed.Load())
	}
}

func TestBearer_Redirects(t *testing.T) {
	t.Parallel()
	other := newAPI(t)
	srv := newAPI(t, "tok-1")
	srv.handlers["/same"] = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/landing", http.StatusTemporaryRedirect)
	}
	srv.handlers["/away"] = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/elsewhere", http.StatusPermanentRedirect)
	}
	rt := &transport.Bearer{Tokens: &tokens{}, Origins: mustOrigins(t, srv.URL)}
	c := &http.Client{Transport: rt}
	payload := []byte("redirected body")

	resp, err := c.Post(srv.URL+"/same", "text/plain", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := srv.requests()
	last := got[len(got)-1]
	if resp.StatusCode != 200 || last.path != "/landing" || last.auth != "Bearer tok-1" || last.bodySHA != sha(payload) {
		t.Fatalf("same-origin 307: status %d, %+v", resp.StatusCode, last)
	}

	resp, err = c.Post(srv.URL+"/away", "text/plain", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	og := other.requests()
	if len(og) != 1 || og[0].auth != "" || og[0].bodySHA != sha(payload) {
		t.Fatalf("cross-origin 308 carried %+v", og)
	}
}

func TestBearer_UnderRetryableHTTP(t *testing.T) {
	t.Parallel()
	srv := newAPI(t, "tok-1")
	var calls atomic.Int64
	srv.handlers["/flaky"] = func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s|%s", r.Header.Get("Authorization"), b)
	}
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.RetryWaitMin, rc.RetryWaitMax = time.Millisecond, time.Millisecond
	rc.HTTPClient.Transport = &transport.Bearer{Tokens: &tokens{}, Origins: mustOrigins(t, srv.URL)}
	resp, err := rc.Post(srv.URL+"/flaky", "text/plain", []byte("again"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "Bearer tok-1|again" || calls.Load() != 2 {
		t.Fatalf("%q after %d calls", b, calls.Load())
	}
}

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
	clock := tokencachetest.NewFakeClock(time.Now())
	cache, fetches := counted(t, clock, tokencache.Options{})
	rt := &transport.Bearer{Tokens: cache, Origins: mustOrigins(t, srv.URL)}
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
	suppressed := cache.Stats().SuppressedRefreshes
	if fetches.Load() != 2 || len(srv.requests()) != 101 || suppressed != 99 || rt.Replays() != 1 {
		t.Fatalf("%d tokens, %d API hits, %d suppressed, %d replays", fetches.Load(), len(srv.requests()), suppressed, rt.Replays())
	}
	clock.Advance(tokencache.DefaultRejectionInterval)
	get()
	if fetches.Load() != 3 || len(srv.requests()) != 103 {
		t.Fatalf("after the interval: %d tokens, %d API hits", fetches.Load(), len(srv.requests()))
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
	cache, fetches := counted(t, nil, tokencache.Options{})
	rt := &transport.Bearer{Tokens: cache, Origins: mustOrigins(t, srv.URL)}
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
	if ok.Load() != n || fetches.Load() != 2 || cache.Stats().SuppressedRefreshes != 0 {
		t.Fatalf("%d of %d answered 200, %d tokens, %d suppressed", ok.Load(), n, fetches.Load(), cache.Stats().SuppressedRefreshes)
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
	cache, fetches := counted(t, tokencachetest.NewFakeClock(time.Now()), tokencache.Options{}) // the clock never moves
	rt := &transport.Bearer{Base: srv.Client().Transport, Tokens: cache, Origins: mustOrigins(t, srv.URL)}
	for i := range 30 {
		resp, err := rt.RoundTrip(mustRequest(t, http.MethodGet, srv.URL+"/x", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d after %d tokens", i, resp.StatusCode, fetches.Load())
		}
	}
	if fetches.Load() != 10 || cache.Stats().SuppressedRefreshes != 0 {
		t.Fatalf("%d tokens (want 10: one per 3 uses), %d suppressed", fetches.Load(), cache.Stats().SuppressedRefreshes)
	}
}

// Replicas sharing a store, in front of an API that rejects every token: each still costs at
// most two token requests per refresh interval beside its cold one (the first 401's, and
// one for an adopted token rejected without word), however many 401s they see; their
// held-back 401s wait at most FleetWait and come back as they came.
func TestBearer_AnAPIRejectingEveryTokenCostsEachReplicaOneRefreshWithAStore(t *testing.T) {
	t.Parallel()
	srv := newAPI(t) // accepts nothing
	store := tokencache.NewMemoryStore(nil, 0)
	var fetches atomic.Int64
	fetch := func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: fmt.Sprintf("tok-%d", fetches.Add(1)), Expiry: time.Now().Add(time.Hour)}, nil
	}
	const replicas, requests = 3, 40
	var wg sync.WaitGroup
	for range replicas {
		cache := tokencache.New(fetch, tokencache.Options{Store: store, FleetWait: 30 * time.Millisecond})
		t.Cleanup(func() { cache.Close() })
		rt := &transport.Bearer{Tokens: cache, Origins: mustOrigins(t, srv.URL)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range requests {
				resp, err := rt.RoundTrip(mustRequest(t, http.MethodGet, srv.URL+"/x", nil))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	// Each replica: its first token, one refresh of its own rejected token, and one more
	// when that refresh adopted another replica's token, rejected without word (Bearer's
	// documented bound). Seen: 4 in most runs, up to 7 in 3 of 300; a storm would be 120.
	if n := fetches.Load(); n > 3*replicas {
		t.Fatalf("%d token requests for %d replicas in one interval, want at most %d", n, replicas, 3*replicas)
	}
	t.Logf("%d token requests, %d API calls", fetches.Load(), len(srv.requests()))
}

// downStore is a shared store that stops answering when down is set (Redis's breaker open).
type downStore struct {
	*tokencache.MemoryStore
	down atomic.Bool
}

var errDown = errors.New("store down")

func (s *downStore) Load(ctx context.Context, key string) (tokencache.Token, bool, error) {
	if s.down.Load() {
		return tokencache.Token{}, false, errDown
	}
	return s.MemoryStore.Load(ctx, key)
}

func (s *downStore) Save(ctx context.Context, key string, tok tokencache.Token) error {
	if s.down.Load() {
		return errDown
	}
	return s.MemoryStore.Save(ctx, key, tok)
}

func (s *downStore) Delete(ctx context.Context, key, rejected string) error {
	if s.down.Load() {
		return errDown
	}
	return s.MemoryStore.Delete(ctx, key, rejected)
}

func (s *downStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	if s.down.Load() {
		return nil, false, errDown
	}
	return s.MemoryStore.Lock(ctx, key, ttl)
}

func (s *downStore) Await(ctx context.Context, key string) error {
	if s.down.Load() {
		return errDown
	}
	return s.MemoryStore.Await(ctx, key)
}

// After a Redis failover the promoted replica can hold a token that was revoked before the
// failover, without the marker saying it had worked (replication is asynchronous). A
// replica that adopts it after a 401 and sees it rejected refreshes it (through the fleet
// lock) instead of waiting for another process: every replica waited on the others and
// returned the 401s before (TestCLI_RedisFailsOverUnderTraffic, 4 replicas x 4 requests).
func TestBearer_AnAdoptedTokenRejectedWithoutWordIsRefreshed(t *testing.T) {
	t.Parallel()
	srv := newAPI(t, "own-2")
	store := tokencache.NewMemoryStore(nil, 0)
	var fetches atomic.Int64
	fetch := func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: fmt.Sprintf("own-%d", fetches.Add(1)), Expiry: time.Now().Add(time.Hour)}, nil
	}
	cache := tokencache.New(fetch, tokencache.Options{Store: store, FleetWait: 50 * time.Millisecond})
	defer cache.Close()
	if _, err := cache.Token(context.Background(), ""); err != nil { // own-1, cached
		t.Fatal(err)
	}
	// The resurrected token: expires later than own-1, so the refresh adopts it.
	store.Save(context.Background(), "", tokencache.Token{Value: "stale", Expiry: time.Now().Add(2 * time.Hour)})
	rt := &transport.Bearer{Tokens: cache, Origins: mustOrigins(t, srv.URL)}
	resp, err := rt.RoundTrip(mustRequest(t, http.MethodGet, srv.URL+"/x", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var auths []string
	for _, s := range srv.requests() {
		auths = append(auths, s.auth)
	}
	if resp.StatusCode != 200 || fetches.Load() != 2 {
		t.Fatalf("status %d after %v, %d fetches: want own-1 and stale rejected, then own-2", resp.StatusCode, auths, fetches.Load())
	}
}

// A replica whose shared store stops answering (Redis's breaker open) and whose token is
// rejected at its first use here (it was shared, and used up by the others, before the
// store went) refreshes it once per interval instead of returning every request's 401 until
// the store is back: one replica returned 480 in a few milliseconds before.
func TestBearer_AStoreThatDoesNotAnswerDoesNotHoldTheRefreshBack(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	revoked := map[string]bool{"Bearer own-1": true, "Bearer own-2": true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if revoked[r.Header.Get("Authorization")] {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	store := &downStore{MemoryStore: tokencache.NewMemoryStore(nil, 0)}
	var fetches atomic.Int64
	fetch := func(context.Context, string) (tokencache.Token, error) {
		n := fetches.Add(1)
		if n == 2 {
			store.down.Store(true) // own-2 was shared, then used up by the others, then Redis went
		}
		return tokencache.Token{Value: fmt.Sprintf("own-%d", n), Expiry: time.Now().Add(time.Hour)}, nil
	}
	cache := tokencache.New(fetch, tokencache.Options{Store: store, FleetWait: 50 * time.Millisecond})
	defer cache.Close()
	rt := &transport.Bearer{Base: srv.Client().Transport, Tokens: cache, Origins: mustOrigins(t, srv.URL)}
	for i := range 5 {
		resp, err := rt.RoundTrip(mustRequest(t, http.MethodGet, srv.URL+"/x", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d after %d fetches", i, resp.StatusCode, fetches.Load())
		}
	}
	if n := fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3 (own-1 and own-2 rejected, own-3 works)", n)
	}
}
