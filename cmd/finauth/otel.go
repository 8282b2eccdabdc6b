package main

import (
	"context"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// otelHelp documents the OpenTelemetry variables call and load read.
const otelHelp = `
environment (OpenTelemetry, read by call and load; see docs/observability.md):
  OTEL_METRICS_EXPORTER    prometheus (serves /metrics while the command runs, on
                           OTEL_EXPORTER_PROMETHEUS_HOST:OTEL_EXPORTER_PROMETHEUS_PORT,
                           default localhost:9464), otlp (OTEL_EXPORTER_OTLP_ENDPOINT), console
                           (stderr) or none (the default)
  OTEL_TRACES_EXPORTER     otlp, console (stderr, never mixed with a response on stdout) or none
                           (the default)
  OTEL_SERVICE_NAME        the service name (default finauth)
`

// telemetryRun is the OpenTelemetry SDK of one call or load: a MeterProvider whose readers
// are OTEL_METRICS_EXPORTER's and load's summary, and a TracerProvider when
// OTEL_TRACES_EXPORTER asks for one. The providers are given to the profile's transport, not
// installed globally.
type telemetryRun struct {
	meter   *sdkmetric.MeterProvider
	tracer  *sdktrace.TracerProvider // nil: no traces
	summary *sdkmetric.ManualReader
}

// startTelemetry sets up the SDK from the OTEL_* variables.
func (a *app) startTelemetry(ctx context.Context) (*telemetryRun, error) {
	res := resource.Default()
	if v, _ := a.lookup("OTEL_SERVICE_NAME"); v == "" {
		res, _ = resource.Merge(res, resource.NewSchemaless(attribute.String("service.name", "finauth")))
	}
	t := &telemetryRun{summary: sdkmetric.NewManualReader()}
	opts := []sdkmetric.Option{sdkmetric.WithReader(t.summary), sdkmetric.WithResource(res)}
	switch v, _ := a.lookup("OTEL_METRICS_EXPORTER"); v {
	case "", "none":
	case "console":
		exp, err := stdoutmetric.New(stdoutmetric.WithWriter(a.stderr))
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	default:
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, usagef("OTEL_METRICS_EXPORTER=%s: %v (use prometheus, otlp, console or none)", v, err)
		}
		opts = append(opts, sdkmetric.WithReader(r))
	}
	t.meter = sdkmetric.NewMeterProvider(opts...)
	var exp sdktrace.SpanExporter
	switch v, _ := a.lookup("OTEL_TRACES_EXPORTER"); v {
	case "", "none":
		return t, nil
	case "console":
		e, err := stdouttrace.New(stdouttrace.WithWriter(a.stderr))
		if err != nil {
			t.shutdown()
			return nil, err
		}
		exp = e
	default:
		e, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			t.shutdown()
			return nil, usagef("OTEL_TRACES_EXPORTER=%s: %v (use otlp, console or none)", v, err)
		}
		exp = e
	}
	t.tracer = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	// The W3C trace context goes out with the token requests (stateless: safe to set for the
	// process).
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return t, nil
}

// tracerProvider is the run's TracerProvider, or a no-op one without traces.
func (t *telemetryRun) tracerProvider() trace.TracerProvider {
	if t.tracer == nil {
		return tracenoop.NewTracerProvider()
	}
	return t.tracer
}

// shutdown flushes and stops the exporters (the Prometheus endpoint closes), for at most 5 s.
func (t *telemetryRun) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if t.tracer != nil {
		t.tracer.Shutdown(ctx)
	}
	t.meter.Shutdown(ctx)
}

// telemetryCounts are the counters load's summary reports, as the SDK measured them.
func (t *telemetryRun) counts() map[string]int64 {
	var rm metricdata.ResourceMetrics
	out := map[string]int64{"finauth.token.fetches": 0, "finauth.token.replays": 0, "finauth.signatures": 0}
	if err := t.summary.Collect(context.Background(), &rm); err != nil {
		return out
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if _, ok := out[m.Name]; !ok {
				continue
			}
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, p := range s.DataPoints {
					out[m.Name] += p.Value
				}
			}
		}
	}
	return out
}
