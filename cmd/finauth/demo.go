package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// demoResult is what finauth demo --json prints: one section per provider's leg.
type demoResult struct {
	DurationS     float64           `json:"duration_s"`
	Pismo         pismoDemo         `json:"pismo"`
	Soldo         soldoDemo         `json:"soldo"`
	SoldoBusiness soldoBusinessDemo `json:"soldo_business"`
	Mia           miaDemo           `json:"mia"`
	OAuth2        oauth2Demo        `json:"oauth2"`
	Revolut       revolutDemo       `json:"revolut"`
	Failures      []string          `json:"failures"`
	AllOK         bool              `json:"all_ok"`
}

// demoer is a provider with a leg in finauth demo.
type demoer interface {
	provider
	demo() demoLeg
}

// demoLeg is one provider's part of the demo: a strict mock of its own on loopback,
// throwaway keys, and traffic through the provider's client.
type demoLeg interface {
	// start starts the mock and builds the client, and says what the mock checks.
	start(say sayFunc) error
	// kinds is how many kinds of request the leg sends during the traffic (0: none).
	kinds() int
	// send makes worker w's i-th request of kind k; the client and its expected status.
	send(k, w, i int) (*http.Client, *http.Request, int)
	// midway happens half way through the traffic (a revocation).
	midway()
	// after runs once the traffic is over (a flow of its own); an error is a failure.
	after(say sayFunc) error
	// report fills the leg's section of the result and says whether all went well.
	report(res *demoResult, reqs, oks int) bool
	// describe says in words what the leg saw.
	describe(say sayFunc, res demoResult)
	close()
}

type sayFunc func(format string, args ...any)

func (a *app) demo(args []string) error {
	fs := a.newFlags("demo", "demo [--json] [--duration 8s]")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	duration := fs.Duration("duration", 8*time.Second, "how long to run the traffic (at most 25s)")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	if *duration <= 0 || *duration > 25*time.Second {
		return usagef("--duration must be in (0, 25s]")
	}
	say := func(format string, args ...any) {
		if !*asJSON {
			fmt.Fprintf(a.stdout, format+"\n", args...)
		}
	}
	start := time.Now()
	say("finauth demo: strict Pismo, Soldo, Mia-Platform and Revolut mocks on loopback, throwaway keys, %v of traffic.", *duration)
	d := &demoRun{}
	defer d.close()
	for _, p := range serving[demoer]() {
		leg := p.demo()
		if err := leg.start(say); err != nil {
			return fmt.Errorf("starting the %s mock: %w", p.name(), err)
		}
		d.legs = append(d.legs, &demoLegRun{leg: leg, name: p.name()})
	}
	say("  Running 8 workers; at %v the midway revocations happen.", *duration/2)
	res := d.run(*duration, say)
	res.DurationS = time.Since(start).Seconds()
	if *asJSON {
		if err := a.printJSON(res); err != nil {
			return err
		}
	} else {
		say("")
		for _, l := range d.legs {
			l.leg.describe(say, res)
		}
		if res.AllOK {
			say("Every request succeeded, in %.1f s.", res.DurationS)
		} else {
			say("Some requests failed:")
			for _, f := range res.Failures {
				say("  %s", f)
			}
		}
	}
	if !res.AllOK {
		return &failure{"the demo saw failed requests"}
	}
	return nil
}

// demoRun is the demo's legs and what its traffic saw.
type demoRun struct {
	legs     []*demoLegRun
	mu       sync.Mutex
	failures []string
}

type demoLegRun struct {
	leg       demoLeg
	name      string
	reqs, oks atomic.Int64
}

func (d *demoRun) close() {
	for _, l := range d.legs {
		l.leg.close()
	}
}

// run sends the demo's traffic for duration with 8 workers, calls every leg's midway half
// way, then every leg's after, and returns what happened.
func (d *demoRun) run(duration time.Duration, say sayFunc) demoResult {
	type slot struct {
		l *demoLegRun
		k int
	}
	var slots []slot
	for _, l := range d.legs {
		for k := range l.leg.kinds() {
			slots = append(slots, slot{l, k})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var g errgroup.Group
	g.Go(func() error {
		select {
		case <-time.After(duration / 2):
			for _, l := range d.legs {
				l.leg.midway()
			}
		case <-ctx.Done():
		}
		return nil
	})
	for w := range 8 {
		g.Go(func() error {
			for i := 0; ctx.Err() == nil && len(slots) > 0; i++ {
				s := slots[(w+i)%len(slots)]
				d.do(s.l, s.k, w, i)
				time.Sleep(2 * time.Millisecond) // pacing: a service's traffic, not a flood
			}
			return nil
		})
	}
	g.Wait()
	for _, l := range d.legs {
		if err := l.leg.after(say); err != nil {
			d.fail("%s: %v", l.name, err)
		}
	}
	var res demoResult
	ok := true
	for _, l := range d.legs {
		ok = l.leg.report(&res, int(l.reqs.Load()), int(l.oks.Load())) && ok
	}
	d.mu.Lock()
	res.Failures = append([]string{}, d.failures...)
	d.mu.Unlock()
	res.AllOK = ok && len(res.Failures) == 0
	return res
}

func (d *demoRun) do(l *demoLegRun, k, w, i int) {
	hc, req, want := l.leg.send(k, w, i)
	l.reqs.Add(1)
	resp, err := hc.Do(req)
	if err != nil {
		d.fail("%s %s: %v", req.Method, req.URL.Path, err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		d.fail("%s %s: %s", req.Method, req.URL.Path, resp.Status)
		return
	}
	l.oks.Add(1)
}

func (d *demoRun) fail(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.failures) < 20 {
		d.failures = append(d.failures, fmt.Sprintf(format, args...))
	}
}

// demoBody is the JSON body of worker w's i-th request.
func demoBody(w, i int) []byte {
	return []byte(fmt.Sprintf(`{"worker": %d, "n": %d, "amount": "10.00"}`, w, i))
}
