package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/finauth/finauth/tokencache"
)

// TokenSource is what Bearer needs from a token cache; *tokencache.Cache is one. Bearer is
// the policy (send, and on a rejection ask once, then replay or return); what a rejected
// token means (drop it, fetch, wait for another process's, or hold the 401 back) is the
// source's to decide (tokencache.Cache.Rejected). When the source also has the method
// Handle(key string) *tokencache.Handle (as *tokencache.Cache does), Bearer holds a handle
// for each of the first maxHandles keys it sees, so that a request with one of them skips the
// cache's key lookup.
type TokenSource interface {
	// Token returns key's token.
	Token(ctx context.Context, key string) (tokencache.Token, error)
	// Rejected is told that the server refused value, key's token, for a request of attempt,
	// and answers with the token to send it again with, or ok false to return the refusal.
	Rejected(ctx context.Context, key, value string, attempt tokencache.Attempt) (tok tokencache.Token, ok bool, err error)
	// Accepted is told that value, key's token, served a request the server accepted.
	Accepted(key, value string)
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

// Bearer is an http.RoundTripper that sends each request with "Authorization: Bearer
// <token>", the token coming from Tokens under the key Key picks. When the server answers
// 401, Bearer asks Tokens what the rejection means (TokenSource.Rejected: a cache drops the
// token only if it is still the cached one, so many concurrent 401s cost one refresh, and
// holds back the refresh of a token rejected without ever having worked, which an API that
// rejects every token would otherwise turn into a token request per request): it then
// drains and closes that response (at most 64 KiB, for at most DrainTimeout) and sends the
// request once more with the same body bytes and the token it was given, or returns the
// 401 as it came. A request whose body cannot be sent again (a stream over MaxBodyBytes)
// gets its 401 back, and Tokens is told so that the next request carries a new token. A
// replay's 401 of another token is asked about again, up to five replays in all (a
// server revoking tokens after so many uses, or another process's token adopted already
// revoked). Each token a request served and the server accepted is reported
// (TokenSource.Accepted): a later 401 of it is a revocation.
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
	// Header are headers every request to Origins carries beside the token, replacing the
	// caller's (a credential that goes with the token, such as Soldo Business's
	// X-Soldo-Internal-Token: like the token, never sent elsewhere). Keys in canonical form.
	Header http.Header

	replays atomic.Uint64
	header  atomic.Pointer[authHeader]

	handles  atomic.Pointer[[]*tokencache.Handle] // copied on write, at most maxHandles
	handleMu sync.Mutex                           // serializes additions to handles
}

// authHeader caches the formatted header value of the last token, so that the common
// case allocates neither the string nor its slice.
type authHeader struct {
	token, typ string
	value      []string
}

// Replays returns how many requests were sent again after a 401.
func (b *Bearer) Replays() uint64 { return b.replays.Load() }

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
	out := b.authorize(req, tok)
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
		if h != nil {
			h.Accepted(tok.Value)
		} else {
			b.Tokens.Accepted(key, tok.Value)
		}
		return resp, nil
	}
	return b.rejected(req, key, tok.Value, again, base, resp, failed)
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

// rejected handles a 401 of value: Tokens says with which token to send the request again,
// or to return the 401. A replay's 401 of another token is asked about in turn, up to
// maxReplays; the 401 of the same token again goes back to the caller.
func (b *Bearer) rejected(req *http.Request, key, value string, again replayableBody, base http.RoundTripper, resp *http.Response, failed IsAuthFailureFunc) (*http.Response, error) {
	attempt := tokencache.FirstTry
	if !again.ok { // the body is gone: the caller gets the 401, the next request a new token
		attempt = tokencache.Final
	}
	for replay := 1; ; replay++ {
		fresh, ok, err := b.Tokens.Rejected(req.Context(), key, value, attempt)
		if err != nil {
			drain(resp.Body, b.DrainTimeout)
			return nil, fmt.Errorf("%w after a 401: %w", ErrToken, err)
		}
		if !ok {
			return resp, nil
		}
		drain(resp.Body, b.DrainTimeout)
		replayBody, err := again.getBody()
		if err != nil {
			return nil, fmt.Errorf("finauth: transport: getting the request body again: %w", err)
		}
		retry := b.authorize(req, fresh)
		retry.Body = replayBody
		retry.GetBody, retry.ContentLength = again.getBody, again.size
		b.replays.Add(1)
		if resp, err = base.RoundTrip(retry); err != nil {
			return nil, err
		}
		if !failed(resp) {
			b.Tokens.Accepted(key, fresh.Value)
			return resp, nil
		}
		if replay >= maxReplays || fresh.Value == value {
			return resp, nil
		}
		value, attempt = fresh.Value, tokencache.Replay
	}
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

// authorize returns a copy of req (copyRequest) whose Authorization carries the token:
// "DPoP <token>" for a token of that type (RFC 9449 section 7.1, sent with a proof by the
// transport below), "Bearer <token>" for any other.
func (b *Bearer) authorize(req *http.Request, tok tokencache.Token) *http.Request {
	out := copyRequest(req)
	ah := b.header.Load()
	if ah == nil || ah.token != tok.Value || ah.typ != tok.Type {
		scheme := "Bearer "
		if strings.EqualFold(tok.Type, "DPoP") {
			scheme = "DPoP "
		}
		ah = &authHeader{token: tok.Value, typ: tok.Type, value: []string{scheme + tok.Value}}
		b.header.Store(ah)
	}
	out.Header["Authorization"] = ah.value
	for k, v := range b.Header {
		out.Header[k] = v
	}
	return out
}
