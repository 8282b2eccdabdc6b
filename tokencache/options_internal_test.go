package tokencache

import (
	"testing"
	"time"
)

func TestBackoffStaysWithinBounds(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		o := Options{Rand: func() float64 { return r }}.withDefaults()
		prev := time.Duration(0)
		for n := 1; n <= 12; n++ {
			d := o.backoff(n)
			if d < time.Second || d > time.Minute {
				t.Fatalf("rand %v attempt %d: %v outside [1s, 60s]", r, n, d)
			}
			if d < prev {
				t.Fatalf("rand %v attempt %d: %v shorter than the attempt before", r, n, d)
			}
			prev = d
		}
	}
}

func TestScheduleDefaults(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := Options{Rand: func() float64 { return 0 }}.withDefaults()
	for _, c := range []struct {
		lifetime, stale, expired time.Duration
	}{
		{time.Hour, time.Hour - 30*time.Second - 5*time.Minute, time.Hour - 30*time.Second},                  // window capped at 5 min
		{10 * time.Minute, 10*time.Minute - 30*time.Second - 2*time.Minute, 10*time.Minute - 30*time.Second}, // 20% of lifetime
		{10 * time.Second, 3 * time.Second, 5 * time.Second},                                                 // margin halved to 5s, window 20% = 2s
	} {
		t.Run(c.lifetime.String(), func(t *testing.T) {
			stale, expired := o.schedule(now, now.Add(c.lifetime))
			if stale.Sub(now) != c.stale || expired.Sub(now) != c.expired {
				t.Errorf("lifetime %v: stale at %v, expired at %v; want %v, %v", c.lifetime, stale.Sub(now), expired.Sub(now), c.stale, c.expired)
			}
		})
	}
	// Jitter widens the window by up to 10%.
	j := Options{Rand: func() float64 { return 0.999 }}.withDefaults()
	stale, _ := j.schedule(now, now.Add(time.Hour))
	if got := now.Add(time.Hour - 30*time.Second).Sub(stale); got <= 5*time.Minute || got > 5*time.Minute+30*time.Second {
		t.Fatalf("jittered window %v", got)
	}
}
