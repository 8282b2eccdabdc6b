package version

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestInfo_StringAndModule(t *testing.T) {
	for _, c := range []struct {
		info         Info
		line, module string
	}{
		{Info{Version: "v0.9.0", GoVersion: "go1.26.8"}, "finauth v0.9.0 go1.26.8", "v0.9.0"},
		{Info{Version: "(devel)", Revision: "a25269d239bb54cec8ec5addf3c94f5231b3bb01", Time: "2026-12-07T16:09:24Z", Modified: true, GoVersion: "go1.26.8"},
			"finauth (devel) a25269d239bb 2026-12-07T16:09:24Z (modified) go1.26.8", "devel+a25269d239bb+dirty"},
		{Info{Version: "(devel)", GoVersion: "go1.26.8"}, "finauth (devel) go1.26.8", ""},
		{Info{}, "finauth (no build information)", ""},
	} {
		if got := c.info.String(); got != c.line {
			t.Errorf("%+v: %q, want %q", c.info, got, c.line)
		}
		if got := c.info.module(); got != c.module {
			t.Errorf("%+v: module %q, want %q", c.info, got, c.module)
		}
	}
}

// A binary built inside the clone says which revision it was built from (the build that
// `finauth --version` reports when it is not a tagged release).
func TestBuildInsideTheClone_NamesItsRevision(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skip("not a git checkout")
	}
	// The go command stamps no VCS information in a git worktree (its .git is a file): a
	// clone, as CI's and a user's, is stamped.
	gitDir, _ := exec.Command("git", "rev-parse", "--absolute-git-dir").Output()
	common, _ := exec.Command("git", "rev-parse", "--path-format=absolute", "--git-common-dir").Output()
	if strings.TrimSpace(string(gitDir)) != strings.TrimSpace(string(common)) {
		t.Skip("a git worktree: the go command does not stamp its builds")
	}
	bin := filepath.Join(t.TempDir(), "finauth")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "../../cmd/finauth").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if rev := strings.TrimSpace(string(head))[:12]; !strings.Contains(string(out), rev) || !strings.HasPrefix(string(out), "finauth ") {
		t.Fatalf("--version printed %q, want the revision %s", out, rev)
	}
}
