package tokencache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

// A cold start over many keys queues its fetches behind MaxConcurrentFetches, while the
// callers of one key still share that key's single fetch.
func TestCache_MaxConcurrentFetchesQueuesAColdStart(t *testing.T) {
	t.Parallel()
	const keys, callersPerKey, slots = 60, 3, 4
	clock := tokencachetest.NewFakeClock(t0)
	var running, most, calls atomic.Int64
	release := make(chan struct{})
	fetch := func(ctx context.Context, key string) (tokencache.Token, error) {
		calls.Add(1)
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		defer running.Add(-1)
		select {
		case <-release:
		case <-ctx.Done():
			return tokencache.Token{}, ctx.Err()
		}
		return tokencache.Token{Value: "tok-" + key, Expiry: clock.Now().Add(time.Hour)}, nil
	}
	c := tokencache.New(fetch, tokencache.Options{Clock: clock, MaxConcurrentFetches: slots})
	defer c.Close()

	var wg sync.WaitGroup
	errs := make(chan error, keys*callersPerKey)
	for k := range keys {
		for range callersPerKey {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprintf("account-%d", k)
				tok, err := c.Token(context.Background(), key)
				if err == nil && tok.Value != "tok-"+key {
					err = fmt.Errorf("%s got %s", key, tok.Value)
				}
				errs <- err
			}()
		}
	}
	for released := 0; released < keys; released++ {
		testwait.Eventually(t, "a fetch to take a free slot", func() bool {
			return running.Load() == int64(min(slots, keys-released))
		})
		release <- struct{}{}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if most.Load() != slots || calls.Load() != keys {
		t.Fatalf("at most %d fetches ran at once (want %d), %d fetches for %d keys", most.Load(), slots, calls.Load(), keys)
	}
	if st := c.Stats(); st.Fetches != keys || st.Keys != keys {
		t.Fatalf("stats %+v", st)
	}
}

// Close releases fetches still waiting for a slot: their callers get ErrClosed.
func TestCache_CloseReleasesQueuedFetches(t *testing.T) {
	t.Parallel()
	clock := tokencachetest.NewFakeClock(t0)
	block := make(chan struct{})
	var started atomic.Int64
	c := tokencache.New(func(ctx context.Context, key string) (tokencache.Token, error) {
		started.Add(1)
		select {
		case <-block:
		case <-ctx.Done():
		}
		return tokencache.Token{}, ctx.Err()
	}, tokencache.Options{Clock: clock, MaxConcurrentFetches: 1})
	errs := make(chan error, 2)
	for _, key := range []string{"a", "b"} {
		go func() {
			_, err := c.Token(context.Background(), key)
			errs <- err
		}()
	}
	testwait.Eventually(t, "one fetch running and one queued", func() bool { return started.Load() == 1 && c.Stats().Keys == 2 })
	c.Close()
	for range 2 {
		if err := <-errs; err == nil {
			t.Fatal("a caller got a token from a closed cache")
		}
	}
	if started.Load() != 1 {
		t.Fatalf("%d fetches started; the queued one must not run after Close", started.Load())
	}
}
