package tokencache_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/finauth/finauth/testkit/telemetrytest"
	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

// refusal is an error naming its telemetry reason, as a token endpoint's refusal does.
type refusal struct{}

func (refusal) Error() string           { return "refused: invalid_client" }
func (refusal) TelemetryReason() string { return "invalid_client" }

// Through the real SDK: fetches by outcome and reason with their durations, lookups by
// result (hits read from the striped counters at collection), the soonest expiry, and the
// spans: a miss's fetch is a child of the request that waited, a background refresh a root
// linked to the request that found the token stale.
func TestTelemetry_TheCacheRecordsFetchesLookupsExpiryAndSpans(t *testing.T) {
	t.Parallel()
	rec := telemetrytest.New(t)
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{Name: "test", MeterProvider: rec.Meter, TracerProvider: rec.Tracer, NoPrefetch: true})

	reqCtx, reqSpan := rec.Tracer.Tracer("test").Start(context.Background(), "request")
	if _, err := c.Token(reqCtx, "a"); err != nil { // a miss: one fetch, a child of the request
		t.Fatal(err)
	}
	for range 5 {
		mustToken(t, c, "a") // hits
	}
	clock.Advance(staleAfter)
	staleCtx, staleSpan := rec.Tracer.Tracer("test").Start(context.Background(), "stale request")
	if _, err := c.Token(staleCtx, "a"); err != nil { // stale: a background refresh
		t.Fatal(err)
	}
	testwait.Eventually(t, "the background refresh", func() bool { return c.Stats().Fetches == 2 })
	f.failWith(refusal{})
	if _, err := c.Token(context.Background(), "b"); err == nil {
		t.Fatal("a refused fetch gave a token")
	}
	reqSpan.End()
	staleSpan.End()

	ms := rec.Metrics(t)
	for _, c := range []struct {
		name  string
		attrs []string
		want  float64
	}{
		{"finauth.token.fetches", []string{"finauth.provider=test", "finauth.outcome=ok"}, 2},
		{"finauth.token.fetches", []string{"finauth.provider=test", "finauth.outcome=error", "finauth.reason=invalid_client"}, 1},
		{"finauth.token.fetch.duration", []string{"finauth.provider=test"}, 3},
		{"finauth.token.lookups", []string{"finauth.provider=test", "finauth.result=hit"}, 5},
		{"finauth.token.lookups", []string{"finauth.provider=test", "finauth.result=stale"}, 1},
		{"finauth.token.lookups", []string{"finauth.provider=test", "finauth.result=miss"}, 2},
	} {
		if got := telemetrytest.Sum(ms, c.name, c.attrs...); got != c.want {
			t.Errorf("%s %v = %v, want %v", c.name, c.attrs, got, c.want)
		}
	}
	// The new token of a expires an hour after the refresh, at staleAfter.
	if got := telemetrytest.Sum(ms, "finauth.token.expiry", "finauth.provider=test"); got != time.Hour.Seconds() {
		t.Errorf("finauth.token.expiry = %v s, want 3600", got)
	}

	fetches := rec.SpansNamed("finauth.token.fetch")
	if len(fetches) != 3 {
		t.Fatalf("%d fetch spans, want 3", len(fetches))
	}
	miss, bg := fetches[0], fetches[1]
	if miss.Parent().SpanID() != reqSpan.SpanContext().SpanID() || telemetrytest.Attr(miss, "finauth.background") != "false" || telemetrytest.Attr(miss, "finauth.outcome") != "ok" {
		t.Errorf("the miss's fetch span: parent %v, attributes %v", miss.Parent().SpanID(), miss.Attributes())
	}
	if bg.Parent().IsValid() || len(bg.Links()) != 1 || bg.Links()[0].SpanContext.SpanID() != staleSpan.SpanContext().SpanID() || telemetrytest.Attr(bg, "finauth.background") != "true" {
		t.Errorf("the background refresh's span: parent %v, links %v", bg.Parent(), bg.Links())
	}
	if failed := fetches[2]; telemetrytest.Attr(failed, "finauth.reason") != "invalid_client" || failed.Status().Description != "invalid_client" {
		t.Errorf("the refused fetch's span: %v %v", failed.Attributes(), failed.Status())
	}
	if strings.Contains(rec.Text(t), "tok-") || strings.Contains(rec.Text(t), "finauth.key") {
		t.Fatalf("a token or a key in the telemetry:\n%s", rec.Text(t))
	}
}

// Store calls are counted by operation and outcome, and a miss's are spans under its fetch.
func TestTelemetry_StoreCallsAreCountedAndTracedWithinAFetch(t *testing.T) {
	t.Parallel()
	rec := telemetrytest.New(t)
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	c := newCache(t, f, tokencache.Options{Name: "test", MeterProvider: rec.Meter, TracerProvider: rec.Tracer,
		Store: tokencache.NewMemoryStore(clock, 0)})
	mustToken(t, c, "a")
	ms := rec.Metrics(t)
	for _, op := range []string{"load", "save", "lock"} {
		if got := telemetrytest.Sum(ms, "finauth.store.operations", "finauth.op="+op, "finauth.outcome=ok"); got < 1 {
			t.Errorf("store %s: counted %v", op, got)
		}
	}
	fetch := rec.SpansNamed("finauth.token.fetch")
	loads := rec.SpansNamed("finauth.store.load")
	if len(fetch) != 1 || len(loads) == 0 || loads[0].Parent().SpanID() != fetch[0].SpanContext().SpanID() {
		t.Fatalf("%d fetch spans, %d store load spans (parent %v)", len(fetch), len(loads), loads)
	}
	if telemetrytest.Attr(fetch[0], "finauth.source") != "endpoint" {
		t.Fatalf("fetch span attributes %v", fetch[0].Attributes())
	}
}

