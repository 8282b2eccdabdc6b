package tokencache

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/testwait"
)

// suspendClock is the real clock with a wall clock that can jump ahead, as it does across a
// system suspend while the monotonic clock (and every timer) stands still.
type suspendClock struct{ ahead atomic.Int64 }

func (c *suspendClock) Now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *suspendClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}
func (c *suspendClock) Monotonic() bool { return true }

// After a suspend longer than a token's life, the token is not served as fresh until its
// (monotonic) timer fires: within a second of the wake-up, the scheduler reads the wall
// clock and the token has expired.
func TestScheduler_ATokenPastItsWallClockExpiryAfterASuspendIsNotServed(t *testing.T) {
	t.Parallel()
	clock := &suspendClock{}
	var fetches atomic.Int64
	c := New(func(context.Context, string) (Token, error) {
		fetches.Add(1)
		return Token{Value: "tok", Expiry: clock.Now().Add(time.Hour)}, nil
	}, Options{Clock: clock, NoPrefetch: true})
	defer c.Close()
	if _, err := c.Token(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	clock.ahead.Store(int64(2 * time.Hour)) // the machine slept two hours
	testwait.Eventually(t, "the expired token no longer served", func() bool {
		s := c.idx.load("k").cur.Load()
		return s == nil || s.state.Load() == expired
	})
	if _, err := c.Token(context.Background(), "k"); err != nil || fetches.Load() != 2 {
		t.Fatalf("%v, %d fetches", err, fetches.Load())
	}
}
