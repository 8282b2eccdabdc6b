package telemetry_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The library imports the OpenTelemetry API only: no package of it (the providers, the
// cache, the store, the transports, the signer) depends on the SDK or an exporter. The CLI
// and the tests may.
func TestTheLibraryImportsTheOpenTelemetryAPIOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}",
		"github.com/finauth/finauth/client/...", "github.com/finauth/finauth/tokencache/...", "github.com/finauth/finauth/transport/...",
		"github.com/finauth/finauth/signer/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	api := false
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "go.opentelemetry.io/otel/sdk") || strings.Contains(p, "go.opentelemetry.io/otel/exporters") ||
			strings.HasPrefix(p, "go.opentelemetry.io/contrib") || strings.HasPrefix(p, "github.com/prometheus/") || strings.HasPrefix(p, "google.golang.org/grpc") {
			t.Errorf("the library depends on %s", p)
		}
		api = api || p == "go.opentelemetry.io/otel/metric"
	}
	if !api {
		t.Fatal("the library does not import go.opentelemetry.io/otel/metric: the list is wrong")
	}
}
