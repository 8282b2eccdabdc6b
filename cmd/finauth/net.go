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
	"os"
	"sort"
	"sync"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/redisstore"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// network is what call and load give every profile: extra CA certificates (--cacert), the
// -v trace, and the shared token store.
type network struct {
	cacert       string
	verbose      io.Writer     // -v: the request and response headers go here
	fetchTimeout time.Duration // --fetch-timeout: one token request's bound (0: the default)
	telemetry    *telemetryRun // the OTEL_* variables' SDK
}

// meter is the run's MeterProvider (nil before startTelemetry: the global no-op one).
func (n *network) meter() metric.MeterProvider {
	if n.telemetry == nil {
		return nil
	}
	return n.telemetry.meter
}

// tracer is the run's TracerProvider (a no-op one without OTEL_TRACES_EXPORTER).
func (n *network) tracer() trace.TracerProvider {
	if n.telemetry == nil {
		return nil
	}
	return n.telemetry.tracerProvider()
}

// cacheOptions are the token cache's options of --fetch-timeout.
func (n *network) cacheOptions() tokencache.Options {
	return tokencache.Options{FetchTimeout: n.fetchTimeout}
}

// base is the transport under the provider's: the system roots plus --cacert, and -v's
// trace of what is really sent (credentials redacted); the token client goes through it too.
func (n *network) base() (http.RoundTripper, *http.Client, error) {
	t := client.DefaultTransport()
	if n.cacert != "" {
		pemData, err := os.ReadFile(n.cacert)
		if err != nil {
			return nil, nil, usagef("--cacert: %v", errors.Unwrap(err))
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, nil, usagef("--cacert %s: no PEM certificate in it", n.cacert)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	rt := n.trace(t)
	tokenClient := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return rt, tokenClient, nil
}

// trace wraps t in -v's trace when -v was given.
func (n *network) trace(t http.RoundTripper) http.RoundTripper {
	if n.verbose == nil {
		return t
	}
	return &verboseTransport{base: t, w: n.verbose}
}

// logger is the providers' logger: warnings (a shared store that fails, a consent near its
// end) on stderr.
func (a *app) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// tokenStore is the shared token store FINAUTH_REDIS_URL names (nil without it), so that
// several finauth processes (or finauth and your service) share one token per key; its
// state changes (Redis down, back) are logged on stderr.
func (a *app) tokenStore() (tokencache.Store, func(), error) {
	s, err := redisstore.FromEnv(a.lookup, slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		return nil, func() {}, err
	}
	if s == nil {
		return nil, func() {}, nil
	}
	// Said at once, not found by its effects: a refused password is a configuration error;
	// a Redis that does not answer is a warning (the run goes on, caching alone).
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Check(ctx); errors.Is(err, redisstore.ErrAuth) {
		s.Close()
		return nil, func() {}, usagef("FINAUTH_REDIS_URL: %v", err)
	} else if err != nil {
		fmt.Fprintf(a.stderr, "finauth: warning: %v: this run caches its tokens alone (FINAUTH_REDIS_URL)\n", err)
	}
	a.store = s
	return s, func() { s.Close() }, nil
}

// verboseTransport writes each request and response head to w, the way curl -v does, with
// every credential redacted (redact.Header), and the time each took.
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
		fmt.Fprintf(v.w, "* %s %s failed after %v: %v\n", req.Method, redact.URL(req.URL.String()), time.Since(start).Round(time.Microsecond), err)
		return nil, err
	}
	fmt.Fprintf(v.w, "< %s %s\n", resp.Proto, resp.Status)
	writeHeaders(v.w, "< ", resp.Header)
	fmt.Fprintf(v.w, "* %s %s: %v to the response headers\n", req.Method, redact.URL(req.URL.String()), time.Since(start).Round(time.Microsecond))
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
			fmt.Fprintf(w, "%s%s: %s\n", prefix, k, redact.Header(k, v))
		}
	}
}
