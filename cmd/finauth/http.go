package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/redisstore"
	"github.com/finauth/finauth/transport"
)

func (a *app) token(args []string) error {
	sub, args, err := a.subcommands("token", args, [][2]string{{"pismo", "exchange a Pismo JWT for an access token"}, {"mia", "a Mia-Platform client-credentials token"}, {"revolut", "a Revolut client-credentials token, or with --code the user's tokens (mutual TLS)"}})
	if err != nil {
		return err
	}
	switch sub {
	case "mia":
		return a.tokenMia(args)
	case "revolut":
		return a.tokenRevolut(args)
	}
	args = append([]string{"pismo"}, args...)
	fs := a.newFlags("token pismo", "token pismo [provider flags] [--account ID|--external-account ID] [--show-token]")
	var p providerFlags
	p.common(fs, "PISMO")
	p.pismo(fs)
	acctID := fs.String("account", "", "account ID: an account-specific token")
	ext := fs.String("external-account", "", "external account ID")
	show := fs.Bool("show-token", false, "print the access token itself (it is a secret)")
	output := fs.String("output", "json", "json (token, type, expiry), bare (the token alone) or header (Authorization: Bearer …); the token itself only with --show-token")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	acct, err := account(*acctID, *ext)
	if err != nil {
		return err
	}
	cfg, err := p.pismoConfig(a)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	tok, err := pismo.Token(ctx, cfg, acct)
	if err != nil {
		return err
	}
	return a.printToken(tok, *show, *output)
}

// tokenMia performs one Mia-Platform client-credentials token request.
func (a *app) tokenMia(args []string) error {
	fs := a.newFlags("token mia", "token mia [--key FILE] [--kid ..] [--client-id ..] [--token-url ..] [--aud ISSUER] [--scope ..] [--show-token]")
	var p providerFlags
	p.common(fs, "MIA")
	p.mia(fs)
	fs.StringVar(&p.tokenURL, "token-url", "", "token endpoint (MIA_TOKEN_URL)")
	fs.StringVar(&p.aud, "aud", "", "the assertion's audience: the service's issuer (MIA_AUDIENCE)")
	show := fs.Bool("show-token", false, "print the access token itself (it is a secret)")
	output := fs.String("output", "json", "json (token, type, expiry), bare (the token alone) or header (Authorization: Bearer …); the token itself only with --show-token")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	cfg, err := p.miaConfig(a)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	tok, err := clientcredentials.Token(ctx, cfg)
	if err != nil {
		return err
	}
	return a.printToken(tok, *show, *output)
}

// checkOutput refuses an --output other than json, bare or header.
func checkOutput(output string) error {
	switch output {
	case "json", "bare", "header":
		return nil
	}
	return usagef("--output %q: use json, bare or header", output)
}

// printToken prints a token as output says (json, bare, header), its value redacted
// unless show.
func (a *app) printToken(tok tokencache.Token, show bool, output string) error {
	value := fmt.Sprintf("[redacted: %d characters; --show-token prints it]", len(tok.Value))
	if show {
		value = tok.Value
	}
	switch output {
	case "bare":
		fmt.Fprintln(a.stdout, value)
		return nil
	case "header":
		fmt.Fprintf(a.stdout, "Authorization: %s %s\n", tok.Type, value)
		return nil
	}
	return a.printJSON(map[string]any{
		"token_type":   tok.Type,
		"expires_in":   int(tok.Expiry.Sub(a.now()).Seconds()),
		"expires_at":   tok.Expiry.UTC().Format(time.RFC3339),
		"access_token": value,
	})
}

// requestFlags are the flags of call and load.
type requestFlags struct {
	providerFlags
	profile, acct, ext, method, data string
	headers                          multi
	cacert                           string
	tokenEnv                         string    // revolut: the user's access token is in this variable
	verbose                          io.Writer // -v: the request and response headers go here
}

