package tokencache

import "github.com/finauth/finauth/clock"

// Clock is the time source of a Cache (package clock's): Now, and timers that call a
// function. Tests inject tokencachetest.FakeClock; the default is the real clock.
type Clock = clock.Clock

// Timer is a pending AfterFunc call.
type Timer = clock.Timer

// RealClock is the wall clock (time.Now and time.AfterFunc).
type RealClock = clock.Real
