package transport

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ErrOriginNotAllowed is wrapped by the error a transport returns, without sending
// anything, for a request (not a redirect) to an origin outside its allow-list.
var ErrOriginNotAllowed = errors.New("finauth: transport: request to an origin outside the allow-list")

// ErrInsecureOrigin is returned when an allowed origin is plain http on a host that is not
// loopback and insecure origins were not allowed explicitly.
var ErrInsecureOrigin = errors.New("finauth: transport: plain http origin refused")

// Origins is the set of scheme://host:port a transport sends credentials to. Credentials go
// nowhere else: a redirect to another origin goes out without them, and a request to
// another origin is refused.
type Origins struct {
	set  map[string]struct{}
	list []string
}

// NewOrigins parses origins (URLs; only scheme, host and port count). Plain http is
// accepted only for loopback hosts (localhost, 127.0.0.0/8, ::1) unless allowInsecure.
func NewOrigins(origins []string, allowInsecure bool) (*Origins, error) {
	o := &Origins{set: map[string]struct{}{}}
	for _, raw := range origins {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("finauth: transport: origin %q is not an absolute http(s) URL", raw)
		}
		if u.Scheme == "http" && !allowInsecure && !IsLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: %s is not loopback; use https, or allow plain http explicitly", ErrInsecureOrigin, originOf(u))
		}
		key := originOf(u)
		if _, dup := o.set[key]; !dup {
			o.set[key] = struct{}{}
			o.list = append(o.list, key)
		}
	}
	if len(o.list) == 0 {
		return nil, errors.New("finauth: transport: no allowed origin given")
	}
	return o, nil
}

// Allows reports whether u's origin is in the set.
func (o *Origins) Allows(u *url.URL) bool {
	if o == nil || u == nil {
		return false
	}
	_, ok := o.set[originOf(u)]
	return ok
}

// List returns the origins, normalized (scheme://host:port).
func (o *Origins) List() []string { return append([]string(nil), o.list...) }

// String lists the origins.
func (o *Origins) String() string { return strings.Join(o.list, ", ") }

// originOf normalizes scheme://host:port with the default port made explicit and the host
// in lower case.
func originOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// IsLoopback reports whether host names this machine: localhost, 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// OriginError says which origin a request went to and which are allowed.
type OriginError struct {
	Origin  string
	Allowed string
}

// Error names the request's origin and the allowed ones.
func (e *OriginError) Error() string {
	return ErrOriginNotAllowed.Error() + ": " + e.Origin + " is not one of [" + e.Allowed + "]; add it to the allowed API origins if it should receive credentials"
}

// Unwrap returns ErrOriginNotAllowed.
func (e *OriginError) Unwrap() error { return ErrOriginNotAllowed }

// begin is the common start of a credential-adding RoundTrip. It returns the base
// transport to use and whether req gets credentials: not for a redirect that left the
// allowed origins (sent as it is). A misconfigured transport (configured false, with
// missing naming what) or a first request to a foreign origin is an error, with the request
// body closed.
func begin(base http.RoundTripper, o *Origins, configured bool, missing string, req *http.Request) (http.RoundTripper, bool, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	if !configured || o == nil {
		closeBody(req)
		return nil, false, errors.New("finauth: transport: " + missing)
	}
	if o.Allows(req.URL) {
		return base, true, nil
	}
	if req.Response != nil { // a redirect: http.Client follows it; we add nothing
		return base, false, nil
	}
	closeBody(req)
	return nil, false, &OriginError{Origin: originOf(req.URL), Allowed: o.String()}
}
