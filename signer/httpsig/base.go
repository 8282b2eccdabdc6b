package httpsig

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Message is what a signature covers: a request (Method, URL, Header) or a response
// (Status, Header). Build one with Request (a client's request, as it will be sent),
// ServerRequest (a request a server received) or Response.
type Message struct {
	// Method is the request's method, as sent.
	Method string
	// URL is the request's absolute URL: scheme, authority, path and query as sent.
	URL *url.URL
	// Status is a response's status code (0 for a request).
	Status int
	// Header holds the message's fields.
	Header http.Header
}

// Request is the message of a request a client sends: its URL (with r.Host when set, which
// is what goes in the Host header), method and header.
func Request(r *http.Request) Message {
	u := *r.URL
	if r.Host != "" {
		u.Host = r.Host
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	return Message{Method: method, URL: &u, Header: r.Header}
}

// ServerRequest is the message of a request a server received: the scheme from the
// connection (https with TLS), the authority from the Host header, the path and query from
// the request line.
func ServerRequest(r *http.Request) Message {
	u := &url.URL{Scheme: "http", Host: r.Host}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	if ru, err := url.ParseRequestURI(r.RequestURI); err == nil && r.RequestURI != "" {
		u.Path, u.RawPath, u.RawQuery = ru.Path, ru.RawPath, ru.RawQuery
	} else {
		u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	}
	return Message{Method: r.Method, URL: u, Header: r.Header}
}

// Response is the message of a response: its status and header.
func Response(r *http.Response) Message { return Message{Status: r.StatusCode, Header: r.Header} }

// ErrComponent is wrapped by the error of a covered component the message does not have (a
// header that is absent, @method of a response), or one this package does not derive.
var ErrComponent = errors.New("finauth: httpsig: a covered component cannot be taken from the message")

// componentValue is the value of one covered component (RFC 9421 section 2).
func (m Message) componentValue(c item) (string, error) {
	name := c.value
	if name == "@query-param" {
		return m.queryParam(c)
	}
	if len(c.params) > 0 {
		return "", fmt.Errorf("%w: %s with parameters (;%s) is not supported", ErrComponent, serializeString(name), c.params[0].name)
	}
	if !strings.HasPrefix(name, "@") {
		if name != strings.ToLower(name) || name == "" {
			return "", fmt.Errorf("%w: %s: a field name must be in lower case", ErrComponent, serializeString(name))
		}
		vals, ok := m.Header[http.CanonicalHeaderKey(name)]
		if !ok {
			return "", fmt.Errorf("%w: the message has no %s field", ErrComponent, name)
		}
		// Field lines joined with ", ", each without leading and trailing whitespace
		// (section 2.1).
		trimmed := make([]string, len(vals))
		for i, v := range vals {
			trimmed[i] = strings.Trim(v, " \t")
		}
		return strings.Join(trimmed, ", "), nil
	}
	if name == "@status" {
		if m.Status == 0 {
			return "", fmt.Errorf("%w: @status is a response's", ErrComponent)
		}
		return strconv.Itoa(m.Status), nil
	}
	if m.URL == nil || m.Method == "" {
		return "", fmt.Errorf("%w: %s is a request's", ErrComponent, name)
	}
	switch name {
	case "@method":
		return m.Method, nil
	case "@target-uri":
		return strings.ToLower(m.URL.Scheme) + "://" + authority(m.URL) + requestTarget(m.URL), nil
	case "@authority":
		return authority(m.URL), nil
	case "@scheme":
		return strings.ToLower(m.URL.Scheme), nil
	case "@request-target":
		return requestTarget(m.URL), nil
	case "@path":
		p := m.URL.EscapedPath()
		if p == "" {
			p = "/"
		}
		return p, nil
	case "@query":
		return "?" + m.URL.RawQuery, nil
	}
	return "", fmt.Errorf("%w: %s is not a derived component this package knows (@method, @target-uri, @authority, @scheme, @request-target, @path, @query, @query-param, @status)", ErrComponent, name)
}

// queryParam is "@query-param";name="N" (RFC 9421 section 2.2.8): the value of the query
// parameter named N, percent-decoded as a form is, then percent-encoded again (a space as
// %20). A parameter that is absent, or present more than once, cannot be covered.
func (m Message) queryParam(c item) (string, error) {
	if len(c.params) != 1 || c.params[0].name != "name" {
		return "", fmt.Errorf("%w: @query-param takes exactly one parameter, name", ErrComponent)
	}
	want, ok := c.params[0].value.(string)
	if !ok {
		return "", fmt.Errorf("%w: @query-param's name must be a string", ErrComponent)
	}
	if m.URL == nil {
		return "", fmt.Errorf("%w: @query-param is a request's", ErrComponent)
	}
	want, err := url.QueryUnescape(want)
	if err != nil {
		return "", fmt.Errorf("%w: @query-param's name is not percent-encoded: %v", ErrComponent, err)
	}
	var found []string
	for _, pair := range strings.Split(m.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		if dk == want {
			found = append(found, dv)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: the query has no parameter %q", ErrComponent, want)
	case 1:
		return strings.ReplaceAll(url.QueryEscape(found[0]), "+", "%20"), nil
	}
	return "", fmt.Errorf("%w: the query has %d parameters %q: which one a signature covers is ambiguous", ErrComponent, len(found), want)
}

// authority is the host in lower case, with its port unless it is the scheme's default.
func authority(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	scheme := strings.ToLower(u.Scheme)
	if port == "" || scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		return host
	}
	return host + ":" + port
}

// requestTarget is the path and query as the request line has them.
func requestTarget(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		p += "?" + u.RawQuery
	}
	return p
}

// signatureBase is the signature base (RFC 9421 section 2.5) of m for the covered
// components and parameters, and the @signature-params value.
func (m Message) signatureBase(covered []item, params []param) (base []byte, sigParams string, err error) {
	var b strings.Builder
	seen := map[string]bool{}
	for _, c := range covered {
		id, err := serializeInnerList([]item{c}, nil)
		if err != nil {
			return nil, "", err
		}
		id = id[1 : len(id)-1] // the identifier alone, without ( )
		if seen[id] {
			return nil, "", fmt.Errorf("%w: %s is covered twice", ErrComponent, id)
		}
		seen[id] = true
		if c.value == "@signature-params" {
			return nil, "", fmt.Errorf("%w: @signature-params cannot be covered", ErrComponent)
		}
		v, err := m.componentValue(c)
		if err != nil {
			return nil, "", err
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, "", fmt.Errorf("%w: %s holds a line break", ErrComponent, id)
		}
		b.WriteString(id)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	sigParams, err = serializeInnerList(covered, params)
	if err != nil {
		return nil, "", err
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(sigParams)
	return []byte(b.String()), sigParams, nil
}
