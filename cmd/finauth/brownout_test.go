package main

import (
	"os"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/redistest"
)

// Issue 32 (3): a Redis brownout (every reply late, but under the store's timeout) returns
// no 401 to a caller. Five finauth load replicas share the Pismo token through a Redis whose
// every reply a proxy delays 40 ms, then 80 ms, while each token is revoked after 300 uses;
// the same fleet with no Redis runs beside them for the throughput to compare. Before, a
// token handed to the fleet cost about seven sequential round trips: at +80 ms the breaker
// never opened, 38-50 requests per run came back 401 (each replay's token spent before it
// arrived) and throughput fell 6-9 times. Now the handoff is two round trips and the breaker
// opens on replies slower than FINAUTH_REDIS_SLOW_REPLY (each replica then caches alone).
//
// The run is 3 s per leg; FINAUTH_BROWNOUT_RUN=20s runs longer (the figures in the note).
// Throughput is logged, not asserted: the suite runs beside other tests.
func TestCLI_ARedisBrownoutReturnsNo401(t *testing.T) {
	t.Parallel()
	run := 3 * time.Second
	if v := os.Getenv("FINAUTH_BROWNOUT_RUN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("FINAUTH_BROWNOUT_RUN=%q is not a positive duration", v)
		}
		run = d
	}
	legs := []struct {
		name  string
		redis bool
		delay time.Duration
	}{{"no Redis", false, 0}, {"Redis +40 ms", true, 40 * time.Millisecond}, {"Redis +80 ms", true, 80 * time.Millisecond}}
	var alone float64
	for _, leg := range legs {
		m := newPismoMock(t)
		m.RevokeEvery(300)
		url, during := "", func() {}
		if leg.redis {
			srv := redistest.Start(t)
			p := redistest.StartProxy(t, srv.Addr)
			url = "redis://:" + srv.Password + "@" + p.Addr + "/0"
			during = func() {
				// The brownout comes once the fleet shares its token (its connections open).
				time.Sleep(run / 4)
				p.SetDelay(leg.delay)
			}
		}
		sums := replicasOn(t, 5, m, url, during, "--duration", run.String(), "-c", "8")
		var rps float64
		var requests, status401 int
		for i, s := range sums {
			rps += s.RPS
			requests += s.Requests
			status401 += s.Status["401"]
			if s.Requests == 0 || s.OK != s.Requests || s.Status["401"] != 0 {
				t.Errorf("%s, replica %d: %d of %d ok, status %v, errors %v, store %+v", leg.name, i, s.OK, s.Requests, s.Status, s.Errors, s.Store)
			}
		}
		if !leg.redis {
			alone = rps
		}
		st := m.Stats()
		t.Logf("%s: %d requests, %.0f/s (%.0f%% of the fleet with no Redis), %d answered 401; %d tokens revoked, %d exchanges",
			leg.name, requests, rps, 100*rps/alone, status401, st.Revoked, st.Exchanges)
		for i, s := range sums {
			t.Logf("  replica %d: %.0f/s, replays %d, auth wait %v ms, store %+v", i, s.RPS, s.Replays401, s.AuthWaitMS, s.Store)
		}
	}
}
