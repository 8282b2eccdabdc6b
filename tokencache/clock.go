package tokencache

import "time"

// Clock is the time source of a Cache: Now, and timers that call a function. Tests inject
// tokencachetest.FakeClock; the default is the real clock.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not run yet, reporting whether it did so.
	Stop() bool
}

// RealClock is the wall clock (time.Now and time.AfterFunc).
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc calls time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
