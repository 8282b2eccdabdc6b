package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/finauth/finauth/tokencache"
)

// TokenSource is what Bearer needs from a token cache; *tokencache.Cache is one. When the
// source also has the method Handle(key string) *tokencache.Handle (as *tokencache.Cache
// does), Bearer holds a handle for each of the first maxHandles keys it sees, so that a
// request with one of them skips the cache's key lookup.
type TokenSource interface {
	Token(ctx context.Context, key string) (tokencache.Token, error)
	Invalidate(key, rejected string) bool
}

// fleetSource is a TokenSource whose tokens other processes share (a cache on a shared
// store): Reload adopts another process's replacement without fetching, AwaitNewer waits for
// one, and Confirm tells the others that a token worked.
type fleetSource interface {
	Reload(ctx context.Context, key, rejected string) (tokencache.Token, bool)
	AwaitNewer(ctx context.Context, key, rejected string, wait time.Duration) tokencache.NewerResult
	Confirm(key, value string)
	Adopted(key, value string) bool
	Shared() bool
}

// handleSource is a TokenSource that hands out handles.
type handleSource interface {
	Handle(key string) *tokencache.Handle
}

// maxHandles is how many keys' handles a Bearer keeps: most services use one key (the
// tenant's) or a handful; a service with thousands of accounts uses the cache's lookup for
// the rest.
const maxHandles = 8

// KeyFunc picks the cache key of a request (a tenant token, an account's token, ...).
type KeyFunc func(req *http.Request) (string, error)

// DefaultKey is the default KeyFunc: every request uses the key "", one token for the whole
// transport.
func DefaultKey(*http.Request) (string, error) { return "", nil }

// IsAuthFailureFunc tells whether a response rejected the token.
type IsAuthFailureFunc func(resp *http.Response) bool

// IsAuthFailure is the default: 401 Unauthorized. A 403 means the token was accepted but
// lacks a permission; a new token would not help.
func IsAuthFailure(resp *http.Response) bool { return resp.StatusCode == http.StatusUnauthorized }

// ErrToken is wrapped by the error Bearer returns when it cannot get a token.
var ErrToken = errors.New("finauth: transport: cannot get a token")

// drainLimit bounds how much of a rejected response body is read so that its connection
// can be reused.
const drainLimit = 64 << 10

// DefaultDrainTimeout bounds how long Bearer waits for a rejected response's body (up to
// 64 KiB) before it closes it, giving up that connection, and replays.
const DefaultDrainTimeout = 2 * time.Second

// DefaultRefreshInterval is the default Bearer.RefreshInterval.
const DefaultRefreshInterval = 10 * time.Second

// DefaultFleetWait is the default Bearer.FleetWait.
const DefaultFleetWait = time.Second

