package pismo_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// Metrics, traces and a hook on every new token. finauth records through the OpenTelemetry
// API into the global providers by default (a service that calls otel.SetMeterProvider and
// otel.SetTracerProvider needs no option); here the providers are given explicitly. The API
// calls themselves get their client spans from otelhttp.NewTransport composed around
// finauth's transport: its span is then the parent of the token fetch a request waits for.
func ExampleWithMeterProvider() {
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-rsa-pkcs8.pem") // test-only key
	if err != nil {
		log.Fatal(err)
	}
	mock, err := pismomock.NewServer(pismomock.Config{Keys: signer.NewKeySet(key.Public()),
		Issuer: "me@tenant", Subject: "me@tenant", Audience: "https://sandbox.pismolabs.io", TenantID: "t", Group: "g"})
	if err != nil {
		log.Fatal(err)
	}
	defer mock.Close()

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)) // in production: your exporter's reader
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	tr, err := pismo.NewTransport(pismo.Config{TokenURL: mock.TokenURL(), Key: key,
		Issuer: "me@tenant", Subject: "me@tenant", Audience: "https://sandbox.pismolabs.io", TenantID: "t", Group: "g"},
		pismo.WithMeterProvider(mp), pismo.WithTracerProvider(tp),
		pismo.WithOnTokenChange(func(c tokencache.TokenChange) {
			// The token's value is yours alone: log its expiry, never the token.
			fmt.Println("new token for", c.Name, "expires in", time.Until(c.Expiry()).Round(time.Hour))
		}),
		pismo.WithOnRefreshError(func(e tokencache.RefreshError) { log.Println("token request failed:", e.Err) }))
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	hc := &http.Client{Transport: otelhttp.NewTransport(tr, otelhttp.WithTracerProvider(tp))}

	for range 3 {
		resp, err := hc.Get(mock.URL + "/cards/v1/cards")
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
	}

	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "finauth.token.fetches" {
			fmt.Println(m.Name, s.DataPoints[0].Value)
		}
	}
	for _, s := range spans.Ended() {
		if s.Name() == "finauth.token.fetch" {
			fmt.Println(s.Name(), "under", s.Parent().IsValid())
		}
	}
	// Output:
	// new token for pismo expires in 1h0m0s
	// finauth.token.fetches 1
	// finauth.token.fetch under true
}
