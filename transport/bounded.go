package transport

import (
	"fmt"
	"net/http"
)

// Bounded is an http.RoundTripper that makes every request body replayable, within a
// bound, before the transports below it see it: a body with GetBody goes on as it is; any
// other is read once, up to MaxBodyBytes, into pooled chunks and sent with GetBody and
// ContentLength; a larger one is refused with a *BodyTooLargeError before anything is sent,
// having read at most MaxBodyBytes and a chunk. Put it above a transport that reads a body
// whole by itself (a retrying one, such as go-retryablehttp's RoundTripper, which would read
// an endless stream until memory runs out). The caller's request is never changed, and its
// body is closed. Safe for concurrent use.
type Bounded struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// MaxBodyBytes bounds a body without GetBody; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// RoundTrip implements http.RoundTripper.
func (b *Bounded) RoundTrip(req *http.Request) (*http.Response, error) {
	base := b.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return base.RoundTrip(req)
	}
	body := bodyCloser{req: req}
	defer body.close()
	limit := bodyLimit(b.MaxBodyBytes)
	sp, complete, err := readSpool(req.Body, limit, req.ContentLength)
	if err != nil {
		return nil, fmt.Errorf("finauth: transport: reading the request body: %w", err)
	}
	defer sp.done()
	if !complete {
		return nil, &BodyTooLargeError{Limit: limit}
	}
	out := copyRequest(req)
	if sp.size == 0 {
		out.Body, out.GetBody, out.ContentLength = http.NoBody, getNoBody, 0
	} else {
		out.Body, _ = sp.open()
		out.GetBody, out.ContentLength = sp.open, sp.size
	}
	return base.RoundTrip(out)
}