// Bearer is an http.RoundTripper that sends each request with "Authorization: Bearer
// <token>", the token coming from Tokens under the key Key picks. When the server answers
// 401, Bearer drains and closes that response (at most 64 KiB, for at most DrainTimeout),
// invalidates the token (only if it is still the cached one, so many concurrent 401s cost
// one refresh), gets a new one and sends the request once more with the same body bytes; a
// second 401 goes back to the caller as it came. A request whose body cannot be sent again
// (a stream over MaxBodyBytes) gets its 401 back, and its token is still invalidated so
// that the next request carries a new one.
//
// An API that rejects every token must not cost an exchange per request: after a
// 401-triggered refresh of a key, a 401 of the token that refresh fetched is returned to the
// caller as it is, without invalidating, until RefreshInterval has passed (counted in
// SuppressedRefreshes). The 401s of the older token, which the refresh replaced, are still
// replayed with the new one at once.
//
// With tokens shared by several processes (a cache on a tokencache/redisstore Store), the
// decision takes the fleet into account: a token adopted from the store may have been
// revoked before this process used it, while it worked for another. Every process tells the
// others which token worked (tokencache.Cache.Confirm, once per token); a 401 of a token that
// worked anywhere is a revocation and refreshes (one fetch for the fleet, through its lock),
// and a 401 held back waits up to FleetWait for the token another process is fetching and is
// replayed with it. An API that rejects every token still costs each process at most two
// token requests per RefreshInterval: one for its own rejected token, and one more when
// that refresh adopted another process's token that is rejected too with no word that it
// worked (which might otherwise leave every process waiting on a token none refreshes).
//
// A replay's 401 of another token that worked (revoked between the refresh and the replay,
// as a server that revokes tokens after so many uses does; with a shared store, any other
// token) is handled the same way again, up to five replays in all.
//
// Requests to origins outside Origins are refused; redirects there carry nothing. Fields
// must not change after first use; Bearer is safe for concurrent use.
type Bearer struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Tokens supplies and invalidates tokens. Required.
	Tokens TokenSource
	// Origins that receive the token. Required.
	Origins *Origins
	// Key picks the cache key for a request; nil means DefaultKey.
	Key KeyFunc
	// IsAuthFailure decides which responses mean "token rejected"; nil means IsAuthFailure.
	IsAuthFailure IsAuthFailureFunc
	// MaxBodyBytes bounds the buffering of bodies without GetBody for the replay;
	// 0 means DefaultMaxBodyBytes. A larger body is sent streaming and not replayed.
	MaxBodyBytes int64
	// DrainTimeout bounds the wait for a rejected response's body before the replay;
	// 0 means DefaultDrainTimeout.
	DrainTimeout time.Duration
	// RefreshInterval is the least time between two 401-triggered refreshes of one key
	// whose tokens are rejected at once; 0 means DefaultRefreshInterval, negative no limit.
	RefreshInterval time.Duration
	// FleetWait bounds how long a request whose refresh is held back waits for a token
	// another process is fetching, when Tokens shares them (see above); 0 means
	// DefaultFleetWait, negative not at all.
	FleetWait time.Duration
	// Now is the clock of RefreshInterval; nil means time.Now.
	Now func() time.Time

	replays    atomic.Uint64
	suppressed atomic.Uint64
	header     atomic.Pointer[authHeader]
	refreshes  refreshLimiter

	handles  atomic.Pointer[[]*tokencache.Handle] // copied on write, at most maxHandles
	handleMu sync.Mutex                           // serializes additions to handles
}

// authHeader caches the formatted header value of the last token, so that the common
// case allocates neither the string nor its slice.
type authHeader struct {
	token string
	value []string
}

// Replays returns how many requests were sent again after a 401.
func (b *Bearer) Replays() uint64 { return b.replays.Load() }

// SuppressedRefreshes returns how many 401s were returned without a refresh because the
// key's token had been refreshed after a 401 less than RefreshInterval before.
func (b *Bearer) SuppressedRefreshes() uint64 { return b.suppressed.Load() }

// RoundTrip implements http.RoundTripper.
func (b *Bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	body := bodyCloser{req: req}
	defer body.close()
	base, credentials, err := begin(b.Base, b.Origins, b.Tokens != nil, "Bearer needs Tokens and Origins", req)
	if err != nil {
		return nil, err
	}
	if !credentials {
		body.handOver()
		return base.RoundTrip(req)
	}
	keyFunc := b.Key
	if keyFunc == nil {
		keyFunc = DefaultKey
	}
	key, err := keyFunc(req)
	if err != nil {
		return nil, err
	}
	tok, h, err := b.token(req.Context(), key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrToken, err)
	}
	first, again, sp, err := captureBody(req, bodyLimit(b.MaxBodyBytes))
	if err != nil {
		return nil, err
	}
	if sp != nil {
		defer sp.done()
	}
	out := b.authorize(req, tok.Value)
	out.Body = first
	if again.ok && req.GetBody == nil {
		out.GetBody, out.ContentLength = again.getBody, again.size
	}
	if !again.copied {
		body.handOver()
	}
	resp, err := base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	failed := b.IsAuthFailure
	if failed == nil {
		failed = IsAuthFailure
	}
	if !failed(resp) {
		b.refreshes.accepted(key, tok.Value)
		if h != nil {
			h.Confirm(tok.Value)
		} else if fs, ok := b.Tokens.(fleetSource); ok {
			fs.Confirm(key, tok.Value)
		}
		return resp, nil
	}
	return b.rejected(req, key, tok, again, base, resp, failed)
}

