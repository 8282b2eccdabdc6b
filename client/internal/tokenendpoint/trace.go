package tokenendpoint

import (
	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/finauth/finauth/internal/telemetry"
)

// traced makes each token-endpoint HTTP request (each attempt, each redirect) a client span,
// as otelhttp would, with OpenTelemetry's HTTP attributes: the method, the URL without its
// query or user info, the server, the status. The trace context goes out in the request
// headers when a propagator is set (otel.SetTextMapPropagator). No header, body or query is
// recorded.
type traced struct {
	base     http.RoundTripper
	tracer   trace.Tracer
	provider string
}

func (t traced) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	ctx, span := t.tracer.Start(req.Context(), req.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("http.request.method", req.Method),
		attribute.String("url.full", spanURL(req.URL)),
		attribute.String("server.address", req.URL.Hostname()),
		attribute.Int("server.port", port(req.URL)),
		telemetry.AttrProvider.String(t.provider)))
	defer span.End()
	if prop := otel.GetTextMapPropagator(); span.SpanContext().IsValid() && len(prop.Fields()) > 0 {
		req = req.Clone(ctx)
		prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	} else if span.IsRecording() {
		req = req.WithContext(ctx)
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		reason := telemetry.ReasonOf(err)
		span.SetAttributes(attribute.String("error.type", reason))
		span.SetStatus(codes.Error, reason)
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(attribute.String("error.type", strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
	return resp, nil
}

// spanURL is u without user info, query or fragment.
func spanURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
}

// port is u's port, or its scheme's.
func port(u *url.URL) int {
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return p
	}
	if u.Scheme == "http" {
		return 80
	}
	return 443
}
