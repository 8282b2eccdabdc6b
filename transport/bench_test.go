package transport_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/finauth/finauth/internal/telemetry/telemetrytest"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// stub answers every request from memory, as a base transport with no network.
type stub struct{}

func (stub) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// BenchmarkBearerRoundTrip: what the Bearer transport adds to a request, beside the base
// transport alone and golang.org/x/oauth2's Transport over a ReuseTokenSource, first over an
// in-memory stub, then over loopback HTTP.
func BenchmarkBearerRoundTrip(b *testing.B) {
	cache := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: strings.Repeat("t", 48), Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{})
	defer cache.Close()
	src := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: strings.Repeat("t", 48), TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}))
	// The same cache with the real OpenTelemetry SDK recording (finauth+otel beside finauth).
	rec := telemetrytest.New(b)
	otelCache := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: strings.Repeat("t", 48), Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{MeterProvider: rec.Meter, TracerProvider: rec.Tracer})
	defer otelCache.Close()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer srv.Close()
	loopback := srv.Client().Transport.(*http.Transport)
	loopback.MaxIdleConnsPerHost = 64
	defer loopback.CloseIdleConnections() // so that the next round's in-memory runs start without them

	for _, base := range []struct {
		name string
		rt   http.RoundTripper
		url  string
	}{
		{"stub", stub{}, "https://api.example.com/accounts/v1/accounts/123"},
		{"loopback", loopback, srv.URL + "/accounts/v1/accounts/123"},
	} {
		origins, err := transport.NewOrigins([]string{base.url}, false)
		if err != nil {
			b.Fatal(err)
		}
		rts := []struct {
			name string
			rt   http.RoundTripper
		}{
			{"bare", base.rt},
			{"finauth", &transport.Bearer{Base: base.rt, Tokens: cache, Origins: origins}},
			{"finauth+otel", &transport.Bearer{Base: base.rt, Tokens: otelCache, Origins: origins}},
			{"oauth2", &oauth2.Transport{Source: src, Base: base.rt}},
		}
		for _, rt := range rts {
			do := func(b *testing.B) bool {
				req, _ := http.NewRequest(http.MethodGet, base.url, nil)
				req.Header.Set("Accept", "application/json")
				resp, err := rt.rt.RoundTrip(req)
				if err != nil {
					b.Error(err)
					return false
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return true
			}
			b.Run(base.name+"/"+rt.name+"/sequential", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if !do(b) {
						return
					}
				}
			})
			b.Run(base.name+"/"+rt.name+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if !do(b) {
							return
						}
					}
				})
			})
		}
	}
}