func (r *requestFlags) register(fs *flag.FlagSet) {
	r.common(fs, "PISMO", "SOLDO", "MIA", "REVOLUT")
	r.pismo(fs)
	r.soldo(fs)
	r.mia(fs)
	fs.StringVar(&r.profile, "profile", "pismo", "pismo (bearer tokens), soldo (signed requests), mia (Mia-Platform client credentials), revolut (Open Banking over mutual TLS) or none (no credentials: a baseline for load)")
	fs.StringVar(&r.tokenEnv, "token-env", "", "revolut: the name of the environment variable holding the user's access token (for payments and account data); default the client-credentials token")
	fs.StringVar(&r.acct, "account", "", "pismo: account ID for an account-specific token")
	fs.StringVar(&r.ext, "external-account", "", "pismo: external account ID")
	fs.StringVar(&r.method, "X", http.MethodGet, "HTTP method")
	fs.StringVar(&r.data, "data", "", "request body: @FILE, - for stdin, or the text")
	fs.Var(&r.headers, "H", "request header 'Name: value', repeatable")
	fs.StringVar(&r.cacert, "cacert", "", "PEM file of CA certificates to trust besides the system's, for the API and the token endpoint")
	// Flags the profiles share say which variable each sets for which profile.
	for name, usage := range map[string]string{
		"token-url": "token endpoint (PISMO_TOKEN_URL / MIA_TOKEN_URL / REVOLUT_TOKEN_URL)",
		"aud":       "pismo: the JWT's audience (PISMO_AUDIENCE); mia: the service's issuer (MIA_AUDIENCE); revolut: REVOLUT_AUDIENCE",
		"scope":     "mia: scopes, space- or comma-separated (MIA_SCOPE); revolut: accounts or payments, default from the path",
		"client-id": "mia: the registered client ID (MIA_CLIENT_ID); revolut: the application's (REVOLUT_CLIENT_ID)",
		"ttl":       "pismo: JWT lifetime, at most 1h (PISMO_JWT_TTL); soldo: signature lifetime (SOLDO_JWS_TTL); mia: assertion lifetime (MIA_ASSERTION_TTL)",
		"alg":       "soldo: RS256, PS256, ES256 or EdDSA, default from the key (SOLDO_ALG); mia: default RS256 (MIA_ALG)",
	} {
		if f := fs.Lookup(name); f != nil {
			f.Usage = usage
		}
	}
}

// base is the transport under the provider's: the system roots plus --cacert, and -v's
// trace of what is really sent (Authorization redacted).
func (r *requestFlags) base() (http.RoundTripper, *http.Client, error) {
	t := client.DefaultTransport()
	if r.cacert != "" {
		pemData, err := os.ReadFile(r.cacert)
		if err != nil {
			return nil, nil, usagef("--cacert: %v", errors.Unwrap(err))
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, nil, usagef("--cacert %s: no PEM certificate in it", r.cacert)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var rt http.RoundTripper = t
	if r.verbose != nil {
		rt = &verboseTransport{base: t, w: r.verbose}
	}
	tokenClient := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return rt, tokenClient, nil
}

// verboseTransport writes each request and response head to w, the way curl -v does, with
// the values of Authorization redacted, and the time each took.
type verboseTransport struct {
	base http.RoundTripper
	w    io.Writer
	mu   sync.Mutex
}

func (v *verboseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	v.mu.Lock()
	fmt.Fprintf(v.w, "> %s %s %s\n> Host: %s\n", req.Method, req.URL.RequestURI(), "HTTP/1.1", req.URL.Host)
	writeHeaders(v.w, "> ", req.Header)
	v.mu.Unlock()
	resp, err := v.base.RoundTrip(req)
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		fmt.Fprintf(v.w, "* %s %s failed after %v: %v\n", req.Method, client.RedactURL(req.URL.String()), time.Since(start).Round(time.Microsecond), err)
		return nil, err
	}
	fmt.Fprintf(v.w, "< %s %s\n", resp.Proto, resp.Status)
	writeHeaders(v.w, "< ", resp.Header)
	fmt.Fprintf(v.w, "* %s %s: %v to the response headers\n", req.Method, client.RedactURL(req.URL.String()), time.Since(start).Round(time.Microsecond))
	return resp, nil
}

func writeHeaders(w io.Writer, prefix string, h http.Header) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			if strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "Set-Cookie") || strings.EqualFold(k, "Cookie") {
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " [redacted]"
			}
			fmt.Fprintf(w, "%s%s: %s\n", prefix, k, v)
		}
	}
}

// client builds the authenticated transport for target; closer releases it.
// counters reads a transport's token requests and 401 replays (zero for signing profiles).
type counters struct{ exchanges, replays func() uint64 }

var noCounters = counters{func() uint64 { return 0 }, func() uint64 { return 0 }}

func bearerCounters(t *client.BearerTransport) counters {
	return counters{func() uint64 { return t.Stats().Fetches }, t.Replays}
}

