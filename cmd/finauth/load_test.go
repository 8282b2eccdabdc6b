package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/finauth/finauth/testkit/testwait"
)

// Ctrl-C during a load, through the built binary: the summary is printed with "interrupted":
// true, the requests cut short are not counted as failures, and the exit status is 130.
func TestCLI_LoadInterruptedPrintsItsSummaryAndExits130(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "finauth")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	m := newPismoMock(t)
	cmd := exec.Command(bin, "load", "--duration", "60s", "-c", "2", "--json", m.URL+"/cards")
	cmd.Env = os.Environ()
	for k, v := range pismoEnv(m) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testwait.Eventually(t, "requests to flow", func() bool { return m.Stats().APICalls[200] >= 20 })
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var s loadSummary
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted || json.Unmarshal(stdout.Bytes(), &s) != nil {
		t.Fatalf("exit %v\nstdout %s\nstderr %s", err, stdout.String(), stderr.String())
	}
	// The mock answered 20 before the interrupt; the -c 2 in flight then are cut short.
	if !s.Interrupted || s.Requests < 20-2 || s.OK != s.Requests || s.Duration != "1m0s" || s.Concurrency != 2 || s.LatencyMS["p95"] <= 0 || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("summary %+v\nstderr %s", s, stderr.String())
	}
}

func TestCLI_LoadRefusesANegativeDuration(t *testing.T) {
	t.Parallel()
	if r := finauth(t, nil, "", "load", "--duration", "-5s", "https://api.example.com/"); r.code != exitUsage || !strings.Contains(r.stderr, "positive duration") {
		t.Fatalf("%+v", r)
	}
}

// --profile none sends no credentials (the baseline of a load comparison), even with a
// profile's variables set: the server sees no Authorization, and the summary counts no token.
func TestCLI_LoadProfileNoneSendsNoCredentials(t *testing.T) {
	t.Parallel()
	var withAuth, calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "" {
			withAuth.Add(1)
		}
	}))
	defer srv.Close()
	m := newPismoMock(t)
	env := pismoEnv(m)
	r := finauth(t, env, "", "load", "--profile", "none", "-n", "40", "-c", "4", "--json", "-X", "POST", "--data", `{"a":1}`, srv.URL+"/anything")
	var s loadSummary
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &s) != nil {
		t.Fatalf("%+v", r)
	}
	if s.OK != 40 || calls.Load() != 40 || withAuth.Load() != 0 || s.TokenExchanges != 0 || m.Stats().Exchanges != 0 {
		t.Fatalf("summary %+v; %d calls, %d with Authorization, %d tokens", s, calls.Load(), withAuth.Load(), m.Stats().Exchanges)
	}
}

// A load whose requests fail says why with the first error's text beside the counts, and
// --json names its profile (the README's loop over profiles printed objects told apart only
// by their order).
func TestCLI_LoadShowsTheFirstErrorAndItsProfile(t *testing.T) {
	t.Parallel()
	m := newPismoMock(t)
	env := pismoEnv(m)
	env["PISMO_TOKEN_URL"] = m.URL + "/oauth/token"
	r := finauth(t, env, "", "load", "-n", "5", "-c", "1", m.URL+"/cards/v1/cards")
	if !strings.Contains(r.stdout, "(profile pismo)") || !strings.Contains(r.stdout, "first:     Get ") || !strings.Contains(r.stdout, "answered 401 Unauthorized: missing_token") {
		t.Fatalf("%+v", r)
	}
	r = finauth(t, env, "", "load", "--json", "-n", "5", "-c", "1", m.URL+"/cards/v1/cards")
	var sum loadSummary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || sum.Profile != "pismo" || !strings.Contains(sum.FirstError, "/oauth/token answered 401") || strings.Contains(sum.FirstError, "finauth:") {
		t.Fatalf("%v %+v", err, sum)
	}
}
