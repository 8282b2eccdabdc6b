package doccheck

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/client/soldo/business"
	"github.com/finauth/finauth/tokencache/redisstore"
)

// goBlock is one ```go block of a page: where it is, what precedes it (the "given" comment),
// and its text.
type goBlock struct {
	page  string
	line  int
	given string
	text  string
}

// pages are README.md and every page under docs/, relative to the module root.
func pages(t *testing.T, root string) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md under %s: %v", root, err)
	}
	out := []string{filepath.Join(root, "README.md")}
	return append(out, docs...)
}

var givenRE = regexp.MustCompile(`^<!-- given: (.*) -->$`)

// goBlocks returns the ```go blocks of file, each with the "<!-- given: ... -->" comment on
// the line before its fence, if any.
func goBlocks(t *testing.T, file string) []goBlock {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []goBlock
	var cur *goBlock
	prev := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur == nil && l == "```go":
			cur = &goBlock{page: file, line: n}
			if m := givenRE.FindStringSubmatch(strings.TrimSpace(prev)); m != nil {
				cur.given = m[1]
			}
		case cur != nil && strings.TrimSpace(l) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			// An indented block (inside a list item) keeps its Go indentation.
			cur.text += l + "\n"
		}
		prev = l
	}
	return out
}

// stdImports are imported into every fragment, so that a snippet need not repeat them; the
// ones it does not use are not an error.
var stdImports = []string{"bytes", "context", "crypto/tls", "encoding/json", "errors", "fmt", "io", "log", "log/slog", "net/http", "os", "strings", "time"}

// source turns a block into a Go file: a whole file ("package ...") as it is; otherwise the
// imports at its top are hoisted, the standard ones added, the "given" names declared as
// package variables, and the rest becomes the body of a function.
func source(b goBlock, i int) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(b.text), "package ") {
		return b.text, nil
	}
	var imports []string
	rest := b.text
	for {
		trimmed := strings.TrimLeft(rest, " \t\n")
		switch {
		case strings.HasPrefix(trimmed, "import ("):
			block, after, ok := strings.Cut(trimmed[len("import ("):], ")")
			if !ok {
				return "", fmt.Errorf("an import block without its )")
			}
			for _, l := range strings.Split(block, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					imports = append(imports, l)
				}
			}
			rest = after
			continue
		case strings.HasPrefix(trimmed, "import "):
			l, after, _ := strings.Cut(trimmed, "\n")
			imports = append(imports, strings.TrimPrefix(l, "import "))
			rest = after
			continue
		}
		break
	}
	var src strings.Builder
	fmt.Fprintf(&src, "package snippet%d\n\nimport (\n", i)
	for _, p := range stdImports {
		if !slices.ContainsFunc(imports, func(s string) bool { return strings.HasSuffix(s, strconv.Quote(p)) }) {
			fmt.Fprintf(&src, "\t%q\n", p)
		}
	}
	for _, l := range imports {
		fmt.Fprintf(&src, "\t%s\n", l)
	}
	src.WriteString(")\n\n")
	if b.given != "" {
		fmt.Fprintf(&src, "var (\n\t%s\n)\n\n", strings.ReplaceAll(b.given, "; ", "\n\t"))
	}
	fmt.Fprintf(&src, "func _() {\n%s}\n", rest)
	return src.String(), nil
}

// exportData builds the packages the snippets import (go list -export) and returns where
// each package's export data is, for the gc importer.
func exportData(t *testing.T, root string, paths []string) map[string]string {
	t.Helper()
	args := append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}, paths...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v\n%s", err, stderr.String())
	}
	files := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, file, _ := strings.Cut(l, "\t")
		files[path] = file
	}
	return files
}

// Every ```go block of the README and docs/ type-checks against the code as it is: a renamed
// function, a changed signature or a wrong argument fails this test. Fragments are compiled
// as function bodies; names a fragment takes as given (ctx, body, cfg...) are declared by the
// "<!-- given: name Type; ... -->" comment before its fence, which the page does not show.
// Variables and imports a fragment leaves unused are not errors here (the page shows a step,
// not a program); everything else is.
func TestDocs_EveryGoBlockCompiles(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	root, _ := filepath.Abs("../..")
	fset := token.NewFileSet()
	var files []*ast.File
	var blocks []goBlock
	want := map[string]bool{}
	for _, page := range pages(t, root) {
		for _, b := range goBlocks(t, page) {
			src, err := source(b, len(blocks))
			if err != nil {
				t.Errorf("%s:%d: %v", b.page, b.line, err)
				continue
			}
			f, err := parser.ParseFile(fset, fmt.Sprintf("%s:%d", filepath.Base(b.page), b.line), src, parser.ParseComments)
			if err != nil {
				t.Errorf("%s:%d: does not parse: %v\n%s", b.page, b.line, err, src)
				continue
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				want[p] = true
			}
			files = append(files, f)
			blocks = append(blocks, b)
		}
	}
	if len(blocks) < 15 {
		t.Fatalf("found only %d Go blocks in the README and docs/", len(blocks))
	}
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	export := exportData(t, root, paths)
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := export[path]
		if !ok || file == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
	for i, f := range files {
		var errs []string
		conf := types.Config{Importer: imp, Error: func(err error) {
			msg := err.Error()
			if strings.Contains(msg, "declared and not used") || strings.Contains(msg, "imported and not used") {
				return
			}
			errs = append(errs, msg)
		}}
		conf.Check(f.Name.Name, fset, []*ast.File{f}, nil)
		if len(errs) > 0 {
			b := blocks[i]
			t.Errorf("%s:%d: the Go block does not compile:\n\t%s", filepath.Base(b.page), b.line, strings.Join(errs, "\n\t"))
		}
	}
	t.Logf("%d Go blocks type-checked", len(blocks))
}

