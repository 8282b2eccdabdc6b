package transport

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/finauth/finauth/internal/redact"
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
	allowed []origin // matched in order by Allows: a handful, compared without allocating
	list    []string
}

// origin is one allowed origin, normalized: scheme and host in lower case, port explicit;
// hostPort and bare are the URL.Host forms that match it as they are (host:port, and the
// host alone when the port is the scheme's default), compared before anything is parsed.
type origin struct{ scheme, host, port, hostPort, bare string }

// NewOrigins parses origins (URLs; only scheme, host and port count). Plain http is
// accepted only for loopback hosts (localhost, 127.0.0.0/8, ::1) unless allowInsecure.
func NewOrigins(origins []string, allowInsecure bool) (*Origins, error) {
	o := &Origins{}
	seen := map[string]bool{}
	for _, raw := range origins {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("finauth: transport: %q is not an absolute http(s) URL", redact.URL(raw))
		}
		if u.Scheme == "http" && !allowInsecure && !isLoopback(u.Hostname()) {
			// raw through the redactor, not u.Host: net/url reads "http://svc:12/pw@host" as
			// host "svc:12", the start of a password holding a "/".
			return nil, fmt.Errorf("%w: plain http to %s is refused: use https (plain http is allowed only for loopback hosts, or when allowed explicitly)", ErrInsecureOrigin, redact.URL(raw))
		}
		if key := Origin(u); !seen[key] {
			seen[key] = true
			scheme := strings.ToLower(u.Scheme)
			a := origin{scheme: scheme, host: strings.ToLower(u.Hostname()), port: portOf(scheme, u.Port())}
			a.hostPort = net.JoinHostPort(a.host, a.port)
			if a.port == defaultPort(scheme) {
				a.bare = strings.TrimSuffix(a.hostPort, ":"+a.port)
			}
			o.allowed = append(o.allowed, a)
			o.list = append(o.list, key)
		}
	}
	if len(o.list) == 0 {
		return nil, errors.New("finauth: transport: no allowed origin given")
	}
	return o, nil
}

// Allows reports whether u's origin is in the set. It allocates nothing: it runs on every
// request.
func (o *Origins) Allows(u *url.URL) bool {
	if o == nil || u == nil {
		return false
	}
	for _, a := range o.allowed { // the common case: the URL as the origin was given
		if u.Scheme == a.scheme && (u.Host == a.hostPort || u.Host == a.bare && a.bare != "") {
			return true
		}
	}
	host, port := u.Hostname(), u.Port()
	for _, a := range o.allowed {
		if equalFold(u.Scheme, a.scheme) && equalFold(host, a.host) &&
			(port == a.port || port == "" && a.port == defaultPort(a.scheme)) {
			return true
		}
	}
	return false
}

// equalFold is strings.EqualFold with the common case first: the URL already in lower
// case, as the allowed origin is.
func equalFold(s, lower string) bool {
	return s == lower || strings.EqualFold(s, lower)
}

// List returns the origins, normalized (scheme://host:port).
func (o *Origins) List() []string { return append([]string(nil), o.list...) }

// String lists the origins.
func (o *Origins) String() string { return strings.Join(o.list, ", ") }

// Origin is u's origin, normalized: scheme://host:port with the scheme and host in lower
// case and the default port made explicit (https://a and https://A:443 are one origin). It
// is the module's one origin function: the allow-list, the token endpoint's redirect check
// and the CLI compare origins with it.
func Origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), portOf(scheme, u.Port()))
}

// portOf is port, or the scheme's default when it is empty.
func portOf(scheme, port string) string {
	if port == "" {
		return defaultPort(scheme)
	}
	return port
}

// defaultPort is 80 for http, 443 for https ("" for any other scheme, which no allowed
// origin has).
func defaultPort(scheme string) string {
	switch scheme {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
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
