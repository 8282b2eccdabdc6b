package soldo

import (
	"net/http"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/finauth/finauth/client/internal/settings"
	"github.com/finauth/finauth/clock"
	"github.com/finauth/finauth/internal/absent"
)

// Option adjusts a client built by [NewClient], [NewTransport] or [NewSigner].
type Option func(*options)

type options struct {
	settings.Settings
}

// WithBaseTransport sends API requests through rt (default: client.DefaultTransport()).
func WithBaseTransport(rt http.RoundTripper) Option { return func(o *options) { o.Base = rt } }

// WithClock sets the clock that dates each signature's "exp" (default: the real clock).
func WithClock(c clock.Clock) Option { return func(o *options) { o.Clock = c } }

// WithMeterProvider records the signatures (finauth.signatures,
// finauth.signature.duration) in mp (default: the global MeterProvider,
// otel.GetMeterProvider()).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.Telemetry.Meter = mp }
}

// WithTracerProvider sets the TracerProvider (default: the global one). Soldo's requests
// make no token requests, so finauth records no span of its own for them: compose
// otelhttp.NewTransport around the transport for the API calls.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.Telemetry.Tracer = tp }
}

func collect(opts []Option) *options {
	o := &options{}
	o.Name = "soldo"
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	absent.Clear(o) // a nil of any type given to an option means "none"
	return o
}