func (r *requestFlags) transport(a *app, target string) (http.RoundTripper, counters, func(), error) {
	switch r.profile {
	case "pismo":
		cfg, err := r.pismoConfig(a)
		if err != nil {
			return nil, noCounters, nil, err
		}
		origins := cfg.APIURLs
		if len(origins) == 0 {
			origins = []string{originOf(cfg.TokenURL)} // the library's default
		}
		if err := refuseForeign(target, origins, cfg.AllowInsecureHTTP, "PISMO_API_URL", "the token URL's origin"); err != nil {
			return nil, noCounters, nil, err
		}
		base, tokenClient, err := r.base()
		if err != nil {
			return nil, noCounters, nil, err
		}
		store, closeStore, err := a.tokenStore()
		if err != nil {
			return nil, noCounters, nil, err
		}
		t, err := pismo.NewTransport(cfg, pismo.WithBaseTransport(base), pismo.WithTokenHTTPClient(tokenClient), pismo.WithTokenStore(store))
		if err != nil {
			closeStore()
			return nil, noCounters, nil, err
		}
		return t, bearerCounters(t), func() { t.Close(); closeStore() }, nil
	case "soldo":
		cfg, err := r.soldoConfig(a, "")
		if err != nil {
			return nil, noCounters, nil, err
		}
		if err := refuseForeign(target, cfg.APIURLs, cfg.AllowInsecureHTTP, "SOLDO_API_URL", ""); err != nil {
			return nil, noCounters, nil, err
		}
		base, _, err := r.base()
		if err != nil {
			return nil, noCounters, nil, err
		}
		t, err := soldo.NewTransport(cfg, soldo.WithBaseTransport(base))
		if err != nil {
			return nil, noCounters, nil, err
		}
		return t, noCounters, func() {}, nil
	case "mia":
		cfg, err := r.miaConfig(a)
		if err != nil {
			return nil, noCounters, nil, err
		}
		if err := refuseForeign(target, cfg.APIURLs, cfg.AllowInsecureHTTP, "MIA_API_URL", ""); err != nil {
			return nil, noCounters, nil, err
		}
		base, tokenClient, err := r.base()
		if err != nil {
			return nil, noCounters, nil, err
		}
		store, closeStore, err := a.tokenStore()
		if err != nil {
			return nil, noCounters, nil, err
		}
		t, err := clientcredentials.NewTransport(cfg, clientcredentials.WithBaseTransport(base), clientcredentials.WithTokenHTTPClient(tokenClient), clientcredentials.WithTokenStore(store))
		if err != nil {
			closeStore()
			return nil, noCounters, nil, err
		}
		return t, bearerCounters(t), func() { t.Close(); closeStore() }, nil
	case "revolut":
		return r.revolutTransport(a, target)
	case "none":
		// No credentials at all: the baseline a load run of a profile is compared with.
		base, _, err := r.base()
		if err != nil {
			return nil, noCounters, nil, err
		}
		return base, noCounters, func() {}, nil
	}
	return nil, noCounters, nil, usagef("--profile %q: use pismo, soldo, mia, revolut or none", r.profile)
}

// tokenStore is the shared token store FINAUTH_REDIS_URL names (nil without it), so that
// several finauth processes (or finauth and your service) share one token per key; its
// state changes (Redis down, back) are logged on stderr.
func (a *app) tokenStore() (tokencache.Store, func(), error) {
	s, err := redisstore.FromEnv(a.lookup, slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		return nil, func() {}, &usageError{strings.TrimPrefix(err.Error(), "finauth: ")}
	}
	if s == nil {
		return nil, func() {}, nil
	}
	return s, func() { s.Close() }, nil
}

// refuseForeign is a usage error (exit 2) unless target's origin is one of the configured
// API origins: credentials go nowhere else, and naming a URL on the command line does not
// add its origin. Nothing is sent.
func refuseForeign(target string, origins []string, allowInsecure bool, variable, def string) error {
	allowed, err := transport.NewOrigins(origins, allowInsecure)
	if err != nil {
		return nil // the configuration check reports it, naming the variable
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return usagef("URL %q: give an absolute http(s) URL", client.RedactURL(target))
	}
	if allowed.Allows(u) {
		return nil
	}
	from := variable
	if def != "" {
		from += ", default " + def
	}
	return usagef("%s is not an allowed API origin (allowed: %s, from --api-url / %s): nothing was sent; add it with --api-url or %s if it should receive credentials",
		originOf(target), allowed, from, variable)
}

