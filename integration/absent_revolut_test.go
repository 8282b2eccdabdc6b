package integration

import (
	"context"
	"net/http"
	"testing"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/integration/internal/nilopts"
)

// Issue 31 (4), Revolut: every option given a nil of its type (TestProviders_ANilOfAnyTypeIsAbsent
// for the others).
func TestRevolut_ANilOfAnyTypeIsAbsent(t *testing.T) {
	ctx := context.Background()
	opts := nilopts.Options[revolut.Option](t, "../client/revolut", revolut.WithMeterProvider, revolut.WithTracerProvider,
		revolut.WithOnTokenChange, revolut.WithOnRefreshError, revolut.WithClock, revolut.WithLogger, revolut.WithBaseTransport,
		revolut.WithTokenStore, revolut.WithCacheOptions, revolut.WithJWSPredicate)
	m, cfg := revolutSetup(t)
	tr, err := revolut.NewTransport(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	status, ans := postJSON(t, ctx, &http.Client{Transport: tr}, m.URL+"/account-access-consents", map[string]any{"Data": map[string]any{"Permissions": []string{"ReadAccountsBasic"}}})
	if status != http.StatusCreated {
		t.Fatalf("a request with every option nil: %d %v", status, ans)
	}
}
