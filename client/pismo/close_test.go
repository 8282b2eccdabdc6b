package pismo_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/internal/testwait"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// A request whose exchange is cut by Close, and every request after it, fail with
// tokencache.ErrClosed, not with "token endpoint unreachable: context canceled".
func TestTransport_RequestsDuringAndAfterCloseGetErrClosed(t *testing.T) {
	t.Parallel()
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-rsa-pkcs8.pem")
	if err != nil {
		t.Fatal(err)
	}
	mock, err := pismomock.NewServer(pismomock.Config{Keys: signer.NewKeySet(key.Public()), Issuer: "i", Subject: "s", Audience: "a", TenantID: "t", Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	defer mock.Close()
	mock.SetLatency(time.Minute) // the exchange hangs until Close cuts it
	rt, err := pismo.NewTransport(pismo.Config{TokenURL: mock.TokenURL(), Key: key, Issuer: "i", Subject: "s", Audience: "a", TenantID: "t", Group: "g"})
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