// newRequest builds one request of call/load.
func (r *requestFlags) newRequest(ctx context.Context, target string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(r.method), target, rd)
	if err != nil {
		return nil, usagef("URL: %v", err)
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
	acct, err := account(r.acct, r.ext)
	if err != nil {
		return nil, err
	}
	if r.profile == "revolut" {
		if r.tokenEnv != "" {
			req = req.WithContext(revolut.WithConsent(req.Context(), cliConsent))
		}
		if r.scope != "" {
			req = req.WithContext(revolut.WithScope(req.Context(), r.scope))
		}
	}
	switch acct.Kind {
	case pismo.AccountToken:
		req = req.WithContext(pismo.WithAccount(req.Context(), acct.ID))
	case pismo.ExternalAccountToken:
		req = req.WithContext(pismo.WithExternalAccount(req.Context(), acct.ID))
	}
	return req, nil
}

func (a *app) call(args []string) error {
	fs := a.newFlags("call", "call [--profile pismo|soldo|mia|none] [--account ID | --external-account ID] [-X METHOD] [-H 'K: V']... [--data @FILE|-|TEXT] [-i] [-v] [-o FILE] [--fail] [--max-time D] [--cacert FILE] URL")
	var r requestFlags
	r.register(fs)
	include := fs.Bool("i", false, "print the status line and response headers too")
	verbose := fs.Bool("v", false, "show the request and response headers on stderr (Authorization redacted) and how long each took")
	output := fs.String("o", "", "write the response body to FILE instead of stdout")
	failQuiet := fs.Bool("fail", false, "on an HTTP status >= 400, print no body (the exit status is 1 either way)")
	maxTime := fs.Duration("max-time", 0, "give up the whole call (token included) after this long")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("call needs the URL")
	}
	body, err := a.body(r.data)
	if err != nil {
		return err
	}
	if *verbose {
		r.verbose = a.stderr
	}
	rt, count, closeRT, err := r.transport(a, pos[0])
	if err != nil {
		return err
	}
	defer closeRT()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *maxTime)
		defer cancel()
	}
	req, err := r.newRequest(ctx, pos[0], body)
	if err != nil {
		return err
	}
	if req.Header.Get("Authorization") != "" {
		fmt.Fprintln(a.stderr, "finauth: warning: your -H Authorization is replaced by the profile's credentials")
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && *maxTime > 0 {
			return &failure{fmt.Sprintf("no answer within --max-time %v", *maxTime)}
		}
		return err
	}
	defer resp.Body.Close()
	out := a.stdout
	if *output != "" {
		f, err := os.OpenFile(*output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return usagef("-o: %v", errors.Unwrap(err))
		}
		defer f.Close()
		out = f
	}
	if *include {
		fmt.Fprintf(a.stdout, "%s %s\n", resp.Proto, resp.Status)
		resp.Header.Write(a.stdout)
		fmt.Fprintln(a.stdout)
	}
	if resp.StatusCode >= 400 {
		if !*failQuiet {
			io.Copy(out, resp.Body)
		}
		if resp.StatusCode == http.StatusUnauthorized && count.replays() > 0 {
			return &failure{fmt.Sprintf("the server answered %s even after finauth got a new token and replayed the request: it refuses this client's tokens (check the claims or scopes, and that the URL is the API those tokens are for)", resp.Status)}
		}
		return &failure{fmt.Sprintf("the server answered %s", resp.Status)}
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return err
	}
	return nil
}

// loadSummary is the JSON summary of finauth load.
type loadSummary struct {
	URL            string             `json:"url"`
	Method         string             `json:"method"`
	Concurrency    int                `json:"concurrency"`
	N              int                `json:"n,omitempty"`
	Duration       string             `json:"duration,omitempty"`
	Interrupted    bool               `json:"interrupted"`
	Requests       int                `json:"requests"`
	OK             int                `json:"ok"`
	Status         map[string]int     `json:"status"`
	Errors         map[string]int     `json:"errors"`
	TokenExchanges uint64             `json:"token_exchanges"`
	Replays401     uint64             `json:"replays_401"`
	LatencyMS      map[string]float64 `json:"latency_ms"`
	AuthWaitMS     map[string]float64 `json:"auth_wait_ms"` // getting a token (or signing) before the request left: mean, max
	DurationS      float64            `json:"duration_s"`
	RPS            float64            `json:"rps"`
}

