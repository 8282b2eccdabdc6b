package integration_test

import (
	"net/http"
	"testing"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/client/soldo/business"
)

// Every provider's NewClient documents how to close the client it returns: its Transport is
// the provider's *Transport. Issue 34: pismo.NewClient's client could not be closed. (Revolut's
// is in revolut_newclient_test.go, with its helpers.)
func TestNewClient_TheClientsTransportCanBeClosed(t *testing.T) {
	t.Parallel()
	closers := map[string]func() (*http.Client, error){
		"pismo": func() (*http.Client, error) {
			e := newPismo(t, nil, nil)
			return pismo.NewClient(e.cfg)
		},
		"clientcredentials": func() (*http.Client, error) {
			m, key := newMia(t, nil)
			return clientcredentials.NewClient(miaConfig(m, key))
		},
		"soldo": func() (*http.Client, error) {
			m := newSoldoMock(t, nil)
			return soldo.NewClient(soldoConfig(t, m.URL, 0))
		},
		"soldo-business": func() (*http.Client, error) {
			_, cfg, _ := soldoBiz(t)
			return business.NewClient(cfg)
		},
	}
	for name, build := range closers {
		hc, err := build()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var closeErr error
		switch tr := hc.Transport.(type) {
		case *pismo.Transport:
			closeErr = tr.Close()
		case *clientcredentials.Transport:
			closeErr = tr.Close()
		case *soldo.Transport:
			closeErr = tr.Close()
		case *business.Transport:
			closeErr = tr.Close()
		default:
			t.Fatalf("%s: NewClient's transport is a %T, not the documented *%s.Transport", name, hc.Transport, name)
		}
		if closeErr != nil {
			t.Errorf("%s: Close: %v", name, closeErr)
		}
	}
}