// Every environment variable the code reads is in docs/configuration.md: every string literal
// of a non-test Go file that names one (PISMO_*, SOLDO_*, MIA_*, REVOLUT_*, FINAUTH_*, MOCK_*,
// OTEL_* excepted: OpenTelemetry's own, documented by it), found by walking the source, not
// listed by hand.
func TestDocs_EveryVariableIsOnTheConfigurationPage(t *testing.T) {
	root, _ := filepath.Abs("../..")
	page, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^"((?:PISMO|SOLDO|MIA|REVOLUT|FINAUTH|MOCK)_[A-Z0-9_]*[A-Z0-9])"$`)
	seen := map[string]string{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "testkit" || d.Name() == "dist") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if m := name.FindStringSubmatch(lit.Value); m != nil {
					rel, _ := filepath.Rel(root, path)
					seen[m[1]] = rel
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// And every variable a configuration reads, asked of the readers themselves (names built
	// from a prefix, MIA_ and OAUTH_, are no literals): a lookup that records each name.
	for reader, read := range map[string]func(func(string) (string, bool)){
		"pismo.ConfigFromLookup":                func(l func(string) (string, bool)) { pismo.ConfigFromLookup(l) },
		"soldo.ConfigFromLookup":                func(l func(string) (string, bool)) { soldo.ConfigFromLookup(l) },
		"business.ConfigFromLookup":             func(l func(string) (string, bool)) { business.ConfigFromLookup(l) },
		"clientcredentials.MiaConfigFromLookup": func(l func(string) (string, bool)) { clientcredentials.MiaConfigFromLookup(l) },
		"clientcredentials.ConfigFromLookup":    func(l func(string) (string, bool)) { clientcredentials.ConfigFromLookup(l) },
		"revolut.ConfigFromLookup":              func(l func(string) (string, bool)) { revolut.ConfigFromLookup(l) },
		"redisstore.FromEnv":                    func(l func(string) (string, bool)) { redisstore.FromEnv(l, nil) },
	} {
		read(func(name string) (string, bool) {
			if _, ok := seen[name]; !ok {
				seen[name] = reader
			}
			return "", false
		})
	}
	if len(seen) < 80 {
		t.Fatalf("found only %d variables in the source", len(seen))
	}
	for v, file := range seen {
		prefix := false // "REVOLUT_NEXT": the prefix of REVOLUT_NEXT_KEY_ID and others, not a variable
		for other := range seen {
			prefix = prefix || strings.HasPrefix(other, v+"_")
		}
		if !prefix && !strings.Contains(string(page), "`"+v+"`") {
			t.Errorf("%s (read in %s) is not in docs/configuration.md", v, file)
		}
	}
}

// Every instrument finauth records (the "finauth.*" constants of internal/telemetry but the
// span names, found in its source) is in docs/observability.md's table.
func TestDocs_EveryInstrumentIsOnTheObservabilityPage(t *testing.T) {
	root, _ := filepath.Abs("../..")
	page, err := os.ReadFile(filepath.Join(root, "docs", "observability.md"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "internal", "telemetry", "telemetry.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		spec, ok := node.(*ast.ValueSpec)
		if !ok || len(spec.Values) != 1 {
			return true
		}
		lit, ok := spec.Values[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING || strings.HasPrefix(spec.Names[0].Name, "Span") {
			return true // a span's name is not an instrument
		}
		name, _ := strconv.Unquote(lit.Value)
		if !strings.HasPrefix(name, "finauth.") {
			return true
		}
		n++
		if !strings.Contains(string(page), "| `"+name+"` |") {
			t.Errorf("%s (%s) is not in docs/observability.md's table of instruments", name, spec.Names[0].Name)
		}
		return true
	})
	if n < 10 {
		t.Fatalf("found only %d instruments", n)
	}
}