func (a *app) load(args []string) error {
	fs := a.newFlags("load", "load [--profile pismo|soldo|mia|none] [-n N] [-c C] [--duration D] [-X METHOD] [--data ..] [--json] URL")
	var r requestFlags
	r.register(fs)
	n := fs.Int("n", 100, "number of requests (ignored with --duration)")
	c := fs.Int("c", 8, "concurrency")
	duration := fs.Duration("duration", 0, "run for this long instead of -n requests")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("load needs the URL")
	}
	if *duration < 0 {
		return usagef("--duration %v: give a positive duration (e.g. 30s)", *duration)
	}
	if *c < 1 || (*duration == 0 && *n < 1) {
		return usagef("-c and -n must be at least 1 (or give --duration)")
	}
	body, err := a.body(r.data)
	if err != nil {
		return err
	}
	rt, count, closeRT, err := r.transport(a, pos[0])
	if err != nil {
		return err
	}
	defer closeRT()
	if _, err := r.newRequest(context.Background(), pos[0], body); err != nil {
		return err
	}
	interrupt, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx := interrupt
	start := time.Now() // before the deadline is set: a timed run's last frame reads 100%
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	l := &loadRun{flags: &r, target: pos[0], body: body, hc: &http.Client{Transport: rt}, n: *n, duration: *duration,
		summary: loadSummary{URL: client.RedactURL(pos[0]), Method: strings.ToUpper(r.method), Concurrency: *c, Status: map[string]int{}, Errors: map[string]int{}}}
	if *duration > 0 {
		l.summary.Duration = duration.String()
	} else {
		l.summary.N = *n
	}
	progressDone := a.progress(&l.done, *n, *duration, start)
	l.run(ctx, *c)
	progressDone()
	s := l.summarize(time.Since(start), count)
	s.Interrupted = interrupt.Err() != nil
	if *asJSON {
		if err := a.printJSON(s); err != nil {
			return err
		}
	} else {
		a.printLoad(s)
	}
	switch {
	case s.Interrupted:
		return errInterrupted
	case s.OK < s.Requests:
		return &failure{fmt.Sprintf("%d of %d requests failed", s.Requests-s.OK, s.Requests)}
	}
	return nil
}

// printLoad writes the summary for people.
func (a *app) printLoad(s loadSummary) {
	what := fmt.Sprintf("%d requests", s.N)
	if s.Duration != "" {
		what = s.Duration
	}
	fmt.Fprintf(a.stdout, "%s %s, %s, %d at a time", s.Method, s.URL, what, s.Concurrency)
	if s.Interrupted {
		fmt.Fprint(a.stdout, " (interrupted)")
	}
	fmt.Fprintln(a.stdout)
	fmt.Fprintf(a.stdout, "  requests:  %d, %d ok, %d failed, in %.2f s (%.0f req/s)\n", s.Requests, s.OK, s.Requests-s.OK, s.DurationS, s.RPS)
	fmt.Fprintf(a.stdout, "  status:    %s\n", counts(s.Status))
	fmt.Fprintf(a.stdout, "  errors:    %s\n", counts(s.Errors))
	l := s.LatencyMS
	fmt.Fprintf(a.stdout, "  latency:   min %.3f, mean %.3f, p50 %.3f, p90 %.3f, p95 %.3f, p99 %.3f, max %.3f ms\n", l["min"], l["mean"], l["p50"], l["p90"], l["p95"], l["p99"], l["max"])
	fmt.Fprintf(a.stdout, "  tokens:    token requests: %d, replayed after a 401: %d; before sending (token or signature): mean %.3f, max %.3f ms\n", s.TokenExchanges, s.Replays401, s.AuthWaitMS["mean"], s.AuthWaitMS["max"])
}

// counts writes "200: 58, 401: 2", or "none".
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// loadRun is one finauth load: what to send, and what came back.
type loadRun struct {
	flags    *requestFlags
	target   string
	body     []byte
	hc       *http.Client
	n        int           // requests to send, unless duration is set
	duration time.Duration // run for this long instead

	next, done atomic.Int64
	mu         sync.Mutex
	summary    loadSummary
	latencies  []time.Duration
	authWait   time.Duration // summed over the counted requests
	authMax    time.Duration
}

