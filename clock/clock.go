// Package clock is finauth's time source: Now, and timers that call a function. Every part
// that dates or waits takes one (a token cache's lifetimes and refreshes, a signature's exp),
// so that tests run on a fake clock (tokencache/tokencachetest.FakeClock) and in parallel.
// It imports nothing of finauth: a provider that only dates signatures needs no token cache
// for its clock.
package clock

import "time"

// Clock is a time source: Now, and timers that call a function.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not run yet, reporting whether it did so.
	Stop() bool
}

// Real is the wall clock (time.Now and time.AfterFunc).
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc calls time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Monotonic reports that Real's timers run on the monotonic clock (time.AfterFunc): the
// wall clock may pass them by (a suspend), so a scheduler does not sleep long on them.
func (Real) Monotonic() bool { return true }
