// Package testwait waits in tests for a condition on state, not for elapsed time.
//
// It is one of finauth's test kits (testkit/), for the project's own tests: importable,
// but not part of the API, and changed without notice.
package testwait

import (
	"runtime"
	"testing"
	"time"
)

// Limit is how long Eventually waits before failing the test: generous, so that only a
// condition that never comes true (a bug) fails, never a slow machine.
const Limit = 10 * time.Second

// Eventually waits until cond holds, and fails the test (naming what) when it still does
// not after Limit. It first yields the processor (state changed by goroutines in this
// process comes true within a few scheduling rounds), then polls with a growing pause of at
// most 10 ms (state changed over the network).
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Limit)
	for i := 0; !cond(); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		if i < 100 {
			runtime.Gosched()
			continue
		}
		time.Sleep(min(time.Duration(i-99)*time.Millisecond, 10*time.Millisecond))
	}
}
