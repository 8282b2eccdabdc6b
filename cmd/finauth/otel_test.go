package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/promtest"
)

// A real Prometheus scrapes a finauth load --profile pismo run's exporter
// (OTEL_METRICS_EXPORTER=prometheus) while the mock revokes its tokens twice: the token
// fetches Prometheus stored (finauth_token_fetches_total and the fetch histogram's count)
// agree with the tokens the mock issued, and so does load's own --json summary.
func TestCLI_PrometheusScrapesTheLoadsTelemetry(t *testing.T) {
	t.Parallel()
	exporter := promtest.FreeAddr(t)
	prom := promtest.Start(t, exporter)
	m := newPismoMock(t)
	host, port, _ := strings.Cut(exporter, ":")
	cmd := exec.Command(bin, "load", "--duration", "10s", "-c", "2", "--json", m.URL+"/cards/v1/cards")
	for k, v := range pismoEnv(m) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "OTEL_METRICS_EXPORTER=prometheus", "OTEL_EXPORTER_PROMETHEUS_HOST="+host, "OTEL_EXPORTER_PROMETHEUS_PORT="+port)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	time.Sleep(time.Second)
	m.RevokeAll()
	time.Sleep(1500 * time.Millisecond)
	m.RevokeAll()
	time.Sleep(500 * time.Millisecond)
	want := float64(m.Stats().Exchanges)
	var fetches, count float64
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		fetches, _ = prom.Query(t, `sum(finauth_token_fetches_total{finauth_provider="pismo",finauth_outcome="ok"})`)
		count, _ = prom.Query(t, `sum(finauth_token_fetch_duration_seconds_count{finauth_provider="pismo"})`)
		if fetches == want && count == want {
			break
		}
	}
	if want < 3 || fetches != want || count != want {
		t.Fatalf("the mock issued %v tokens; Prometheus has finauth_token_fetches_total %v, finauth_token_fetch_duration_seconds_count %v\nprometheus: %s\nfinauth: %s", want, fetches, count, prom.Log(), stderr.String())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("load: %v\n%s", err, stderr.String())
	}
	var s loadSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil || float64(s.Telemetry["finauth.token.fetches"]) != want || float64(s.TokenExchanges) != want || s.Telemetry["finauth.signatures"] != int64(want) {
		t.Fatalf("load's summary %+v (%v), want %v token fetches and signatures", s, err, want)
	}
	t.Logf("%v token fetches: the mock, Prometheus and load's summary agree; %d requests", want, s.Requests)
}

// OTEL_TRACES_EXPORTER=console writes the spans to stderr, never into the response body on
// stdout: a call's stdout is exactly the API's answer.
func TestCLI_ConsoleSpansGoToStderr(t *testing.T) {
	t.Parallel()
	m := newPismoMock(t)
	env := pismoEnv(m)
	env["OTEL_TRACES_EXPORTER"] = "console"
	env["OTEL_METRICS_EXPORTER"] = "none"
	r := finauth(t, env, "", "call", m.URL+"/cards/v1/cards")
	if r.code != exitOK || !strings.Contains(r.stderr, `"Name":"finauth.token.fetch"`) || !strings.Contains(r.stderr, `"Name":"POST"`) {
		t.Fatalf("%+v", r)
	}
	if strings.Contains(r.stdout, "finauth.token.fetch") || !json.Valid([]byte(r.stdout)) {
		t.Fatalf("spans in the response body on stdout: %q", r.stdout)
	}
	if r := finauth(t, map[string]string{"OTEL_METRICS_EXPORTER": "carrier-pigeon"}, "", "call", "https://api.example.com/"); r.code != exitUsage || !strings.Contains(r.stderr, "OTEL_METRICS_EXPORTER") {
		t.Fatalf("an unknown exporter: %+v", r)
	}
}
