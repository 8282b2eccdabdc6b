package pismo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
)

// newMock starts a strict Pismo mock with the test key registered, and returns it with a
// configuration that passes it.
func newMock(t *testing.T) (*pismomock.Server, pismo.Config) {
	t.Helper()
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-rsa-pkcs8.pem")
	if err != nil {
		t.Fatal(err)
	}
	mock, err := pismomock.NewServer(pismomock.Config{Keys: signer.NewKeySet(key.Public()), Issuer: "i", Subject: "s", Audience: "a", TenantID: "t", Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mock.Close)
	return mock, pismo.Config{TokenURL: mock.TokenURL(), Key: key, Issuer: "i", Subject: "s", Audience: "a", TenantID: "t", Group: "g"}
}

// A request whose exchange is cut by Close, and every request after it, fail with
// tokencache.ErrClosed, not with "token endpoint unreachable: context canceled".
func TestTransport_RequestsDuringAndAfterCloseGetErrClosed(t *testing.T) {
	t.Parallel()
	mock, cfg := newMock(t)
	mock.SetLatency(time.Minute) // the exchange hangs until Close cuts it
	rt, err := pismo.NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: rt}
	during := make(chan error, 1)
	go func() {
		_, err := hc.Get(mock.URL + "/cards")
		during <- err
	}()
	testwait.Eventually(t, "the exchange to start", func() bool { return rt.Stats().Misses == 1 })
	rt.Close()
	for name, err := range map[string]error{"during": <-during, "after": func() error { _, err := hc.Get(mock.URL + "/cards"); return err }()} {
		if !errors.Is(err, tokencache.ErrClosed) || strings.Contains(err.Error(), "unreachable") {
			t.Errorf("%s Close: %v", name, err)
		}
	}
}

// The exchange a request triggers does not run under that request's httptrace hooks: the
// hooks would otherwise see the token endpoint's request (User-Agent finauth), even after
// the caller has returned.
func TestTransport_TheExchangeDoesNotFireTheCallersTraceHooks(t *testing.T) {
	t.Parallel()
	mock, cfg := newMock(t)
	hc, err := pismo.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var tokenRequests, apiRequests atomic.Int64
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteHeaderField: func(k string, v []string) {
			if k == "User-Agent" && len(v) == 1 && v[0] == "finauth" {
				tokenRequests.Add(1)
			} else if k == "Authorization" {
				apiRequests.Add(1)
			}
		},
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, mock.URL+"/cards", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if tokenRequests.Load() != 0 || apiRequests.Load() != 1 || mock.Stats().Exchanges != 1 {
		t.Fatalf("the caller's hooks saw %d token requests and %d API requests", tokenRequests.Load(), apiRequests.Load())
	}
}