// token returns key's token through a handle when there is one (or room for one; the
// handle is returned too), else from Tokens.
func (b *Bearer) token(ctx context.Context, key string) (tokencache.Token, *tokencache.Handle, error) {
	if hs := b.handles.Load(); hs != nil {
		for _, h := range *hs {
			if h.Key() == key {
				tok, err := h.Token(ctx)
				return tok, h, err
			}
		}
	}
	if src, ok := b.Tokens.(handleSource); ok {
		if h := b.addHandle(src, key); h != nil {
			tok, err := h.Token(ctx)
			return tok, h, err
		}
	}
	tok, err := b.Tokens.Token(ctx, key)
	return tok, nil, err
}

// addHandle makes and keeps key's handle, unless maxHandles are kept already (nil then).
func (b *Bearer) addHandle(src handleSource, key string) *tokencache.Handle {
	b.handleMu.Lock()
	defer b.handleMu.Unlock()
	var hs []*tokencache.Handle
	if p := b.handles.Load(); p != nil {
		hs = *p
	}
	for _, h := range hs {
		if h.Key() == key { // added by a concurrent request
			return h
		}
	}
	if len(hs) >= maxHandles {
		return nil
	}
	h := src.Handle(key)
	if h == nil {
		return nil
	}
	next := append(hs[:len(hs):len(hs)], h)
	b.handles.Store(&next)
	return h
}

// maxReplays bounds the replays of one request: each after a 401 of another token, revoked
// in the meantime (or, with a shared store, adopted already revoked).
const maxReplays = 5

