package telemetry_test

import (
	"testing"
	"time"

	"github.com/finauth/finauth/internal/telemetry"
	"go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// A signature is recorded without allocating: Soldo records one per request, and its
// attribute set and options are built once per algorithm.
func TestRecorder_SignedAllocatesNothing(t *testing.T) {
	r := telemetry.New("soldo", telemetry.Providers{Meter: noop.NewMeterProvider(), Tracer: tracenoop.NewTracerProvider()})
	r.Signed("ES256", time.Millisecond) // builds ES256's options
	if n := testing.AllocsPerRun(1000, func() { r.Signed("ES256", time.Millisecond) }); n != 0 {
		t.Fatalf("Recorder.Signed allocates %v times per call, want 0", n)
	}
}
