package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/finauth/finauth/tokencache"
)

// TokenSource is what Bearer needs from a token cache; *tokencache.Cache is one.
type TokenSource interface {
	Token(ctx context.Context, key string) (tokencache.Token, error)
	Invalidate(key, rejected string) bool
}

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

// Bearer is an http.RoundTripper that sends each request with "Authorization: Bearer
// <token>", the token coming from Tokens under the key Key picks. When the server answers
// 401, Bearer drains and closes that response, invalidates the token (only if it is still
// the cached one, so many concurrent 401s cost one refresh), gets a new one and sends the
// request once more with the same body bytes; a second 401 goes back to the caller as it
// came. Requests to origins outside Origins are refused; redirects there carry nothing.
// Fields must not change after first use; Bearer is safe for concurrent use.
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

	replays atomic.Uint64
	header  atomic.Pointer[authHeader]
}

// authHeader caches the formatted header value of the last token, so that the common
// case allocates neither the string nor its slice.
type authHeader struct {
	token string
	value []string
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
	tok, err := b.Tokens.Token(req.Context(), key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrToken, err)
	}
	first, again, err := captureBody(req, bodyLimit(b.MaxBodyBytes))
	if err != nil {
		return nil, err
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
	if err != nil || !again.ok {
		return resp, err
	}
	failed := b.IsAuthFailure
	if failed == nil {
		failed = IsAuthFailure
	}
	if !failed(resp) {
		return resp, nil
	}
	// Rejected: free the connection, drop the token (if nobody has yet), replay once.
	io.CopyN(io.Discard, resp.Body, drainLimit)
	resp.Body.Close()
	b.Tokens.Invalidate(key, tok.Value)
	tok2, err := b.Tokens.Token(req.Context(), key)
	if err != nil {
		return nil, fmt.Errorf("%w after a 401: %w", ErrToken, err)
	}
	replayBody, err := again.getBody()
	if err != nil {
		return nil, fmt.Errorf("finauth: transport: getting the request body again: %w", err)
	}
	retry := b.authorize(req, tok2.Value)
	retry.Body = replayBody
	retry.GetBody, retry.ContentLength = again.getBody, again.size
	b.replays.Add(1)
	return base.RoundTrip(retry)
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