// run sends the requests with c workers until n are sent or ctx ends.
func (l *loadRun) run(ctx context.Context, c int) {
	var g errgroup.Group
	for range c {
		g.Go(func() error {
			var mine []time.Duration
			for ctx.Err() == nil && (l.duration > 0 || l.next.Add(1) <= int64(l.n)) {
				d, counted := l.one(ctx)
				if !counted {
					break
				}
				mine = append(mine, d)
			}
			l.mu.Lock()
			l.latencies = append(l.latencies, mine...)
			l.mu.Unlock()
			return nil
		})
	}
	g.Wait()
}

// one sends a request and counts its outcome; a request cut short because a timed run
// ended is not counted.
func (l *loadRun) one(ctx context.Context) (time.Duration, bool) {
	req, _ := l.flags.newRequest(ctx, l.target, l.body)
	t0 := time.Now()
	var left time.Duration // when the request asked for a connection: finauth's part is done
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GetConn: func(string) {
		if left == 0 {
			left = time.Since(t0)
		}
	}}))
	resp, err := l.hc.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err != nil && ctx.Err() != nil {
		return 0, false // the run ended (its time, or Ctrl-C) while this request was in flight: not counted
	}
	elapsed := time.Since(t0)
	l.done.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.authWait += left
	l.authMax = max(l.authMax, left)
	l.summary.Requests++
	if err != nil {
		l.summary.Errors[errorKind(err)]++
	} else {
		l.summary.Status[fmt.Sprint(resp.StatusCode)]++
		if resp.StatusCode < 400 {
			l.summary.OK++
		}
	}
	return elapsed, true
}

// summarize adds the latency figures (ms, to the microsecond), the rate and the token counts.
func (l *loadRun) summarize(elapsed time.Duration, count counters) loadSummary {
	s := l.summary
	lat := l.latencies
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return ms(lat[min(len(lat)-1, int(p*float64(len(lat))))])
	}
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	s.LatencyMS = map[string]float64{"p50": pct(0.50), "p90": pct(0.90), "p95": pct(0.95), "p99": pct(0.99), "max": pct(1)}
	if len(lat) > 0 {
		s.LatencyMS["min"], s.LatencyMS["mean"] = ms(lat[0]), ms(total/time.Duration(len(lat)))
	} else {
		s.LatencyMS["min"], s.LatencyMS["mean"] = 0, 0
	}
	s.AuthWaitMS = map[string]float64{"mean": 0, "max": ms(l.authMax)}
	if s.Requests > 0 {
		s.AuthWaitMS["mean"] = ms(l.authWait / time.Duration(s.Requests))
	}
	s.DurationS = elapsed.Seconds()
	s.RPS = float64(s.Requests) / elapsed.Seconds()
	s.TokenExchanges, s.Replays401 = count.exchanges(), count.replays()
	return s
}

// errorKind sorts a request error for the summary.
func errorKind(err error) string {
	var ne net.Error
	var te *client.TokenEndpointError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("token_endpoint_%d", te.Status)
	case errors.Is(err, transport.ErrToken):
		return "token"
	case errors.Is(err, transport.ErrOriginNotAllowed):
		return "origin"
	case errors.Is(err, transport.ErrSign), errors.Is(err, transport.ErrBodyTooLarge):
		return "signing"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &ne):
		return "network"
	}
	return "other"
}

// progress draws a bar on stderr while a load runs, when stderr is a terminal.
func (a *app) progress(done *atomic.Int64, n int, d time.Duration, start time.Time) func() {
	if !a.stderrIsTTY {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	draw := func(frac float64) {
		frac = min(frac, 1)
		bar := strings.Repeat("=", int(frac*30)) + strings.Repeat(" ", 30-int(frac*30))
		elapsed := time.Since(start)
		rps := float64(done.Load()) / max(elapsed.Seconds(), 1e-3)
		eta := "--"
		if frac > 0 && frac < 1 {
			eta = (time.Duration(float64(elapsed)/frac) - elapsed).Round(time.Second).String()
		} else if frac >= 1 {
			eta = "0s"
		}
		fmt.Fprintf(a.stderr, "\r[%s] %3.0f%% %d requests, %.0f req/s, ETA %s   ", bar, frac*100, done.Load(), rps, eta)
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		fraction := func() float64 {
			if d > 0 {
				return float64(time.Since(start)) / float64(d)
			}
			return float64(done.Load()) / float64(n)
		}
		for {
			draw(fraction())
			select {
			case <-stop:
				draw(fraction()) // the last frame: 100% unless the run was interrupted
				fmt.Fprintln(a.stderr)
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(stop); <-finished }
}
