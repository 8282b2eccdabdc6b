package integration_test

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/client/soldo/business"
	"github.com/finauth/finauth/integration/internal/nilopts"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/redisstore"
)

// Issue 31 (4): a nil of any type means "absent", for every option of every provider: the
// README's Redis snippet (redisstore.FromEnv returns a nil *Store without FINAUTH_REDIS_URL,
// and WithTokenStore(store) wrapped it in a non-nil interface) panicked in NewTransport on
// every laptop without Redis.
func TestProviders_ANilOfAnyTypeIsAbsent(t *testing.T) {
	ctx := context.Background()
	t.Run("pismo", func(t *testing.T) {
		opts := nilopts.Options[pismo.Option](t, "../client/pismo", pismo.WithBaseTransport, pismo.WithTokenHTTPClient, pismo.WithLogger,
			pismo.WithClock, pismo.WithCacheOptions, pismo.WithTokenStore, pismo.WithAccountSelector, pismo.WithMeterProvider,
			pismo.WithTracerProvider, pismo.WithOnTokenChange, pismo.WithOnRefreshError)
		e := newPismo(t, nil, nil, opts...)
		if _, status, err := e.call(ctx, http.MethodGet, "/cards/v1/cards", nil); err != nil || status != http.StatusOK {
			t.Fatalf("a request with every option nil: %d %v", status, err)
		}
	})
	t.Run("clientcredentials", func(t *testing.T) {
		opts := nilopts.Options[clientcredentials.Option](t, "../client/clientcredentials", clientcredentials.WithBaseTransport,
			clientcredentials.WithTokenHTTPClient, clientcredentials.WithLogger, clientcredentials.WithClock, clientcredentials.WithCacheOptions,
			clientcredentials.WithTokenStore, clientcredentials.WithMeterProvider, clientcredentials.WithTracerProvider,
			clientcredentials.WithOnTokenChange, clientcredentials.WithOnRefreshError)
		m, key := newMia(t, nil)
		rt, err := clientcredentials.NewTransport(miaConfig(m, key), opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close()
		resp, err := (&http.Client{Transport: rt}).Get(m.URL + "/orders")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("a request with every option nil: %d", resp.StatusCode)
		}
	})
	t.Run("soldo", func(t *testing.T) {
		opts := nilopts.Options[soldo.Option](t, "../client/soldo", soldo.WithBaseTransport, soldo.WithClock, soldo.WithMeterProvider,
			soldo.WithTracerProvider)
		m := newSoldoMock(t, nil)
		hc := newSoldoClient(t, soldoConfig(t, m.URL, 0), opts...)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.URL+"/accounts", nil)
		doSoldo(t, hc, req)
	})
	t.Run("soldo-business", func(t *testing.T) {
		opts := nilopts.Options[business.Option](t, "../client/soldo/business", business.WithBaseTransport, business.WithTokenHTTPClient,
			business.WithLogger, business.WithClock, business.WithCacheOptions, business.WithTokenStore, business.WithEndpoints,
			business.WithMeterProvider, business.WithTracerProvider, business.WithOnTokenChange, business.WithOnRefreshError)
		m, cfg, _ := soldoBiz(t)
		_, hc := bizClient(t, cfg, opts...)
		if code, body := bizDo(t, hc, http.MethodGet, m.URL+"/business/v2/transactions/tx-1", ""); code != http.StatusOK {
			t.Fatalf("a request with every option nil: %d %s", code, body)
		}
	})
	t.Run("tokencache", func(t *testing.T) {
		o, _ := nilopts.Of(t, reflect.TypeFor[tokencache.Options]())
		c := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
			return tokencache.Token{Value: "t"}, nil
		}, o.Interface().(tokencache.Options))
		defer c.Close()
		if tok, err := c.Token(ctx, "k"); err != nil || tok.Value != "t" {
			t.Fatalf("a cache with every option nil: %v %v", tok, err)
		}
		if s := tokencache.Scope((*redisstore.Store)(nil), "id"); s != nil {
			t.Fatalf("Scope of a nil store = %#v, want nil", s)
		}
	})
}
