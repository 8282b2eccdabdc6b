package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/transport"
	"golang.org/x/sync/errgroup"
)

// loadSummary is the JSON summary of finauth load.
type loadSummary struct {
	Profile     string         `json:"profile"`
	URL         string         `json:"url"`
	Method      string         `json:"method"`
	Concurrency int            `json:"concurrency"`
	N           int            `json:"n,omitempty"`
	Duration    string         `json:"duration,omitempty"`
	Interrupted bool           `json:"interrupted"`
	Requests    int            `json:"requests"`
	OK          int            `json:"ok"`
	Status      map[string]int `json:"status"`
	Errors      map[string]int `json:"errors"`
	// FirstError is the first failed request's error, as call would print it (redacted).
	FirstError     string             `json:"first_error,omitempty"`
	TokenExchanges uint64             `json:"token_exchanges"`
	Replays401     uint64             `json:"replays_401"`
	LatencyMS      map[string]float64 `json:"latency_ms"`
	AuthWaitMS     map[string]float64 `json:"auth_wait_ms"` // getting a token (or signing) before the request left: mean, max
	DurationS      float64            `json:"duration_s"`
	RPS            float64            `json:"rps"`
	// Telemetry are the counters as finauth's OpenTelemetry instruments measured them
	// (finauth.token.fetches, finauth.token.replays, finauth.signatures).
	Telemetry map[string]int64 `json:"telemetry,omitempty"`
	// Store are the shared token store's counters (with FINAUTH_REDIS_URL).
	Store *storeSummary `json:"store,omitempty"`
}

// storeSummary is what load says of the shared token store: its Redis calls and its
// circuit breaker (open: the replica works alone until Redis answers again).
type storeSummary struct {
	Loads         uint64 `json:"loads"`
	Hits          uint64 `json:"hits"`
	Saves         uint64 `json:"saves"`
	Deletes       uint64 `json:"deletes"`
	LocksTaken    uint64 `json:"locks_taken"`
	LocksBusy     uint64 `json:"locks_busy"`
	Waits         uint64 `json:"waits"`
	Errors        uint64 `json:"errors"`
	Refused       uint64 `json:"refused"`
	BreakerOpens  uint64 `json:"breaker_opens"`
	SlowOpens     uint64 `json:"breaker_slow_opens"` // of BreakerOpens, those for replies over FINAUTH_REDIS_SLOW_REPLY
	BreakerOpen   bool   `json:"breaker_open"`
	Undecryptable uint64 `json:"undecryptable,omitempty"`
}

func (a *app) load(args []string) error {
	r := a.newRequestFlags("load", "load [--profile "+profileNames()+"] [-n N] [-c C] [--duration D] [-X METHOD] [--data ..] [--json] URL")
	fs := r.f
	n := fs.Int("n", 100, "number of requests (ignored with --duration)")
	c := fs.Int("c", 8, "concurrency")
	duration := fs.Duration("duration", 0, "run for this long instead of -n requests")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	pos, err := r.f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("load needs the URL")
	}
	if *duration < 0 {
		return usagef("--duration %v: give a positive duration (e.g. 30s)", *duration)
	}
	if *c < 1 || (*duration == 0 && *n < 1) {
		return usagef("-c and -n must be at least 1 (or give --duration)")
	}
	body, err := r.body(a)
	if err != nil {
		return err
	}
	s, err := r.open(a, pos[0])
	if err != nil {
		return err
	}
	defer s.close()
	if _, err := r.build(context.Background(), s, pos[0], body); err != nil {
		return err
	}
	interrupt, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx := interrupt
	start := time.Now() // before the deadline is set: a timed run's last frame reads 100%
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	l := &loadRun{req: r, session: s, target: pos[0], body: body, hc: &http.Client{Transport: s.rt}, n: *n, duration: *duration,
		summary: loadSummary{Profile: *r.profile, URL: redact.URL(pos[0]), Method: strings.ToUpper(*r.method), Concurrency: *c, Status: map[string]int{}, Errors: map[string]int{}}}
	if *duration > 0 {
		l.summary.Duration = duration.String()
	} else {
		l.summary.N = *n
	}
	progressDone := a.progress(&l.done, *n, *duration, start)
	l.run(ctx, *c)
	progressDone()
	sum := l.summarize(time.Since(start))
	sum.Interrupted = interrupt.Err() != nil
	if s.telemetry != nil {
		sum.Telemetry = s.telemetry.counts()
	}
	if a.store != nil {
		st := a.store.Stats()
		sum.Store = &storeSummary{Loads: st.Loads, Hits: st.Hits, Saves: st.Saves, Deletes: st.Deletes, LocksTaken: st.LocksTaken,
			LocksBusy: st.LocksBusy, Waits: st.Waits, Errors: st.Errors, Refused: st.Refused, BreakerOpens: st.BreakerOpens, SlowOpens: st.SlowOpens,
			BreakerOpen: st.Open, Undecryptable: st.Undecryptable}
	}
	if *asJSON {
		if err := a.printJSON(sum); err != nil {
			return err
		}
	} else {
		a.printLoad(sum)
	}
	switch {
	case sum.Interrupted:
		return errInterrupted
	case sum.OK < sum.Requests:
		return &failure{fmt.Sprintf("%d of %d requests failed", sum.Requests-sum.OK, sum.Requests)}
	}
	return nil
}

