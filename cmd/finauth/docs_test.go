package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finauth/finauth/integration/miamock"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/integration/soldobizmock"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/signer"
)

// docPages are the README and every page under docs/ (relative to the module root, sorted),
// and docs reads them all, one after the other, into one text.
func docPages(t *testing.T, root string) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	return append([]string{filepath.Join(root, "README.md")}, pages...)
}

func docs(t *testing.T, root string) string {
	t.Helper()
	var all strings.Builder
	for _, p := range docPages(t, root) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		all.WriteString("\n")
	}
	return all.String()
}

// shellBlocks returns the lines of the plain ```sh blocks of the docs.
func shellBlocks(t *testing.T, readme string) []string {
	t.Helper()
	var lines []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(readme))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "```sh": // not "```sh revolut": the walkthroughs that need a real shell (TestREADME_RevolutWalkthrough)
			in = true
		case strings.HasPrefix(l, "```"):
			in = false
		case in && strings.TrimSpace(l) != "" && !strings.HasPrefix(strings.TrimSpace(l), "#"):
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

// commandOf is a line without the VAR=value assignments before its command.
func commandOf(line string) string {
	rest := line
	for {
		word, after, _ := strings.Cut(rest, " ")
		if !regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=\S*$`).MatchString(word) {
			return rest
		}
		rest = after
	}
}

// words splits a command line the way sh would for these simple lines: quotes, $VAR and
// ${VAR} expansion, and < / > redirections.
func words(line string, env map[string]string) (args []string, in, out string) {
	var cur strings.Builder
	var quote rune
	have := false
	flush := func() {
		if have {
			args = append(args, cur.String())
		}
		cur.Reset()
		have = false
	}
	expand := regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	for _, r := range line {
		switch {
		case quote == '\'' && r != '\'':
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			if quote == r {
				quote = 0
			} else if quote == 0 {
				quote = r
			} else {
				cur.WriteRune(r)
			}
			have = true
		case r == ' ' && quote == 0:
			flush()
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	flush()
	var kept []string
	for i := 0; i < len(args); i++ {
		a := expand.ReplaceAllStringFunc(args[i], func(m string) string { return env[expand.FindStringSubmatch(m)[1]] })
		switch a {
		case "<":
			i++
			in = args[i]
		case ">":
			i++
			out = args[i]
		default:
			kept = append(kept, a)
		}
	}
	return kept, in, out
}

// TestDocs_Commands runs every command of the plain ```sh blocks of the README and docs/:
// the openssl lines, the export block (checked against docker-compose.yml), and the whole CLI
// session of docs/cli.md, against in-process mocks set up exactly as docker-compose.yml sets
// up its containers. (Named blocks, "```sh NAME", run whole in a shell: runWalkthrough.)
func TestDocs_Commands(t *testing.T) {
	root, _ := filepath.Abs("../..")
	readme := []byte(docs(t, root))
	compose, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := shellBlocks(t, string(readme))
	env := map[string]string{} // exactly what the README exports
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "export "); ok {
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
	}
	// The exports must describe what docker-compose.yml starts.
	for compVar, readmeVar := range map[string]string{"MOCK_PISMO_ISSUER": "PISMO_ISSUER", "MOCK_PISMO_SUBJECT": "PISMO_SUBJECT", "MOCK_PISMO_AUDIENCE": "PISMO_AUDIENCE", "MOCK_PISMO_TENANT": "PISMO_TENANT_ID", "MOCK_PISMO_GROUP": "PISMO_GROUP", "MOCK_SOLDO_MEMBER": "SOLDO_MEMBER_ID", "MOCK_MIA_CLIENT_ID": "MIA_CLIENT_ID", "MOCK_MIA_ISSUER": "MIA_AUDIENCE",
		"MOCK_SOLDO_BUSINESS_CLIENT_ID": "SOLDO_BUSINESS_CLIENT_ID", "MOCK_SOLDO_BUSINESS_CLIENT_SECRET": "SOLDO_BUSINESS_CLIENT_SECRET", "MOCK_SOLDO_BUSINESS_INTERNAL_TOKEN": "SOLDO_BUSINESS_INTERNAL_TOKEN"} {
		m := regexp.MustCompile(compVar + `: "?([^"\n]+)"?`).FindSubmatch(compose)
		if m == nil || string(m[1]) != env[readmeVar] {
			t.Errorf("docker-compose.yml %s does not match the README's %s=%q", compVar, readmeVar, env[readmeVar])
		}
	}
	if !strings.Contains(string(compose), "--mia-kid="+env["MIA_KEY_ID"]) {
		t.Errorf("docker-compose.yml does not register the README's MIA_KEY_ID %q", env["MIA_KEY_ID"])
	}
	if !strings.Contains(string(compose), "--soldo-kid="+env["SOLDO_KEY_ID"]) {
		t.Errorf("docker-compose.yml does not register the README's SOLDO_KEY_ID %q", env["SOLDO_KEY_ID"])
	}
	// The mocks, configured like docker-compose.yml.
	pk, err := signer.LoadPublicKeysFile(filepath.Join(root, "signer/testdata/keys/test-rsa-public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := pismomock.New(pismomock.Config{Keys: pk, Issuer: env["PISMO_ISSUER"], Subject: env["PISMO_SUBJECT"], Audience: env["PISMO_AUDIENCE"], TenantID: env["PISMO_TENANT_ID"], Group: env["PISMO_GROUP"],
		// The mockserver's defaults (docker-compose.yml's too).
		Clients: map[string]string{"finauth-test-server-key": "finauth-test-client-secret"}, ServerKeys: map[string]string{"finauth-test-server-key": "finauth-test-secret-key"}})
	if err != nil {
		t.Fatal(err)
	}
	sk, err := signer.LoadPublicKeysFile(filepath.Join(root, "signer/testdata/keys/test-ec-p256-public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	sm, err := soldomock.New(soldomock.Config{Members: map[string][]*signer.PublicKey{env["SOLDO_MEMBER_ID"]: {sk.Keys()[0].WithKeyID(env["SOLDO_KEY_ID"])}}})
	if err != nil {
		t.Fatal(err)
	}
	mm, err := miamock.New(miamock.Config{Issuer: env["MIA_AUDIENCE"]})
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := signer.NewKeySet(pk.Keys()[0].WithKeyID(env["MIA_KEY_ID"])).MarshalJSON()
	if err := mm.Register(env["MIA_CLIENT_ID"], jwks); err != nil {
		t.Fatal(err)
	}
	bk, err := signer.LoadPublicKeysFile(filepath.Join(root, "signer/testdata/keys/test-rsa-public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	bm, err := soldobizmock.New(soldobizmock.Config{ClientID: env["SOLDO_BUSINESS_CLIENT_ID"], ClientSecret: env["SOLDO_BUSINESS_CLIENT_SECRET"],
		InternalToken: env["SOLDO_BUSINESS_INTERNAL_TOKEN"], PublicKey: bk.Keys()[0].Key().(*rsa.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	// On free ports, whatever else runs on the README's (docker-compose's mocks, say): the
	// session runs with the README's environment rewritten only in its port numbers. The
	// README's own ports are held busy while it runs, to show that it needs none of them.
	for variable, h := range map[string]http.Handler{"PISMO_API": pm, "SOLDO_API": sm, "MIA_API": mm, "SOLDO_BUSINESS_API_URL": bm} {
		u, err := url.Parse(env[variable])
		if err != nil || u.Hostname() != "localhost" || u.Port() == "" {
			t.Fatalf("the README's %s=%q is not a localhost URL with a port", variable, env[variable])
		}
		if busy, err := net.Listen("tcp", "127.0.0.1:"+u.Port()); err == nil {
			defer busy.Close()
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(l)
		defer srv.Close()
		from, to := "localhost:"+u.Port(), "localhost:"+strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		for k, v := range env {
			env[k] = strings.ReplaceAll(v, from, to)
		}
		for i, line := range lines {
			lines[i] = strings.ReplaceAll(line, from, to)
		}
	}

	// A fresh directory that looks like the clone (its signer/ is the clone's), so the README's
	// relative paths hold as written and the files the session writes land there.
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(root, "signer"), filepath.Join(dir, "signer")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	ran := 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "openssl "):
			args, _, _ := words(l, env)
			if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", l, err, out)
			}
			ran++
		case strings.HasPrefix(commandOf(l), "finauth "):
			lineEnv := maps.Clone(env) // VAR=value before the command: for it alone
			for _, kv := range strings.Fields(strings.TrimSuffix(l, commandOf(l))) {
				k, v, _ := strings.Cut(kv, "=")
				lineEnv[k] = v
			}
			args, in, out := words(commandOf(l), lineEnv)
			stdin := ""
			if in != "" {
				b, err := os.ReadFile(in)
				if err != nil {
					t.Fatalf("%s: %v", l, err)
				}
				stdin = string(b)
			}
			var o, e bytes.Buffer
			a := &app{stdin: strings.NewReader(stdin), stdout: &o, stderr: &e, now: time.Now, lookup: func(k string) (string, bool) { v, ok := lineEnv[k]; return v, ok }}
			if code := a.run(args[1:]); code != exitOK {
				t.Fatalf("%s: exit %d\n%s%s", l, code, o.String(), e.String())
			}
			if out != "" {
				if err := os.WriteFile(out, o.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ran++
		}
	}
	if ran < 17 {
		t.Fatalf("only %d README commands ran", ran)
	}
}

// fencedBlock returns the lines of the docs' blocks fenced "```sh NAME", all of them in the
// order they come (a walkthrough may take several steps, each its own block).
func fencedBlock(t *testing.T, text, name string) string {
	t.Helper()
	var out strings.Builder
	for rest := text; ; {
		_, after, ok := strings.Cut(rest, "```sh "+name+"\n")
		if !ok {
			break
		}
		block, tail, _ := strings.Cut(after, "\n```")
		out.WriteString(block + "\n")
		rest = tail
	}
	if out.Len() == 0 {
		t.Fatalf("the docs have no ```sh %s block", name)
	}
	return out.String()
}

// The README's Revolut walkthrough, run as written by a real shell in a copy of the clone
// (its directories linked, so the files it writes land in the copy): go install of the mock,
// the mock in the background, the wait, the consent, the authorisation through curl, the
// code exchange, the payment, the JWK. Only the port is rewritten (a free one) and the
// finauth under test put first on the PATH, where the Quickstart's go install puts it.
func TestREADME_RevolutWalkthrough(t *testing.T) {
	t.Parallel()
	text, dir := runWalkthrough(t, "revolut", ":8085")
	for _, f := range []string{"consent.json", "payment.json", "signing.pem", "jwks.json", ".revolut-pki/ca.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the walkthrough did not write %s: %v", f, err)
		}
	}
	if !regexp.MustCompile(`consent consent-\S+`).MatchString(text) || !strings.Contains(text, `"DomesticPaymentId"`) ||
		!strings.Contains(text, `"Status": "Pending"`) && !strings.Contains(text, `"Status":"Pending"`) || !strings.Contains(text, `"alg": "PS256"`) || !strings.Contains(text, `"x5c"`) {
		t.Fatalf("the walkthrough:\n%s", text)
	}
}

// "Starting with Revolut from zero" runs as written: a mock with no application, a signing
// key and certificate made with openssl, the JWKS served over HTTPS, the registration, and a
// signed payment consent with the client ID it gave.
func TestREADME_RevolutFromZero(t *testing.T) {
	t.Parallel()
	text, _ := runWalkthrough(t, "revolut-zero", ":8086", ":8444")
	if !regexp.MustCompile(`(?m)^export REVOLUT_CLIENT_ID=client-\S+$`).MatchString(text) || !strings.Contains(text, `"ConsentId"`) ||
		!strings.Contains(text, `"tls_client_auth_dn"`) {
		t.Fatalf("the walkthrough:\n%s", text)
	}
}

// runWalkthrough runs the README's "```sh NAME" block with bash in a copy of the clone
// (symlinks; the files the walkthroughs write are not linked), with finauth on the PATH and
// each of ports (":8085") moved to a free one; it returns the output and the directory.
func runWalkthrough(t *testing.T, name string, ports ...string) (output, dir string) {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "openssl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed; CI must install it", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	root, _ := filepath.Abs("../..")
	block := fencedBlock(t, docs(t, root), name)
	free := map[string]string{}
	for _, p := range ports {
		num := strings.TrimPrefix(p, ":")
		if _, ok := free[num]; !ok {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			free[num] = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			l.Close()
		}
		// ":8085" is replaced where it is written so (an address, a URL); a bare "6390" as a
		// whole word (redis-server --port 6390, and in URLs too).
		re := regexp.MustCompile(regexp.QuoteMeta(p) + `\b`)
		if !strings.HasPrefix(p, ":") {
			re = regexp.MustCompile(`\b` + regexp.QuoteMeta(p) + `\b`)
		}
		if !re.MatchString(block) {
			t.Fatalf("the %s walkthrough no longer uses %s: update this test", name, p)
		}
		block = re.ReplaceAllString(block, strings.TrimSuffix(p, num)+free[num])
	}
	dir = t.TempDir()
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		switch e.Name() {
		case ".git", ".revolut-pki", "finauth", "consent.json", "payment.json", "signing.pem", "jwks.json", "signing.key", "registration.txt":
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	gobin := filepath.Join(dir, "bin")
	os.Mkdir(gobin, 0o755)
	exe, _ := os.ReadFile(bin)
	if err := os.WriteFile(filepath.Join(gobin, "finauth"), exe, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-c", block)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "PATH="+gobin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A block that fails (bash -e) leaves its servers running, holding the output pipes:
	// Run returns 5 s after bash has exited instead of waiting for them (it hung 9.5 min when
	// the Revolut walkthrough failed under load), and they are killed below.
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the servers, if the block did not get to its kill
	}
	if err != nil {
		t.Fatalf("the %s walkthrough: %v\n%s", name, err, out.String())
	}
	return out.String(), dir
}

// Every file a README command writes (keys above all) is ignored by git, so that following
// the README and then "git add ." commits no private key: --out/--pub/-out/-keyout files,
// redirections, heredocs and the mock's PKI directory, in every shell or text block.
func TestREADME_FilesItWritesAreIgnored(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("../..")
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs on a git checkout: .git is missing")
		}
		t.Skip("not a git checkout")
	}
	var text strings.Builder
	for _, p := range docPages(t, root) {
		if filepath.Base(p) == "cli-help.md" {
			continue // usage text (--out FILE), not commands
		}
		b, _ := os.ReadFile(p)
		text.Write(b)
	}
	readme := text.String()
	written := regexp.MustCompile(`(?:--out|--pub|-out|-keyout|--revolut-pki-dir|--output-file)\s+([^\s;|&]+)|(?:^|\s)>\s*([^\s;|&>]+)`)
	seen := map[string]bool{}
	in := false
	sc := bufio.NewScanner(strings.NewReader(string(readme)))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "```"):
			in = !in && !strings.HasPrefix(l, "```go") && !strings.HasPrefix(l, "```json") && !strings.HasPrefix(l, "```yaml")
			if strings.HasPrefix(l, "```go") || strings.HasPrefix(l, "```json") || strings.HasPrefix(l, "```yaml") {
				// skip to the end of that block
				for sc.Scan() && !strings.HasPrefix(sc.Text(), "```") {
				}
			}
			continue
		case !in:
			continue
		}
		for _, m := range written.FindAllStringSubmatch(l, -1) {
			f := m[1] + m[2]
			if f == "" || f == "/dev/null" || strings.HasPrefix(f, "&") || strings.Contains(f, "$") {
				continue
			}
			if strings.Contains(m[0], "--revolut-pki-dir") {
				f += "/" // a directory
			}
			seen[f] = true
		}
	}
	if len(seen) < 8 {
		t.Fatalf("found only %d files written by the README: %v", len(seen), seen)
	}
	t.Logf("files the README writes: %v", slices.Sorted(maps.Keys(seen)))
	for f := range seen {
		if err := exec.Command("git", "-C", root, "check-ignore", "-q", "--no-index", f).Run(); err != nil {
			t.Errorf("%s, which a README line writes, is not ignored by git (.gitignore)", f)
		}
	}
}

