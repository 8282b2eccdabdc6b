package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/finauth/finauth/internal/redact"
)

// request is what call and load share: the profile and every caller's flags, the request
// to send, and the session that authenticates it.
type request struct {
	f       *flags
	profile *string
	method  *string
	data    *string
	headers multi
	net     network
}

// newRequestFlags registers the flags of call and load: every caller's, and the request's.
func (a *app) newRequestFlags(cmd, synopsis string) *request {
	r := &request{f: a.newFlags(cmd, synopsis)}
	for _, c := range serving[caller]() {
		register(r.f, c, "call")
	}
	fs := r.f
	r.profile = fs.String("profile", "pismo", profileHelp())
	r.method = fs.String("X", http.MethodGet, "HTTP method")
	r.data = fs.String("data", "", "request body: @FILE, - for stdin, or the text")
	fs.Var(&r.headers, "H", "request header 'Name: value', repeatable")
	r.f.bind("", binding{flag: "cacert", help: "PEM file of CA certificates to trust besides the system's, for the API and the token endpoint"},
		binding{flag: "fetch-timeout", help: "bound of one token request (with a shared store, how long another replica waits for a dead one's fetch lock), e.g. 5s; default 30s"})
	return r
}

// caller is the --profile's provider.
func (r *request) caller() (caller, error) {
	for _, c := range serving[caller]() {
		if c.name() == *r.profile {
			return c, nil
		}
	}
	return nil, usagef("--profile %q: use %s", *r.profile, strings.ReplaceAll(profileNames(), "|", ", "))
}

// open checks target, builds the profile's session and refuses a target outside the
// profile's origins: credentials go nowhere else, and naming a URL on the command line does
// not add its origin. Nothing is sent.
func (r *request) open(a *app, target string) (*session, error) {
	u, err := checkTarget(target)
	if err != nil {
		return nil, err
	}
	c, err := r.caller()
	if err != nil {
		return nil, err
	}
	r.net.cacert = r.f.get("cacert")
	if v := r.f.get("fetch-timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, usagef("--fetch-timeout %q: give a positive duration, e.g. 5s", v)
		}
		r.net.fetchTimeout = d
	}
	tel, err := a.startTelemetry(context.Background())
	if err != nil {
		return nil, err
	}
	r.net.telemetry = tel
	s, err := c.connect(a, r.f, &r.net)
	if err != nil {
		tel.shutdown()
		return nil, err
	}
	closeSession := s.close
	s.close = func() { closeSession(); tel.shutdown() }
	s.telemetry = tel
	if s.origins == nil || s.origins.Allows(u) {
		return s, nil
	}
	s.close()
	from := s.variable
	if s.def != "" {
		from += ", default " + s.def
	}
	return nil, usagef("%s is not an allowed API origin (allowed: %s, from --api-url / %s): nothing was sent; add it with --api-url or %s if it should receive credentials",
		redact.URL(u.Scheme+"://"+u.Host), s.origins, from, s.variable)
}

// body reads --data.
func (r *request) body(a *app) ([]byte, error) { return a.body(*r.data) }

// build makes one request for target with the flags' method, headers and body, prepared for
// the session (an account, a consent).
func (r *request) build(ctx context.Context, s *session, target string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(*r.method), target, rd)
	if err != nil {
		return nil, usagef("URL: %s", redact.URLError(target, err))
	}
	for _, h := range r.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usagef("-H %q: use 'Name: value'", h)
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if len(body) > 0 && req.Header.Get("Content-Type") == "" && json.Valid(body) {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.prepare != nil {
		req = s.prepare(req)
	}
	return req, nil
}

// checkTarget refuses a request URL without an http(s) scheme and a host (exit 2).
func checkTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, usagef("URL %q: give an absolute http(s) URL, e.g. https://api.example.com/path", redact.URL(raw))
	}
	return u, nil
}

// count0 reads a counter, 0 when the session has none.
func count0(c func() uint64) uint64 {
	if c == nil {
		return 0
	}
	return c()
}