// printLoad writes the summary for people.
func (a *app) printLoad(s loadSummary) {
	what := fmt.Sprintf("%d requests", s.N)
	if s.Duration != "" {
		what = s.Duration
	}
	fmt.Fprintf(a.stdout, "%s %s (profile %s), %s, %d at a time", s.Method, s.URL, s.Profile, what, s.Concurrency)
	if s.Interrupted {
		fmt.Fprint(a.stdout, " (interrupted)")
	}
	fmt.Fprintln(a.stdout)
	fmt.Fprintf(a.stdout, "  requests:  %d, %d ok, %d failed, in %.2f s (%.0f req/s)\n", s.Requests, s.OK, s.Requests-s.OK, s.DurationS, s.RPS)
	fmt.Fprintf(a.stdout, "  status:    %s\n", counts(s.Status))
	fmt.Fprintf(a.stdout, "  errors:    %s\n", counts(s.Errors))
	if s.FirstError != "" {
		fmt.Fprintf(a.stdout, "  first:     %s\n", s.FirstError)
	}
	l := s.LatencyMS
	fmt.Fprintf(a.stdout, "  latency:   min %.3f, mean %.3f, p50 %.3f, p90 %.3f, p95 %.3f, p99 %.3f, max %.3f ms\n", l["min"], l["mean"], l["p50"], l["p90"], l["p95"], l["p99"], l["max"])
	fmt.Fprintf(a.stdout, "  tokens:    token requests: %d, replayed after a 401: %d; before sending (token or signature): mean %.3f, max %.3f ms\n", s.TokenExchanges, s.Replays401, s.AuthWaitMS["mean"], s.AuthWaitMS["max"])
	if st := s.Store; st != nil {
		state := "closed (shared)"
		if st.BreakerOpen {
			state = "open (working alone until Redis answers)"
		}
		fmt.Fprintf(a.stdout, "  store:     %d loads (%d hits), %d saves, %d locks taken, %d busy, %d waits; %d Redis errors, %d refused; breaker opened %d times (%d for slow replies), now %s\n",
			st.Loads, st.Hits, st.Saves, st.LocksTaken, st.LocksBusy, st.Waits, st.Errors, st.Refused, st.BreakerOpens, st.SlowOpens, state)
	}
}

// counts writes "200: 58, 401: 2", or "none".
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// loadRun is one finauth load: what to send, and what came back.
type loadRun struct {
	req      *request
	session  *session
	target   string
	body     []byte
	hc       *http.Client
	n        int           // requests to send, unless duration is set
	duration time.Duration // run for this long instead

	next, done atomic.Int64
	mu         sync.Mutex
	summary    loadSummary
	latencies  []time.Duration
	authWait   time.Duration // summed over the counted requests
	authMax    time.Duration
}

// run sends the requests with c workers until n are sent or ctx ends.
func (l *loadRun) run(ctx context.Context, c int) {
	var g errgroup.Group
	for range c {
		g.Go(func() error {
			var mine []time.Duration
			for ctx.Err() == nil && (l.duration > 0 || l.next.Add(1) <= int64(l.n)) {
				d, counted := l.one(ctx)
				if !counted {
					break
				}
				mine = append(mine, d)
			}
			l.mu.Lock()
			l.latencies = append(l.latencies, mine...)
			l.mu.Unlock()
			return nil
		})
	}
	g.Wait()
}