// needTools skips the test without each tool, or fails it under CI=true.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed; CI must install it", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
}

// docs/getting-started.md runs as written, its four blocks in one shell: go install of the
// CLI and the mocks, the mocks in the background, a Pismo token and calls, Soldo Business
// calls (a fingerprinted search among them), and three replicas on a real Redis sharing one
// token. Only the ports are moved to free ones.
func TestDocs_GettingStarted(t *testing.T) {
	t.Parallel()
	needTools(t, "redis-server", "redis-cli")
	text, _ := runWalkthrough(t, "getting-started", ":8081", ":8082", ":8083", ":8087", "6390")
	exchanges := regexp.MustCompile(`"token_exchanges": *([0-9]+)`).FindAllStringSubmatch(text, -1)
	sum := 0
	for _, m := range exchanges {
		n, _ := strconv.Atoi(m[1])
		sum += n
	}
	// The three replicas asked for one token in all, which the page promises.
	if len(exchanges) != 3 || sum != 1 {
		t.Errorf("the replicas' token requests: %v (want three lines, 1 in all)\n%s", exchanges, text)
	}
	// And the mock, before and after the replicas: one token more.
	issued := regexp.MustCompile(`"mock":"pismo","tokens_issued":([0-9]+)`).FindAllStringSubmatch(text, -1)
	if len(issued) != 2 {
		t.Fatalf("the mock's counters, before and after: %v\n%s", issued, text)
	}
	before, _ := strconv.Atoi(issued[0][1])
	after, _ := strconv.Atoi(issued[1][1])
	if after != before+1 {
		t.Errorf("the mock issued %d tokens to the three replicas, want 1\n%s", after-before, text)
	}
}