// rejected handles a 401 of tok: invalidate and replay with a new token, replay with a token
// another request (or process) already got, or return the 401 (not replayable, or refreshed
// too recently). A replay's 401 of another token that worked (revoked in the meantime; with
// a shared store, any other token) is handled the same way again, up to maxReplays; any
// other goes back to the caller.
func (b *Bearer) rejected(req *http.Request, key string, tok tokencache.Token, again replayableBody, base http.RoundTripper, resp *http.Response, failed IsAuthFailureFunc) (*http.Response, error) {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	interval := b.RefreshInterval
	if interval == 0 {
		interval = DefaultRefreshInterval
	}
	if !again.ok { // the body is gone: the caller gets the 401, the next request a new token
		if b.refreshes.allow(key, tok.Value, now(), interval) {
			b.Tokens.Invalidate(key, tok.Value)
		} else {
			b.suppressed.Add(1)
			b.reload(req.Context(), key, tok.Value)
		}
		return resp, nil
	}
	fs, fleet := b.Tokens.(fleetSource)
	fleet = fleet && fs.Shared()
	for replay := 1; ; replay++ {
		var fresh tokencache.Token
		refresh := b.refreshes.allow(key, tok.Value, now(), interval)
		if !refresh && fleet && fs.Adopted(key, tok.Value) && b.refreshes.blind(key, now(), interval) {
			// Another process's token, rejected here, with no word that it worked: waiting
			// for the others could have every process wait on a token none refreshes (its
			// "worked" marker lost in a Redis failover). Refreshed, once per interval (the
			// budget it shares with a store that does not answer), and the fleet lock makes
			// that one exchange for the fleet.
			refresh = true
			b.refreshes.record(key, tok.Value, now())
		}
		if !refresh {
			// This key was refreshed after a 401 moments ago. Replay only if another request
			// (or, with a shared store, another process) has a newer token already, or brings
			// one within FleetWait; refresh only if the token worked for another process
			// (a revocation); never exchange again for a token rejected at once.
			var err error
			if fresh, err = b.Tokens.Token(req.Context(), key); err != nil || fresh.Value == tok.Value {
				n := b.awaitNewer(req.Context(), fs, fleet, key, tok.Value)
				switch {
				case n.OK && n.Token.Value != tok.Value:
					fresh = n.Token
				case n.Worked:
					refresh = true
					b.refreshes.record(key, tok.Value, now())
				case n.Unknown && b.refreshes.blind(key, now(), interval):
					// The shared store does not answer, so no process can say whether the
					// token worked (it may have been shared, and used up, before the store
					// went): refreshed once per interval, as a process alone would be
					// after its first refresh, instead of every request failing until the
					// store is back.
					refresh = true
					b.refreshes.record(key, tok.Value, now())

				default:
					b.suppressed.Add(1)
					return resp, nil
				}
			}
		}
		drain(resp.Body, b.DrainTimeout)
		if refresh {
			// Twice at most: a fetch already in flight as the 401 came may bring back the
			// very token rejected (read from a shared store that still held it); it is
			// invalidated in turn and the next fetch is the refresh.
			for try := 0; try < 2 && (try == 0 || fresh.Value == tok.Value); try++ {
				b.Tokens.Invalidate(key, tok.Value)
				var err error
				if fresh, err = b.Tokens.Token(req.Context(), key); err != nil {
					return nil, fmt.Errorf("%w after a 401: %w", ErrToken, err)
				}
			}
		}
		replayBody, err := again.getBody()
		if err != nil {
			return nil, fmt.Errorf("finauth: transport: getting the request body again: %w", err)
		}
		retry := b.authorize(req, fresh.Value)
		retry.Body = replayBody
		retry.GetBody, retry.ContentLength = again.getBody, again.size
		b.replays.Add(1)
		resp, err = base.RoundTrip(retry)
		if err != nil {
			return nil, err
		}
		if !failed(resp) {
			b.refreshes.accepted(key, fresh.Value)
			if fleet {
				fs.Confirm(key, fresh.Value)
			}
			return resp, nil
		}
		if replay >= maxReplays || fresh.Value == tok.Value ||
			!fleet && !b.refreshes.wouldAllow(key, fresh.Value, now(), interval) {
			return resp, nil
		}
		tok = fresh
	}
}

// awaitNewer waits up to FleetWait for a token another process fetches after rejected
// (or learns that rejected had worked elsewhere), for a source shared by several processes.
func (b *Bearer) awaitNewer(ctx context.Context, fs fleetSource, fleet bool, key, rejected string) tokencache.NewerResult {
	if !fleet {
		return tokencache.NewerResult{}
	}
	wait := b.FleetWait
	if wait == 0 {
		wait = DefaultFleetWait
	}
	if wait < 0 {
		tok, ok := b.reload(ctx, key, rejected)
		return tokencache.NewerResult{Token: tok, OK: ok}
	}
	return fs.AwaitNewer(ctx, key, rejected, wait)
}

// reload asks a shared-store cache for a token another process fetched after tok was
// rejected.
func (b *Bearer) reload(ctx context.Context, key, rejected string) (tokencache.Token, bool) {
	if r, ok := b.Tokens.(fleetSource); ok {
		if t, ok := r.Reload(ctx, key, rejected); ok && t.Value != rejected {
			return t, true
		}
	}
	return tokencache.Token{}, false
}

// drain reads what is left of a rejected response's body, at most drainLimit bytes for at
// most timeout, so that its connection can be reused, and closes it. A body that does not
// arrive in time is closed unread: its connection is dropped instead of blocking the
// caller.
func drain(body io.ReadCloser, timeout time.Duration) {
	if timeout <= 0 {
		timeout = DefaultDrainTimeout
	}
	stop := time.AfterFunc(timeout, func() { body.Close() })
	io.CopyN(io.Discard, body, drainLimit)
	stop.Stop()
	body.Close()
}

