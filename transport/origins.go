package transport

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrOriginNotAllowed is wrapped by the error a transport returns, without sending
// anything, for a request (not a redirect) to an origin outside its allow-list.
var ErrOriginNotAllowed = errors.New("finauth: transport: request to an origin outside the allow-list")

// ErrInsecureOrigin is returned when an allowed origin is plain http on a host that is not
// loopback and insecure origins were not allowed explicitly.
var ErrInsecureOrigin = errors.New("finauth: transport: insecure origin")

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
			return nil, fmt.Errorf("finauth: transport: %q is not an absolute http(s) URL", redactURL(raw))
		}
		if u.Scheme == "http" && !allowInsecure && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: plain http to %s is refused: use https (plain http is allowed only for loopback hosts, or when allowed explicitly)", ErrInsecureOrigin, u.Host)
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

// isLoopback reports whether host names this machine: localhost, 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
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

// redactURL hides the password of a URL's userinfo, as net/http shows URLs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "[unparsable URL with userinfo]"
		}
		return raw
	}
	if _, ok := u.User.Password(); ok {
		// net/http's form (its stripPassword): url.URL.Redacted writes "xxxxx" instead.
		return strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1)
	}
	return raw
}