// walkthroughs are the named blocks ("```sh NAME") that tests run whole in a shell.
var walkthroughs = map[string]string{
	"revolut":         "TestREADME_RevolutWalkthrough",
	"revolut-zero":    "TestREADME_RevolutFromZero",
	"getting-started": "TestDocs_GettingStarted",
	"fapi2":           "TestDocs_FAPI2",
}

// docs/fapi2.md's walkthrough runs as written: the strict OAuth mock requiring DPoP proofs,
// nonces and message signatures, and finauth's oauth2 profile passing all of it.
func TestDocs_FAPI2(t *testing.T) {
	t.Parallel()
	text, dir := runWalkthrough(t, "fapi2", ":8088")
	if !strings.Contains(text, `"token_type": "DPoP"`) || !strings.Contains(text, `"bound":true`) || !strings.Contains(text, "oauth2: every check passed") {
		t.Fatalf("the walkthrough:\n%s", text)
	}
	var load struct{ OK int }
	b, _ := os.ReadFile(filepath.Join(dir, "fapi2-load.json"))
	if json.Unmarshal(b, &load) != nil || load.OK != 200 {
		t.Fatalf("the load: %s", b)
	}
	m := regexp.MustCompile(`"signatures_verified":([0-9]+)`).FindStringSubmatch(text)
	if m == nil || m[1] != "201" {
		t.Fatalf("the mock's counters: %s", text)
	}
}