// one sends a request and counts its outcome; a request cut short because a timed run
// ended is not counted.
func (l *loadRun) one(ctx context.Context) (time.Duration, bool) {
	req, _ := l.req.build(ctx, l.session, l.target, l.body)
	t0 := time.Now()
	var left time.Duration // when the request asked for a connection: finauth's part is done
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GetConn: func(string) {
		if left == 0 {
			left = time.Since(t0)
		}
	}}))
	resp, err := l.hc.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err != nil && ctx.Err() != nil {
		return 0, false // the run ended (its time, or Ctrl-C) while this request was in flight: not counted
	}
	elapsed := time.Since(t0)
	l.done.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.authWait += left
	l.authMax = max(l.authMax, left)
	l.summary.Requests++
	if err != nil {
		l.summary.Errors[errorKind(err)]++
		if l.summary.FirstError == "" {
			l.summary.FirstError = firstError(err) // the library's errors are redacted already
		}
	} else {
		l.summary.Status[fmt.Sprint(resp.StatusCode)]++
		if resp.StatusCode < 400 {
			l.summary.OK++
		}
	}
	return elapsed, true
}

// summarize adds the latency figures (ms, to the microsecond), the rate and the token counts.
func (l *loadRun) summarize(elapsed time.Duration) loadSummary {
	s := l.summary
	lat := l.latencies
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return ms(lat[min(len(lat)-1, int(p*float64(len(lat))))])
	}
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	s.LatencyMS = map[string]float64{"p50": pct(0.50), "p90": pct(0.90), "p95": pct(0.95), "p99": pct(0.99), "max": pct(1)}
	if len(lat) > 0 {
		s.LatencyMS["min"], s.LatencyMS["mean"] = ms(lat[0]), ms(total/time.Duration(len(lat)))
	} else {
		s.LatencyMS["min"], s.LatencyMS["mean"] = 0, 0
	}
	s.AuthWaitMS = map[string]float64{"mean": 0, "max": ms(l.authMax)}
	if s.Requests > 0 {
		s.AuthWaitMS["mean"] = ms(l.authWait / time.Duration(s.Requests))
	}
	s.DurationS = elapsed.Seconds()
	s.RPS = float64(s.Requests) / elapsed.Seconds()
	s.TokenExchanges, s.Replays401 = count0(l.session.exchanges), count0(l.session.replays)
	return s
}

// errorKind sorts a request error for the summary.
func errorKind(err error) string {
	var ne net.Error
	var te *client.TokenEndpointError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("token_endpoint_%d", te.Status)
	case errors.Is(err, transport.ErrToken):
		return "token"
	case errors.Is(err, transport.ErrOriginNotAllowed):
		return "origin"
	case errors.Is(err, transport.ErrSign), errors.Is(err, transport.ErrBodyTooLarge):
		return "signing"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &ne):
		return "network"
	}
	return "other"
}

// progress draws a bar on stderr while a load runs, when stderr is a terminal.
func (a *app) progress(done *atomic.Int64, n int, d time.Duration, start time.Time) func() {
	if !a.stderrIsTTY {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	draw := func(frac float64) {
		frac = min(frac, 1)
		bar := strings.Repeat("=", int(frac*30)) + strings.Repeat(" ", 30-int(frac*30))
		elapsed := time.Since(start)
		rps := float64(done.Load()) / max(elapsed.Seconds(), 1e-3)
		eta := "--"
		if frac > 0 && frac < 1 {
			eta = (time.Duration(float64(elapsed)/frac) - elapsed).Round(time.Second).String()
		} else if frac >= 1 {
			eta = "0s"
		}
		fmt.Fprintf(a.stderr, "\r[%s] %3.0f%% %d requests, %.0f req/s, ETA %s   ", bar, frac*100, done.Load(), rps, eta)
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		fraction := func() float64 {
			if d > 0 {
				return float64(time.Since(start)) / float64(d)
			}
			return float64(done.Load()) / float64(n)
		}
		for {
			draw(fraction())
			select {
			case <-stop:
				draw(fraction()) // the last frame: 100% unless the run was interrupted
				fmt.Fprintln(a.stderr)
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(stop); <-finished }
}

// firstError is err as call would print it, without its "finauth: " prefixes, cut at 600
// bytes.
func firstError(err error) string {
	msg := oneFinauth(err.Error())
	if len(msg) > 600 {
		msg = strings.ToValidUTF8(msg[:600], "") + "..."
	}
	return msg
}
