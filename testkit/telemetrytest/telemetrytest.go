// Package telemetrytest records finauth's telemetry through the real OpenTelemetry SDK, for
// tests: a MeterProvider over a ManualReader and a TracerProvider over a SpanRecorder, and
// readers of what they hold. Only tests import it: the library imports the API alone.
//
// It is one of finauth's test kits (testkit/), for the project's own tests: importable,
// but not part of the API, and changed without notice.
package telemetrytest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Recorder holds the SDK providers and what they recorded.
type Recorder struct {
	Meter  *sdkmetric.MeterProvider
	Reader *sdkmetric.ManualReader
	Tracer *sdktrace.TracerProvider
	Spans  *tracetest.SpanRecorder
}

// New returns a Recorder, shut down when the test ends.
func New(t testing.TB) *Recorder {
	r := &Recorder{Reader: sdkmetric.NewManualReader(), Spans: tracetest.NewSpanRecorder()}
	r.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.Reader))
	r.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.Spans))
	t.Cleanup(func() {
		r.Meter.Shutdown(context.Background())
		r.Tracer.Shutdown(context.Background())
	})
	return r
}

// Metrics collects every metric now.
func (r *Recorder) Metrics(t testing.TB) []metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var out []metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		out = append(out, sm.Metrics...)
	}
	return out
}

// matches reports whether set has every key=value of want ("key=value" strings).
// sumPoints is the total of the points whose attributes have every "key=value" of attrs.
func sumPoints[N int64 | float64](points []metricdata.DataPoint[N], attrs []string) float64 {
	var total float64
	for _, p := range points {
		if matches(p.Attributes, attrs) {
			total += float64(p.Value)
		}
	}
	return total
}

func matches(set attribute.Set, want []string) bool {
	for _, kv := range want {
		k, v, _ := strings.Cut(kv, "=")
		got, ok := set.Value(attribute.Key(k))
		if !ok || got.String() != v {
			return false
		}
	}
	return true
}

// Find returns the metric named name, if any.
func Find(ms []metricdata.Metrics, name string) (metricdata.Metrics, bool) {
	i := slices.IndexFunc(ms, func(m metricdata.Metrics) bool { return m.Name == name })
	if i < 0 {
		return metricdata.Metrics{}, false
	}
	return ms[i], true
}

// Sum is the total of name's data points (a sum's values, a histogram's counts, a gauge's
// values) whose attributes have every "key=value" of attrs.
func Sum(ms []metricdata.Metrics, name string, attrs ...string) float64 {
	m, ok := Find(ms, name)
	if !ok {
		return 0
	}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		return sumPoints(d.DataPoints, attrs)
	case metricdata.Sum[float64]:
		return sumPoints(d.DataPoints, attrs)
	case metricdata.Gauge[int64]:
		return sumPoints(d.DataPoints, attrs)
	case metricdata.Gauge[float64]:
		return sumPoints(d.DataPoints, attrs)
	case metricdata.Histogram[float64]:
		var total float64
		for _, p := range d.DataPoints {
			if matches(p.Attributes, attrs) {
				total += float64(p.Count)
			}
		}
		return total
	}
	return 0
}

// Points is the number of name's data points whose attributes have every "key=value".
func Points(ms []metricdata.Metrics, name string, attrs ...string) int {
	m, ok := Find(ms, name)
	if !ok {
		return 0
	}
	n := 0
	each(m, func(set attribute.Set) {
		if matches(set, attrs) {
			n++
		}
	})
	return n
}

// each calls f with the attributes of every data point of m.
func each(m metricdata.Metrics, f func(attribute.Set)) {
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			f(p.Attributes)
		}
	case metricdata.Sum[float64]:
		for _, p := range d.DataPoints {
			f(p.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			f(p.Attributes)
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			f(p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			f(p.Attributes)
		}
	}
}

// Text is everything the Recorder holds as text: every metric's name, description and data
// points' attributes, and every span's name, attributes, events, links, status and
// resource, for a test that searches it for secrets.
func (r *Recorder) Text(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, m := range r.Metrics(t) {
		fmt.Fprintf(&b, "metric %s %s %s\n", m.Name, m.Description, m.Unit)
		each(m, func(set attribute.Set) { fmt.Fprintf(&b, "  %s\n", set.Encoded(attribute.DefaultEncoder())) })
	}
	for _, s := range r.Spans.Ended() {
		fmt.Fprintf(&b, "span %s kind=%v status=%v %q\n", s.Name(), s.SpanKind(), s.Status().Code, s.Status().Description)
		for _, a := range s.Attributes() {
			fmt.Fprintf(&b, "  %s=%s\n", a.Key, a.Value.String())
		}
		for _, e := range s.Events() {
			fmt.Fprintf(&b, "  event %s\n", e.Name)
			for _, a := range e.Attributes {
				fmt.Fprintf(&b, "    %s=%s\n", a.Key, a.Value.String())
			}
		}
		for _, l := range s.Links() {
			fmt.Fprintf(&b, "  link %s\n", l.SpanContext.SpanID())
			for _, a := range l.Attributes {
				fmt.Fprintf(&b, "    %s=%s\n", a.Key, a.Value.String())
			}
		}
		if res := s.Resource(); res != nil {
			fmt.Fprintf(&b, "  resource %s\n", res.Encoded(attribute.DefaultEncoder()))
		}
	}
	return b.String()
}

// SpansNamed returns the ended spans named name.
func (r *Recorder) SpansNamed(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.Spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// Attr is span's attribute key, as text ("" when absent).
func Attr(span sdktrace.ReadOnlySpan, key string) string {
	for _, a := range span.Attributes() {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}