// Every command the README and docs/ give to run is run: each line of a plain ```sh block is
// a finauth or openssl command, or an export, that TestDocs_Commands runs, or a line .ci/run
// runs as it is written; each named ```sh block is a walkthrough a test runs whole. What
// cannot run here (a Docker engine, a real provider, a benchmark or fuzzing run of minutes)
// is a ```text block, shown and not run. No other fence may hold commands.
func TestDocs_EveryShellLineIsRun(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("../..")
	ci, err := os.ReadFile(filepath.Join(root, ".ci/run"))
	if err != nil {
		t.Fatal(err)
	}
	ciLines := map[string]bool{}
	for _, l := range strings.Split(string(ci), "\n") {
		ciLines[strings.TrimSpace(l)] = true
	}
	checked := 0
	for _, page := range docPages(t, root) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, page)
		fence := ""
		for n, l := range strings.Split(string(b), "\n") {
			trimmed := strings.TrimSpace(l)
			if strings.HasPrefix(trimmed, "```") {
				if fence == "" {
					fence = strings.TrimPrefix(trimmed, "```")
					switch name, named := strings.CutPrefix(fence, "sh "); {
					case named && walkthroughs[name] == "":
						t.Errorf("%s:%d: ```sh %s is run by no test (the walkthroughs are %v)", rel, n+1, name, walkthroughs)
					case fence == "bash" || fence == "shell" || fence == "console":
						t.Errorf("%s:%d: a ```%s block: make it ```sh (run by a test) or ```text (shown only)", rel, n+1, fence)
					}
				} else {
					fence = ""
				}
				continue
			}
			if fence != "sh" || trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			cmd, _, _ := strings.Cut(trimmed, " #")
			cmd = strings.TrimSpace(cmd)
			checked++
			switch c := commandOf(cmd); {
			case strings.HasPrefix(c, "finauth "), strings.HasPrefix(c, "openssl "), strings.HasPrefix(cmd, "export "):
			case ciLines[cmd]:
			default:
				t.Errorf("%s:%d: %q is run by no test: a finauth or openssl line, a line of .ci/run, a named walkthrough block, or a ```text block", rel, n+1, cmd)
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d lines of ```sh blocks", checked)
	}
}

// Every link between the pages resolves: a relative link to a file that exists and, with a
// #fragment, to a heading of that page (GitHub's anchors: lower case, punctuation dropped,
// spaces to hyphens).
func TestDocs_LinksResolve(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("../..")
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	anchors := map[string]map[string]bool{}
	anchorsOf := func(file string) map[string]bool {
		if a, ok := anchors[file]; ok {
			return a
		}
		a := map[string]bool{}
		b, _ := os.ReadFile(file)
		in := false
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "```") {
				in = !in
			}
			if h, ok := strings.CutPrefix(l, "#"); ok && !in {
				h = strings.ToLower(strings.TrimSpace(strings.TrimLeft(h, "#")))
				h = regexp.MustCompile(`[^\p{L}\p{N} _-]`).ReplaceAllString(h, "")
				a[strings.ReplaceAll(h, " ", "-")] = true
			}
		}
		anchors[file] = a
		return a
	}
	n := 0
	for _, page := range docPages(t, root) {
		b, _ := os.ReadFile(page)
		rel, _ := filepath.Rel(root, page)
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			n++
			file, frag, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: the link %s: no such file", rel, target)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(path, ".md") && !anchorsOf(path)[frag] {
				t.Errorf("%s: the link %s: no such heading in %s", rel, target, filepath.Base(path))
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d links checked", n)
	}
}

