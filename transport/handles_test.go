package transport_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// countingCache is a *tokencache.Cache (with its Handle method) that counts the Token calls
// made by key, which a handle skips.
type countingCache struct {
	*tokencache.Cache
	lookups atomic.Int64
}

func (c *countingCache) Token(ctx context.Context, key string) (tokencache.Token, error) {
	c.lookups.Add(1)
	return c.Cache.Token(ctx, key)
}

// Bearer holds handles for the first 8 keys and looks the others up in the cache: every
// request carries its own key's token either way, and a 401 on a handle's key is replayed
// with the token the handle then finds.
func TestBearer_HandlesForAFewKeysLookupForTheRest(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int64
	cache := &countingCache{Cache: tokencache.New(func(_ context.Context, key string) (tokencache.Token, error) {
		return tokencache.Token{Value: fmt.Sprintf("%s.%d", key, fetches.Add(1)), Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{})}
	t.Cleanup(func() { cache.Close() })

	var rejectOnce sync.Map // tokens to refuse once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, refuse := rejectOnce.LoadAndDelete(tok); refuse {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, tok)
	}))
	t.Cleanup(srv.Close)
	b := &transport.Bearer{Base: srv.Client().Transport, Tokens: cache, Origins: mustOrigins(t, srv.URL),
		Key: func(r *http.Request) (string, error) { return r.Header.Get("X-Key"), nil }}
	get := func(key string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("X-Key", key)
		resp, err := b.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), key+".") {
			t.Fatalf("key %s: %d %q", key, resp.StatusCode, body)
		}
		return string(body)
	}
	const keys, rounds = 12, 5
	for range rounds {
		for k := range keys {
			get(fmt.Sprint("k", k))
		}
	}
	// Keys 0-7 went through handles (no Token call); keys 8-11 through Token every time.
	if got, want := cache.lookups.Load(), int64((keys-8)*rounds); got != want {
		t.Fatalf("%d cache lookups, want %d (only the keys beyond the 8 handles)", got, want)
	}
	if got := fetches.Load(); got != keys {
		t.Fatalf("%d fetches for %d keys", got, keys)
	}

	// A 401 on a handle's key: invalidated, fetched again, replayed; the handle then serves
	// the new token.
	old := get("k0")
	rejectOnce.Store(old, true)
	renewed := get("k0")
	if renewed == old || b.Replays() != 1 {
		t.Fatalf("after a 401: %q (was %q), %d replays", renewed, old, b.Replays())
	}
	if again := get("k0"); again != renewed {
		t.Fatalf("the handle serves %q, the cache refreshed to %q", again, renewed)
	}
}

// Two processes share a store (here: two caches on one MemoryStore). Process A's refreshed
// token is rejected at once, so A holds back further refreshes (RefreshInterval); process B
// meanwhile fetched a newer token into the store. A's next 401 adopts B's token from the
// store (no token request of its own) and the request succeeds.
func TestBearer_HeldBackRefreshAdoptsATokenAnotherProcessStored(t *testing.T) {
	t.Parallel()
	store := tokencache.NewMemoryStore(nil, 0)
	var n atomic.Int64
	var aFetches atomic.Int64
	fetch := func(counter *atomic.Int64) tokencache.FetchFunc {
		return func(context.Context, string) (tokencache.Token, error) {
			counter.Add(1)
			return tokencache.Token{Value: fmt.Sprint("tok-", n.Add(1)), Expiry: time.Now().Add(time.Hour)}, nil
		}
	}
	a := tokencache.New(fetch(&aFetches), tokencache.Options{Store: store})
	b := tokencache.New(fetch(new(atomic.Int64)), tokencache.Options{Store: store})
	t.Cleanup(func() { a.Close(); b.Close() })

	var accepted sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := accepted.Load(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")); !ok {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	bearer := &transport.Bearer{Base: srv.Client().Transport, Tokens: a, Origins: mustOrigins(t, srv.URL)}
	status := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := bearer.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// A: tok-1 rejected, refreshed to tok-2, rejected too: the caller gets the 401.
	if got := status(); got != 401 || aFetches.Load() != 2 {
		t.Fatalf("first request: %d after %d fetches", got, aFetches.Load())
	}
	// B: sees tok-2 rejected too, and fetches tok-3 into the store; the API accepts it.
	if tok, err := b.Token(context.Background(), ""); err != nil || tok.Value != "tok-2" {
		t.Fatalf("B's first token: %q %v", tok.Value, err)
	}
	b.Invalidate("", "tok-2")
	if tok, err := b.Token(context.Background(), ""); err != nil || tok.Value != "tok-3" {
		t.Fatalf("B: %q %v", tok.Value, err)
	}
	accepted.Store("tok-3", true)
	// A: tok-2 rejected again; refreshing is held back, but the store has tok-3.
	if got := status(); got != 200 {
		t.Fatalf("second request: %d (suppressed: %d)", got, a.Stats().SuppressedRefreshes)
	}
	if aFetches.Load() != 2 {
		t.Fatalf("A fetched again (%d fetches) instead of adopting the stored token", aFetches.Load())
	}
	if tok, _ := a.Token(context.Background(), ""); tok.Value != "tok-3" {
		t.Fatalf("A's cache serves %q", tok.Value)
	}
}
