package revolutmock

import (
	"os"
	"path/filepath"
	"testing"
)

// The files of the mock's test PKI are readable by any user: docker-compose's revolut-mock
// (root in its container) writes them into a bind mount the host's user reads, and a
// 0600 root-owned transport key was unreadable there.
func TestPKI_WrittenFilesAreReadableByAnyUser(t *testing.T) {
	p, err := NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "pki")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, TransportKeyFile), []byte("old"), 0o600) // an earlier run's file
	if err := p.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"", CAFile, TransportCertFile, TransportKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o004 == 0 {
			t.Errorf("%s: mode %v, not readable by others", filepath.Join("pki", f), fi.Mode().Perm())
		}
	}
}