// counting is a MeterProvider that counts every synchronous measurement made through it.
type counting struct {
	noop.MeterProvider
	calls *atomic.Int64
}

func (c counting) Meter(string, ...metric.MeterOption) metric.Meter {
	return countingMeter{calls: c.calls}
}

type countingMeter struct {
	noop.Meter
	calls *atomic.Int64
}

func (m countingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return countingCounter{calls: m.calls}, nil
}

func (m countingMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return countingHistogram{calls: m.calls}, nil
}

type countingCounter struct {
	noop.Int64Counter
	calls *atomic.Int64
}

func (c countingCounter) Add(context.Context, int64, ...metric.AddOption) { c.calls.Add(1) }

type countingHistogram struct {
	noop.Float64Histogram
	calls *atomic.Int64
}

func (h countingHistogram) Record(context.Context, float64, ...metric.RecordOption) { h.calls.Add(1) }

// countingTracer counts the spans started through it.
type countingTracer struct {
	trace.TracerProvider
	calls *atomic.Int64
}

func (c countingTracer) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return countingSpans{Tracer: c.TracerProvider.Tracer(name, opts...), calls: c.calls}
}

type countingSpans struct {
	trace.Tracer
	calls *atomic.Int64
}

func (c countingSpans) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	c.calls.Add(1)
	return c.Tracer.Start(ctx, name, opts...)
}

// A cache hit never calls into OpenTelemetry: a million hits (by key and by Handle) make no
// measurement and start no span; the hits are read at collection time.
func TestTelemetry_ACacheHitCallsNoOpenTelemetry(t *testing.T) {
	t.Parallel()
	var measurements, spans atomic.Int64
	rec := telemetrytest.New(t)
	f := newFetcher(tokencachetest.NewFakeClock(t0), time.Hour)
	c := newCache(t, f, tokencache.Options{MeterProvider: counting{calls: &measurements},
		TracerProvider: countingTracer{TracerProvider: rec.Tracer, calls: &spans}})
	mustToken(t, c, "a")
	h := c.Handle("a")
	m0, s0 := measurements.Load(), spans.Load()
	if m0 == 0 || s0 == 0 {
		t.Fatalf("the miss made %d measurements and %d spans: the counting providers are not in use", m0, s0)
	}
	ctx := context.Background()
	for range 500_000 {
		if _, err := c.Token(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Token(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if m, s := measurements.Load()-m0, spans.Load()-s0; m != 0 || s != 0 {
		t.Fatalf("a million hits made %d measurements and started %d spans", m, s)
	}
}

// OnTokenChange is told of every new token (fetched, from the Store, Put) with its key and
// expiry; OnRefreshError of every failed fetch, saying whether a token is still served.
func TestTelemetry_TheChangeAndErrorHooks(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	f := newFetcher(clock, time.Hour)
	changes := make(chan tokencache.TokenChange, 10)
	errs := make(chan tokencache.RefreshError, 10)
	store := tokencache.NewMemoryStore(clock, 0)
	c := newCache(t, f, tokencache.Options{Name: "p", Store: store, NoPrefetch: true,
		OnTokenChange: func(c tokencache.TokenChange) { changes <- c }, OnRefreshError: func(e tokencache.RefreshError) { errs <- e }})
	tok := mustToken(t, c, "a")
	if ch := <-changes; ch.Name != "p" || ch.Key != "a" || ch.Token.Value != tok.Value || !ch.Expiry().Equal(t0.Add(time.Hour)) || ch.FromStore {
		t.Fatalf("fetched: %+v", ch)
	}
	// Another process's cache adopts it from the Store.
	other := newCache(t, newFetcher(clock, time.Hour), tokencache.Options{Store: store, OnTokenChange: func(c tokencache.TokenChange) { changes <- c }})
	mustToken(t, other, "a")
	if ch := <-changes; !ch.FromStore || ch.Token.Value != tok.Value || ch.Name != "tokencache" {
		t.Fatalf("adopted: %+v", ch)
	}
	if err := c.Put("b", tokencache.Token{Value: "put", Expiry: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if ch := <-changes; ch.Key != "b" || ch.Token.Value != "put" {
		t.Fatalf("Put: %+v", ch)
	}
	f.failWith(refusal{})
	if _, err := c.Token(context.Background(), "c"); err == nil {
		t.Fatal("no error")
	}
	if e := <-errs; e.Key != "c" || e.Background || e.Serving || !errors.As(e.Err, new(refusal)) {
		t.Fatalf("a failed miss: %+v", e)
	}
	clock.Advance(staleAfter) // a's token is stale: its refresh fails, the token is still served
	mustToken(t, c, "a")
	if e := <-errs; e.Key != "a" || !e.Background || !e.Serving {
		t.Fatalf("a failed refresh ahead: %+v", e)
	}
	// A panicking hook is logged, not crashing the fetch.
	p := newCache(t, newFetcher(clock, time.Hour), tokencache.Options{OnTokenChange: func(tokencache.TokenChange) { panic("hook") }})
	mustToken(t, p, "a")
}
