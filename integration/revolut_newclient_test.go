package integration

import (
	"testing"

	"github.com/finauth/finauth/client/revolut"
)

// revolut.NewClient's transport is the documented *revolut.Transport, which closes.
func TestRevolut_NewClientsTransportCanBeClosed(t *testing.T) {
	t.Parallel()
	_, cfg := revolutSetup(t)
	hc, err := revolut.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := hc.Transport.(*revolut.Transport)
	if !ok {
		t.Fatalf("NewClient's transport is a %T, not *revolut.Transport", hc.Transport)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}
