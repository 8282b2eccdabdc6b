package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The generator's rules on a description in Soldo's shape: an order kept, a path parameter
// renamed to the order's id field, an order that joins arrays and one without the token left
// out with their reasons, an operation without an order standard.
func TestRun(t *testing.T) {
	spec := `{"info":{"title":"Soldo Business API v2.0","version":"9.9.9"},"paths":{
"/business/v2/transactions/{transactionId}":{"get":{"x-soldo":{"fingerprint-order":"transactionId, token"}},"parameters":[]},
"/business/v2/online-ads/{onlineAdId}":{"put":{"x-soldo":{"fingerprint-order":"id, name,wallet_id, token"}}},
"/business/v2/contacts":{"post":{"x-soldo":{"fingerprint-order":"name, join(concat(a.b, a.c)), token"}}},
"/business/v2/trips/{id}/done":{"post":{"x-soldo":{"fingerprint-order":"request_timestamp, id"}}},
"/business/v2/wallets":{"get":{"summary":"search"}}}}`
	file := filepath.Join(t.TempDir(), "spec.json")
	os.WriteFile(file, []byte(spec), 0o600)
	var out strings.Builder
	if err := run(file, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`const openAPIVersion = "9.9.9"`,
		`{"GET", "/business/v2/transactions/{transactionId}", []string{"transactionId", "token"}}`,
		`{"PUT", "/business/v2/online-ads/{id}", []string{"id", "name", "wallet_id", "token"}}`,
		`{"POST", "/business/v2/contacts", "name, join(concat(a.b, a.c)), token", "joins or concatenates arrays`,
		`{"POST", "/business/v2/trips/{id}/done", "request_timestamp, id", "does not end with the internal token"}`,
		`{"GET", "/business/v2/wallets"}`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %s in\n%s", want, out.String())
		}
	}
}
