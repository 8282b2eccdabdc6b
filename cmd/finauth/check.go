package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/redisstore"
)

// checker is a provider finauth check examines: it reads its configuration and key, and
// makes one token request (or, without tokens, one signature) through net, which records
// what the server's clock said.
type checker interface {
	provider
	check(ctx context.Context, a *app, f *flags, net *checkNet) (checked, error)
}

// checked is what a checker found.
type checked struct {
	// asked says what was asked of the server ("a token from URL"), or done locally.
	asked string
	// token is the token the request gave; nil for a provider without tokens.
	token *tokencache.Token
	// certs are the certificates the provider presents, by role ("transport").
	certs map[string]*x509.Certificate
	// err is the token request's (or signature's) failure, once the configuration was read.
	err error
}

// checkNet is the network a check goes through: each response's Date is kept, with the
// local times its request left and its answer came, for the clock's comparison.
type checkNet struct {
	base http.RoundTripper

	mu    sync.Mutex
	date  time.Time // the last response's Date
	sent  time.Time // when its request left
	came  time.Time // when its answer came
	where string    // its origin
}

// RoundTrip sends req and keeps its response's Date.
func (n *checkNet) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := time.Now()
	resp, err := n.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if d, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
		n.mu.Lock()
		n.date, n.sent, n.came, n.where = d, sent, time.Now(), req.URL.Scheme+"://"+req.URL.Host
		n.mu.Unlock()
	}
	return resp, nil
}

// over is n over base instead (a provider's own transport: Revolut's mutual TLS).
func (n *checkNet) over(base http.RoundTripper) *checkNet {
	n.base = base
	return n
}

