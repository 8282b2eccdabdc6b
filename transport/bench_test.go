package transport_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/finauth/finauth/testkit/telemetrytest"
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

// BenchmarkBearerAddedCost: the cost the Bearer and x/oauth2's Transport each add to a
// request over the in-memory stub, measured in alternating blocks of 1,000 requests within
// one run (bare, finauth, oauth2, bare, ...), so that the machine's drift falls on all three
// alike: finauth-ns and oauth2-ns are each one's time per request less the bare stub's, and
// x-oauth2 their ratio (the goal is at most 0.5).
func BenchmarkBearerAddedCost(b *testing.B) {
	cache := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: strings.Repeat("t", 48), Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{})
	defer cache.Close()
	src := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: strings.Repeat("t", 48), TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}))
	const u = "https://api.example.com/accounts/v1/accounts/123"
	origins, err := transport.NewOrigins([]string{u}, false)
	if err != nil {
		b.Fatal(err)
	}
	rts := []http.RoundTripper{stub{}, &transport.Bearer{Base: stub{}, Tokens: cache, Origins: origins}, &oauth2.Transport{Source: src, Base: stub{}}}
	spent := make([]time.Duration, len(rts))
	const block = 1000
	for _, parallel := range []bool{false, true} {
		name := "sequential"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			clear(spent)
			blocks := max(b.N/block, 1)
			for range blocks {
				for i, rt := range rts {
					start := time.Now()
					run := func(n int) {
						for range n {
							req, _ := http.NewRequest(http.MethodGet, u, nil)
							req.Header.Set("Accept", "application/json")
							resp, err := rt.RoundTrip(req)
							if err != nil {
								b.Error(err)
								return
							}
							resp.Body.Close()
						}
					}
					if parallel {
						var wg sync.WaitGroup
						for range 2 {
							wg.Go(func() { run(block / 2) })
						}
						wg.Wait()
					} else {
						run(block)
					}
					spent[i] += time.Since(start)
				}
			}
			per := func(i int) float64 { return float64(spent[i].Nanoseconds()) / float64(blocks*block) }
			fa, oa := per(1)-per(0), per(2)-per(0)
			b.ReportMetric(per(0), "bare-ns")
			b.ReportMetric(fa, "finauth-ns")
			b.ReportMetric(oa, "oauth2-ns")
			b.ReportMetric(fa/oa, "x-oauth2")
		})
	}
}