// A page of docs/ longer than 150 lines opens with its contents: a link to each of its "##"
// headings, so a reader finds their way in it.
func TestDocs_LongPagesHaveContents(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("../..")
	for _, page := range docPages(t, root)[1:] {
		b, _ := os.ReadFile(page)
		lines := strings.Split(string(b), "\n")
		if len(lines) <= 150 {
			continue
		}
		in := false
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "```") {
				in = !in
			}
			h, ok := strings.CutPrefix(l, "## ")
			if !ok || in {
				continue
			}
			if !strings.Contains(string(b), "]("+"#"+githubAnchor(h)+")") {
				t.Errorf("%s: %d lines, and its contents do not link to %q", filepath.Base(page), len(lines), h)
			}
		}
	}
}

// githubAnchor is the fragment GitHub gives a heading.
func githubAnchor(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = regexp.MustCompile(`[^\p{L}\p{N} _-]`).ReplaceAllString(h, "")
	return strings.ReplaceAll(h, " ", "-")
}

// helpCommands are the invocations whose --help docs/cli-help.md carries: finauth's own, every
// command's (the commands table), and every sub-command each command's usage names, derived
// from the CLI rather than listed.
func helpCommands(t *testing.T) [][]string {
	t.Helper()
	out := [][]string{{}}
	sub := regexp.MustCompile(`^(?:usage:)?\s*finauth (\S+) ([a-z][a-z-]*(?:\|[a-z][a-z-]*)*)(?:\s|$)`)
	for _, c := range commands {
		out = append(out, []string{c.name})
		var o, e bytes.Buffer
		a := &app{stdin: strings.NewReader(""), stdout: &o, stderr: &e, now: time.Now, lookup: func(string) (string, bool) { return "", false }}
		a.run([]string{c.name, "--help"})
		seen := map[string]bool{}
		for _, l := range strings.Split(o.String()+e.String(), "\n") {
			m := sub.FindStringSubmatch(l)
			if m == nil || m[1] != c.name {
				continue
			}
			for _, name := range strings.Split(m[2], "|") {
				if !seen[name] && !(c.name == "completion") { // completion's are shells, not commands
					seen[name] = true
					out = append(out, []string{c.name, name})
				}
			}
		}
	}
	return out
}