// refreshLimiter remembers, per key, the last 401-triggered refresh: when, which token the
// 401 rejected, and whether a newer token has been accepted since.
type refreshLimiter struct {
	mu     sync.Mutex
	last   sync.Map // key -> *refreshed
	active atomic.Int64
}

type refreshed struct {
	at       time.Time
	blindAt  time.Time // the last refresh granted without the fleet's word (adopted, or the store silent)
	rejected string
	accepted atomic.Bool // a request with a newer token succeeded since
}

// maxRemembered bounds the keys a limiter remembers; past it, refreshes older than the
// interval are forgotten.
const maxRemembered = 4096

// allow reports whether a 401 of token for key may refresh it: yes when no 401 refreshed
// the key within interval, when token is the one whose rejection did (the same storm of
// 401s shares that refresh), or when a newer token was accepted since (a genuine revocation
// of a token that worked); the refresh is then remembered. No only for a token rejected
// without ever having worked, within interval of the last refresh.
func (l *refreshLimiter) allow(key, token string, now time.Time, interval time.Duration) bool {
	if interval < 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if v, ok := l.last.Load(key); ok {
		r := v.(*refreshed)
		if now.Sub(r.at) < interval && !r.accepted.Load() {
			return r.rejected == token
		}
		if r.rejected == token {
			return true
		}
	}
	if l.active.Load() >= maxRemembered {
		l.last.Range(func(k, v any) bool {
			if now.Sub(v.(*refreshed).at) >= interval {
				l.last.Delete(k)
				l.active.Add(-1)
			}
			return true
		})
	}
	if _, loaded := l.last.Swap(key, &refreshed{at: now, rejected: token}); !loaded {
		l.active.Add(1)
	}
	return true
}

// wouldAllow is allow without remembering anything.
func (l *refreshLimiter) wouldAllow(key, token string, now time.Time, interval time.Duration) bool {
	if interval < 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.last.Load(key)
	if !ok {
		return true
	}
	r := v.(*refreshed)
	return now.Sub(r.at) >= interval || r.accepted.Load() || r.rejected == token
}

// record notes a refresh of key after a 401 of token that allow did not grant (the token had
// worked for another process): the 401s of the same token share it.
func (l *refreshLimiter) record(key, token string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &refreshed{at: now, rejected: token}
	if v, ok := l.last.Load(key); ok {
		r.blindAt = v.(*refreshed).blindAt
	}
	if _, loaded := l.last.Swap(key, r); !loaded {
		l.active.Add(1)
	}
}

// blind reports whether key may be refreshed without the fleet's word that its rejected
// token worked (another process's token, or a shared store that does not answer): once
// per interval, remembered across records.
func (l *refreshLimiter) blind(key string, now time.Time, interval time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.last.Load(key)
	if !ok {
		return true
	}
	r := v.(*refreshed)
	if !r.blindAt.IsZero() && now.Sub(r.blindAt) < interval {
		return false
	}
	r.blindAt = now
	return true
}

// accepted notes that token worked for key: a 401 of it later is a genuine revocation.
// Nearly free while no key has seen a 401.
func (l *refreshLimiter) accepted(key, token string) {
	if l.active.Load() == 0 {
		return
	}
	if v, ok := l.last.Load(key); ok {
		if r := v.(*refreshed); r.rejected != token && !r.accepted.Load() {
			r.accepted.Store(true)
		}
	}
}

// authorize returns a copy of req (copyRequest) whose Authorization carries the token.
func (b *Bearer) authorize(req *http.Request, token string) *http.Request {
	out := copyRequest(req)
	ah := b.header.Load()
	if ah == nil || ah.token != token {
		ah = &authHeader{token: token, value: []string{"Bearer " + token}}
		b.header.Store(ah)
	}
	out.Header["Authorization"] = ah.value
	return out
}
