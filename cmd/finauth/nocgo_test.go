package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The CLI builds without cgo; a pkcs11: key then fails with exit 2 and says a cgo build is
// needed (after checking the URI, and without its PIN), while an awskms: or file key works.
func TestCLI_WithoutCgoAPKCS11KeySaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI once more")
	}
	t.Parallel()
	exe := filepath.Join(t.TempDir(), "finauth-nocgo")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	out, err := exec.Command(exe, "jwk", "pkcs11:token=t;object=o?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=PIN-1234").CombinedOutput()
	ee, _ := err.(*exec.ExitError)
	if ee == nil || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "built without cgo") || !strings.Contains(string(out), `object "o"`) || strings.Contains(string(out), "PIN-1234") {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := exec.Command(exe, "jwk", keys+"test-ec-p256-pkcs8.pem").CombinedOutput(); err != nil || !strings.Contains(string(out), `"kty": "EC"`) {
		t.Fatalf("a key file without cgo: %v %s", err, out)
	}
}
