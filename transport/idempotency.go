package transport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"weak"
)

// DefaultIdempotencyHeader is Open Banking's idempotency header.
const DefaultIdempotencyHeader = "X-Idempotency-Key"

// Idempotency is an http.RoundTripper that gives each logical request it applies to (POST by
// default) an idempotency key, so that a server which saw it before answers with what it
// made then instead of making it again (a consent, a payment). One logical request keeps one
// key across everything that sends it again:
//
//   - transports below (Bearer's 401 replay, a retrying transport such as
//     go-retryablehttp's RoundTripper, net/http's own retries) send the request Idempotency
//     passed on, key included;
//   - a redirect that http.Client follows takes the key of the request it answers;
//   - the same request sent again through this transport (a retry loop above it, after a
//     timeout or an error) gets the same key, remembered for as long as the request is
//     reachable, whatever the http.Client does to it on the way: a client with a Timeout,
//     or a URL with userinfo, hands the transport a new copy of the request on every Do, so
//     a request is known by its URL (the *url.URL), which every such copy shares, as do the
//     copies Request.WithContext makes. Give every logical request its own URL
//     (http.NewRequest and Request.Clone do); two that share one *url.URL are one to this
//     transport, and the second is not made.
//
// A key the caller set (the header under any case, or [WithIdempotencyKey] on the context)
// is kept, and sent once under the canonical name. The caller's request is never changed.
// Safe for concurrent use.
type Idempotency struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Header is the key's header; "" means DefaultIdempotencyHeader.
	Header string
	// Applies picks the requests that need a key; nil means POST.
	Applies func(*http.Request) bool
	// NewKey makes a key; nil means 32 random hexadecimal characters (Open Banking allows
	// at most 40).
	NewKey func() string

	memo keyMemo
}

type idempotencyKey struct{}

// WithIdempotencyKey makes key the idempotency key of the requests made with ctx: use it
// when your own retries make new *http.Request values for one logical operation.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, key)
}

// NewIdempotencyKey returns 32 random hexadecimal characters.
func NewIdempotencyKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RoundTrip implements http.RoundTripper.
func (t *Idempotency) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	header := t.Header
	if header == "" {
		header = DefaultIdempotencyHeader
	}
	applies := req.Method == http.MethodPost
	if t.Applies != nil {
		applies = t.Applies(req)
	}
	if !applies || req.URL == nil {
		return base.RoundTrip(req) // no URL: the base says what is wrong
	}
	canonical := http.CanonicalHeaderKey(header)
	key, name := callersKey(req.Header, canonical)
	if name == canonical {
		return base.RoundTrip(req) // the caller's key, as it should go
	}
	out := copyRequest(req)
	if name != "" {
		delete(out.Header, name) // sent once, under the canonical name
	} else {
		key = t.keyFor(req, header)
	}
	out.Header[canonical] = []string{key}
	return base.RoundTrip(out)
}

// callersKey finds a key the caller set under the header's name in any case, and the name
// it is under ("" when there is none).
func callersKey(h http.Header, canonical string) (key, name string) {
	if v := h[canonical]; len(v) > 0 && v[0] != "" {
		return v[0], canonical
	}
	for k, v := range h {
		if len(v) > 0 && v[0] != "" && strings.EqualFold(k, canonical) {
			return v[0], k
		}
	}
	return "", ""
}

// keyFor finds the logical request's key: the context's, the redirected request's, the one
// this request got before, or a new one.
func (t *Idempotency) keyFor(req *http.Request, header string) string {
	if k, ok := req.Context().Value(idempotencyKey{}).(string); ok && k != "" {
		return k
	}
	if req.Response != nil && req.Response.Request != nil {
		if k := req.Response.Request.Header.Get(header); k != "" {
			return k
		}
	}
	return t.memo.get(req, func() string {
		if t.NewKey != nil {
			return t.NewKey()
		}
		return NewIdempotencyKey()
	})
}

// keyMemo remembers the key of each request, known by its URL, while the URL is reachable:
// an entry is removed when its URL is garbage collected.
type keyMemo struct {
	mu sync.Mutex
	m  map[weak.Pointer[url.URL]]string
}

func (k *keyMemo) get(req *http.Request, make func() string) string {
	wp := weak.Make(req.URL)
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.m[wp]; ok {
		return key
	}
	if k.m == nil {
		k.m = map[weak.Pointer[url.URL]]string{}
	}
	key := make()
	k.m[wp] = key
	runtime.AddCleanup(req.URL, k.forget, wp)
	return key
}

func (k *keyMemo) forget(wp weak.Pointer[url.URL]) {
	k.mu.Lock()
	delete(k.m, wp)
	k.mu.Unlock()
}

func (k *keyMemo) size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}