// cliHelp is docs/cli-help.md as the CLI makes it: each invocation's --help, as printed.
func cliHelp(t *testing.T) string {
	t.Helper()
	var page strings.Builder
	page.WriteString("# Every command's --help\n\n")
	page.WriteString("What `finauth ... --help` prints, for every command and sub-command, generated from the CLI\n")
	page.WriteString("itself (a test fails when the two differ; `FINAUTH_UPDATE_DOCS=1 go test -run\n")
	page.WriteString("TestDocs_CLIHelpIsTheCLIs ./cmd/finauth` writes it again). The session and what each\n")
	page.WriteString("command is for: [cli.md](cli.md); the variables: [configuration.md](configuration.md).\n\n")
	var contents, body strings.Builder
	for _, args := range helpCommands(t) {
		title := strings.TrimSpace("finauth " + strings.Join(args, " "))
		var o, e bytes.Buffer
		a := &app{stdin: strings.NewReader(""), stdout: &o, stderr: &e, now: time.Now, lookup: func(string) (string, bool) { return "", false }}
		if code := a.run(append(slices.Clone(args), "--help")); code != exitOK {
			t.Fatalf("%s --help: exit %d\n%s%s", title, code, o.String(), e.String())
		}
		out := strings.TrimRight(o.String()+e.String(), "\n")
		fmt.Fprintf(&contents, "- [%s](#%s)\n", title, githubAnchor(title))
		fmt.Fprintf(&body, "## %s\n\n```text\n%s\n```\n\n", title, out)
	}
	page.WriteString("Contents:\n\n" + contents.String() + "\n" + body.String())
	return strings.TrimRight(page.String(), "\n") + "\n"
}

// docs/cli-help.md is what the CLI prints for --help, command by command: the reference
// cannot drift from the flags.
func TestDocs_CLIHelpIsTheCLIs(t *testing.T) {
	root, _ := filepath.Abs("../..")
	file := filepath.Join(root, "docs", "cli-help.md")
	want := cliHelp(t)
	if os.Getenv("FINAUTH_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(want, "\n")
		for i := range max(len(gl), len(wl)) {
			g, w := "", ""
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("docs/cli-help.md differs from the CLI's --help at line %d:\n  docs: %q\n  CLI:  %q\nFINAUTH_UPDATE_DOCS=1 go test -run TestDocs_CLIHelpIsTheCLIs ./cmd/finauth writes it again", i+1, g, w)
			}
		}
	}
}