// client is an http.Client over n that follows no redirect (as token clients do).
func (n *checkNet) client() *http.Client {
	return &http.Client{Transport: n, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// skew is how far the local clock is ahead of the server's (negative: behind), from the last
// Date seen: the server's time lies in [Date, Date+1s) when it answered, which was between
// sent and came. ok false when no response carried a Date.
func (n *checkNet) skew() (skew, uncertainty time.Duration, where string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.date.IsZero() {
		return 0, 0, "", false
	}
	mid := n.sent.Add(n.came.Sub(n.sent) / 2)
	return mid.Sub(n.date.Add(500 * time.Millisecond)), n.came.Sub(n.sent)/2 + 500*time.Millisecond, n.where, true
}

// checkLine is one check's outcome.
type checkLine struct {
	Check  string `json:"check"`
	Status string `json:"status"` // ok, warn, fail, skip
	Detail string `json:"detail"`
	config bool   // a failure of the configuration: exit 2
}

// check examines a profile's setup the way a deploy pipeline or a canary wants it: the
// configuration and key, one token request, the clock against the server's, the shared
// store, and the certificates the provider presents, each said in a line; the exit status
// says whether all passed. Nothing secret is printed.
func (a *app) check(args []string) error {
	p, args, err := pick[checker](a, "check", args)
	if err != nil {
		return err
	}
	cmd := "check " + p.name()
	f := a.newFlags(cmd, cmd+" [flags] [--json] [--strict]")
	register(f, p, "check")
	asJSON := f.Bool("json", false, "print one JSON object: {profile, status, checks: [{check, status, detail}]}")
	strict := f.Bool("strict", false, "a warning fails the check too (exit 1): a certificate expiring soon, a clock a few seconds off")
	maxSkew := f.Duration("max-clock-skew", 30*time.Second, "the local clock may differ from the server's by this much before the check fails (a warning from 5s); signed JWTs and signatures carry the local time")
	certWarning := f.Duration("cert-warning", 30*24*time.Hour, "a certificate that expires within this is a warning")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("%s takes no arguments (got %q)", cmd, pos)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	net := &checkNet{base: client.DefaultTransport()}
	start := time.Now()
	found, err := p.check(ctx, a, f, net)
	var ue *usageError
	var ce *client.ConfigError
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return err // every problem, by name; exit 2
	}
	if err != nil {
		return err
	}
	if errors.As(found.err, &ue) || errors.As(found.err, &ce) {
		return found.err // the key, read when the request was made
	}
	lines := []checkLine{{Check: "configuration", Status: "ok", Detail: "every variable read and valid, the key loaded where one is configured"}}
	lines = append(lines, tokenLine(found, time.Since(start)))
	lines = append(lines, clockLine(net, *maxSkew))
	lines = append(lines, a.storeLine(ctx))
	for role, c := range found.certs {
		lines = append(lines, certLine(role, c, *certWarning))
	}
	return a.report(p.name(), lines, *asJSON, *strict)
}

// tokenLine says how the token request (or the signature) went.
func tokenLine(found checked, took time.Duration) checkLine {
	name := "token"
	if found.token == nil {
		name = "signature"
	}
	switch {
	case found.err != nil:
		return checkLine{Check: name, Status: "fail", Detail: fmt.Sprintf("%s: %v", found.asked, oneFinauth(found.err.Error()))}
	case found.token == nil:
		return checkLine{Check: name, Status: "ok", Detail: found.asked}
	}
	left := time.Until(found.token.Expiry).Round(time.Second)
	detail := fmt.Sprintf("%s: a %s token, valid %v (%v)", found.asked, found.token.Type, left, took.Round(time.Millisecond))
	if found.token.Expiry.IsZero() {
		detail = fmt.Sprintf("%s: a %s token without an expiry (%v)", found.asked, found.token.Type, took.Round(time.Millisecond))
	}
	return checkLine{Check: name, Status: "ok", Detail: detail}
}

// clockLine compares the local clock with the last Date a server sent.
func clockLine(net *checkNet, maxSkew time.Duration) checkLine {
	skew, within, where, ok := net.skew()
	if !ok {
		return checkLine{Check: "clock", Status: "warn", Detail: "no answer carried a Date header: the clock was not compared"}
	}
	if skew < 0 {
		skew = -skew
	}
	// What the Date header cannot tell apart (its second, the round trip) is not skew.
	off := max(skew-within, 0).Round(time.Second)
	detail := fmt.Sprintf("within %v of %s's", max(off, time.Second), where)
	switch {
	case off > maxSkew:
		return checkLine{Check: "clock", Status: "fail", Detail: fmt.Sprintf("%v off %s's (more than --max-clock-skew %v): signed JWTs and signatures carry this clock's time and are refused; synchronise it (NTP)", off, where, maxSkew)}
	case off > 5*time.Second:
		return checkLine{Check: "clock", Status: "warn", Detail: fmt.Sprintf("%v off %s's: synchronise it (NTP) before a server refuses the times this clock signs", off, where)}
	}
	return checkLine{Check: "clock", Status: "ok", Detail: detail}
}

// storeLine checks the shared token store, when one is configured: it answers and accepts
// the URL's credentials.
func (a *app) storeLine(ctx context.Context) checkLine {
	s, err := redisstore.FromEnv(a.lookup, slog.New(slog.NewTextHandler(io.Discard, nil)))
	switch {
	case err != nil:
		return checkLine{Check: "redis", Status: "fail", Detail: oneFinauth(err.Error()), config: true}
	case s == nil:
		return checkLine{Check: "redis", Status: "skip", Detail: "FINAUTH_REDIS_URL is not set: each process caches its tokens alone"}
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	where := "FINAUTH_REDIS_URL"
	if v, ok := a.lookup("FINAUTH_REDIS_URL"); ok {
		where = redact.URL(v)
	}
	switch err := s.Check(ctx); {
	case errors.Is(err, redisstore.ErrAuth):
		return checkLine{Check: "redis", Status: "fail", Detail: fmt.Sprintf("%s refused the credentials: %v (fix the user or password in FINAUTH_REDIS_URL)", where, oneFinauth(err.Error())), config: true}
	case err != nil:
		return checkLine{Check: "redis", Status: "fail", Detail: fmt.Sprintf("%s does not answer: %v (each process would cache its tokens alone)", where, oneFinauth(err.Error()))}
	}
	return checkLine{Check: "redis", Status: "ok", Detail: where + " answers and accepts the credentials"}
}

// certLine says when a certificate the provider presents expires.
func certLine(role string, c *x509.Certificate, warnWithin time.Duration) checkLine {
	name := role + " certificate"
	left := time.Until(c.NotAfter)
	at := c.NotAfter.UTC().Format(time.RFC3339)
	switch {
	case left <= 0:
		return checkLine{Check: name, Status: "fail", Detail: fmt.Sprintf("%s expired at %s: renew it", c.Subject, at)}
	case time.Now().Before(c.NotBefore):
		return checkLine{Check: name, Status: "fail", Detail: fmt.Sprintf("%s is valid only from %s", c.Subject, c.NotBefore.UTC().Format(time.RFC3339))}
	case left < warnWithin:
		return checkLine{Check: name, Status: "warn", Detail: fmt.Sprintf("%s expires at %s, in %d days: renew it", c.Subject, at, int(left.Hours()/24))}
	}
	return checkLine{Check: name, Status: "ok", Detail: fmt.Sprintf("%s valid until %s (%d days)", c.Subject, at, int(left.Hours()/24))}
}

// report prints the lines (or one JSON object) and returns the outcome: nil when every
// check passed (warnings too unless strict), a usage error when the configuration failed
// (exit 2), a failure otherwise (exit 1).
func (a *app) report(profile string, lines []checkLine, asJSON, strict bool) error {
	status, configFailed := "ok", false
	fails, warns := 0, 0
	for _, l := range lines {
		switch l.Status {
		case "fail":
			fails++
			configFailed = configFailed || l.config
		case "warn":
			warns++
		}
	}
	switch {
	case fails > 0:
		status = "fail"
	case warns > 0:
		status = "warn"
	}
	if asJSON {
		if err := a.printJSON(map[string]any{"profile": profile, "status": status, "checks": lines}); err != nil {
			return err
		}
	} else {
		for _, l := range lines {
			fmt.Fprintf(a.stdout, "%-5s %-21s %s\n", l.Status, l.Check, l.Detail)
		}
	}
	summary := fmt.Sprintf("check %s: %d failed, %d warnings, of %d checks", profile, fails, warns, len(lines))
	switch {
	case configFailed:
		return usagef("%s (the configuration)", summary)
	case fails > 0 || strict && warns > 0:
		return &failure{"finauth: " + summary}
	}
	if !asJSON {
		fmt.Fprintf(a.stdout, "%s: every check passed", profile)
		if warns > 0 {
			fmt.Fprintf(a.stdout, " (%d warnings)", warns)
		}
		fmt.Fprintln(a.stdout)
	}
	return nil
}

// tokenAt says what a token request asked: a token from the endpoint's URL, shown without
// query or password.
func tokenAt(u string) string {
	if p, err := url.Parse(u); err == nil {
		p.RawQuery, p.Fragment = "", ""
		u = p.String()
	}
	return "a token from " + redact.URL(u)
}

// leafOf is the first certificate of tc, or nil.
func leafOf(tc *tls.Config) *x509.Certificate {
	if tc == nil || len(tc.Certificates) == 0 || len(tc.Certificates[0].Certificate) == 0 {
		return nil
	}
	c, err := x509.ParseCertificate(tc.Certificates[0].Certificate[0])
	if err != nil {
		return nil
	}
	return c
}

// originOf is the scheme and host of u ("" when it does not parse).
func originOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// dateOf asks origin for nothing but its Date: a HEAD without credentials, for a provider
// that makes no token request.
func dateOf(ctx context.Context, net *checkNet, origin string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, origin+"/", nil)
	if err != nil {
		return
	}
	if resp, err := net.client().Do(req); err == nil {
		resp.Body.Close()
	}
}
