package transport

import (
	"errors"
	"maps"
	"net/http"
)

// begin is the common start of a credential-adding RoundTrip. It returns the base
// transport to use and whether req gets credentials: not for a redirect that left the
// allowed origins (sent as it is). A request whose URL or Host header names an origin
// outside them is refused. A misconfigured transport (configured false, with
// missing naming what) or a first request to a foreign origin is an error; the caller closes
// the request body.
func begin(base http.RoundTripper, o *Origins, configured bool, missing string, req *http.Request) (http.RoundTripper, bool, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	if req.URL == nil {
		return nil, false, errors.New("finauth: transport: the request has no URL")
	}
	if !configured || o == nil {
		return nil, false, errors.New("finauth: transport: " + missing)
	}
	// A Host header naming another origin than the URL would take the credentials there
	// through a Host-routing front (a CDN, a shared load balancer): both must be allowed.
	host := req.URL
	if req.Host != "" && req.Host != req.URL.Host {
		hu := *req.URL
		hu.Host = req.Host
		host = &hu
	}
	urlOK := o.Allows(req.URL)
	if urlOK && (host == req.URL || o.Allows(host)) {
		return base, true, nil
	}
	if req.Response != nil { // a redirect: http.Client follows it; we add nothing
		return base, false, nil
	}
	if urlOK {
		return nil, false, &OriginError{Origin: Origin(host) + " (the request's Host header; its URL is " + Origin(req.URL) + ")", Allowed: o.String()}
	}
	return nil, false, &OriginError{Origin: Origin(req.URL), Allowed: o.String()}
}

// bodyCloser closes a request's body when its RoundTrip returns, unless the body was handed
// to the base transport, which then owns it (the x/oauth2 idiom: one deferred close instead
// of one on every return path).
type bodyCloser struct {
	req    *http.Request
	handed bool
}

// handOver marks the body as passed on: the base transport closes it.
func (c *bodyCloser) handOver() { c.handed = true }

// close is deferred by RoundTrip.
func (c *bodyCloser) close() {
	if !c.handed && c.req.Body != nil {
		c.req.Body.Close()
	}
}

// copyRequest returns a shallow copy of req with its own header map. Header value slices
// are shared with req: nothing downstream writes into them.
func copyRequest(req *http.Request) *http.Request {
	out := new(http.Request)
	*out = *req
	// maps.Clone copies the map's storage as it is (for a small map, one group copied
	// whole) instead of hashing every key again; the slices stay shared.
	if out.Header = maps.Clone(req.Header); out.Header == nil {
		out.Header = make(http.Header, 1)
	}
	return out
}

// bodyLimit is MaxBodyBytes with its default.
func bodyLimit(n int64) int64 {
	if n <= 0 {
		return DefaultMaxBodyBytes
	}
	return n
}
