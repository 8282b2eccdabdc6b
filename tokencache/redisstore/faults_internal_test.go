package redisstore

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/finauth/finauth/testkit/redistest"
	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
)

var faultKey = bytes.Repeat([]byte{3}, KeySize)

// viaProxy is a store whose Redis replies pass through a proxy the test can hold or delay.
// Its client has no read timeout of its own (only each call's deadline), so that a held
// reply stays held for as long as the test says, not 3 s.
func viaProxy(t *testing.T, o Options) (*Store, *redistest.Proxy, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	p := redistest.StartProxy(t, srv.Addr)
	o.Client = redis.NewClient(&redis.Options{Addr: p.Addr, Password: srv.Password, ContextTimeoutEnabled: true,
		MaxRetries: -1, ReadTimeout: -1, WriteTimeout: -1, DialTimeout: time.Minute})
	t.Cleanup(func() { o.Client.Close() })
	o.Keys = [][]byte{faultKey}
	if o.Timeout == 0 {
		o.Timeout = 100 * time.Millisecond
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, p, srv
}

// Issue 31 (5): a lock attempt whose SET NX reached Redis but whose reply came too late
// leaves no lock that nobody holds: it is released as soon as Redis answers. (A renewal's
// lock, held for its whole 31 s, blocked every replica's renewal of that consent; a payment
// failed 5 s after Redis recovered.)
func TestLock_AnAttemptThatTimedOutLeavesNoLock(t *testing.T) {
	t.Parallel()
	s, p, srv := viaProxy(t, Options{FailureThreshold: 100})
	ctx := context.Background()
	// A connection authenticated and the release subscription live, before any reply is held.
	rel, got, err := s.Lock(ctx, "warm", time.Second)
	if err != nil || !got {
		t.Fatalf("warming up: %v %v", got, err)
	}
	rel()
	testwait.Eventually(t, "the subscription live", func() bool {
		s.notes.mu.Lock()
		defer s.notes.mu.Unlock()
		return s.notes.live
	})
	_, lock := s.names("k")
	p.Hold()
	_, _, err = s.Lock(tokencache.LockForWholeTTL(ctx), "k", 10*time.Minute)
	if err == nil {
		t.Fatal("a lock whose reply was held: taken")
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: srv.Password})
	defer raw.Close()
	if n, _ := raw.Exists(ctx, lock).Result(); n != 1 {
		t.Fatal("the attempt's SET NX did not reach Redis: this test shows nothing")
	}
	p.Release()
	testwait.Eventually(t, "the timed-out attempt's lock released", func() bool {
		n, err := raw.Exists(ctx, lock).Result()
		return err == nil && n == 0
	})
	if _, got, err := s.Lock(ctx, "k", time.Second); err != nil || !got {
		t.Fatalf("the lock after Redis answered again: %v %v", got, err)
	}
}

// Issue 31 (6): the release subscription starts in the background: the first Lock of a
// process returns within its own deadline whatever Redis does to the subscription's dial
// and authentication (with Redis 2 s slow it took 6.3 s); and no subscription starts while
// the breaker is open.
func TestSubscribe_NeverHoldsTheCallerNorStartsWhileTheBreakerIsOpen(t *testing.T) {
	t.Parallel()
	t.Run("replies held", func(t *testing.T) {
		t.Parallel()
		s, p, _ := viaProxy(t, Options{FailureThreshold: 100})
		p.Hold() // from the first byte: every dial's authentication waits too
		defer p.Release()
		done := make(chan error, 1)
		go func() {
			_, _, err := s.Lock(context.Background(), "k", time.Second)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("a lock taken with every reply held")
			}
		case <-time.After(30 * time.Second): // a bound on the wait, far beyond the 100 ms deadline
			t.Fatal("the first Lock waited for the subscription")
		}
		s.notes.mu.Lock()
		subscribed := s.notes.ps != nil
		s.notes.mu.Unlock()
		if subscribed {
			t.Fatal("the subscription completed with every reply held: it was not what Lock waited for")
		}
	})
	t.Run("breaker open", func(t *testing.T) {
		t.Parallel()
		s, p, _ := viaProxy(t, Options{FailureThreshold: 1})
		p.Hold()
		defer p.Release()
		if _, _, err := s.Load(context.Background(), "k"); err == nil {
			t.Fatal("a load with its reply held succeeded")
		}
		if !s.breaker.open.Load() {
			t.Fatal("the breaker did not open")
		}
		if _, _, err := s.Lock(context.Background(), "k", time.Second); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Lock with the breaker open: %v", err)
		}
		if s.notes.started.Load() || p.Dials() != 1 {
			t.Fatalf("a subscription was started with the breaker open (%d dials)", p.Dials())
		}
	})
}

// Issue 31 (19): what is published on the release channel is kept only when it names one of
// the store's locks: 100 messages of 1 MiB kept 100 MiB alive.
func TestNotices_KeepOnlyThisStoresLockNames(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s, err := New(Options{URL: srv.URL(), Keys: [][]byte{faultKey}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.subscribe()
	testwait.Eventually(t, "the subscription live", func() bool {
		s.notes.mu.Lock()
		defer s.notes.mu.Unlock()
		return s.notes.live
	})
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: srv.Password})
	defer raw.Close()
	ctx := context.Background()
	big := strings.Repeat("x", 1<<20)
	for i := range 100 {
		raw.Publish(ctx, s.channel(), big+string(rune('a'+i%26)))
	}
	raw.Publish(ctx, s.channel(), "{"+s.ns+":token:nothex-nothex-nothex-nothex-!!}:lock")
	_, lock := s.names("k")
	raw.Publish(ctx, s.channel(), lock) // after the others: once it is seen, they all were
	testwait.Eventually(t, "a real release seen", func() bool {
		s.notes.mu.Lock()
		defer s.notes.mu.Unlock()
		_, ok := s.notes.last[lock]
		return ok
	})
	s.notes.mu.Lock()
	defer s.notes.mu.Unlock()
	if len(s.notes.last) != 1 {
		t.Fatalf("%d release names kept, want only the store's own lock", len(s.notes.last))
	}
}

// Values of version 1 (earlier releases' replicas, during a rollout) still open; a version
// 2 value whose clear expiry was changed does not (it is associated data).
func TestOpen_ReadsVersion1AndRefusesAChangedExpiry(t *testing.T) {
	s, err := New(Options{URL: "redis://127.0.0.1:1/0", Keys: [][]byte{faultKey}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	name, _ := s.names("k")
	k := &s.keys[0]
	plain := []byte(`{"v":"old-token","e":1900000000000}`)
	nonce := make([]byte, k.aead.NonceSize())
	v1 := append(append(append([]byte(k.fingerprint("old-token")), 1), k.id[:]...), nonce...)
	v1 = k.aead.Seal(v1, nonce, plain, []byte(name))
	if tok, ok := s.open(name, v1); !ok || tok.Value != "old-token" || tok.Expiry.UnixMilli() != 1_900_000_000_000 {
		t.Fatalf("a version 1 value: %v %v", tok, ok)
	}
	v2, err := s.seal(name, tokencache.Token{Value: "new-token", Expiry: time.UnixMilli(1_900_000_000_000)})
	if err != nil {
		t.Fatal(err)
	}
	if tok, ok := s.open(name, v2); !ok || tok.Value != "new-token" {
		t.Fatalf("a version 2 value: %v %v", tok, ok)
	}
	changed := bytes.Clone(v2)
	changed[fpSize+1] = '9' // the expiry, years later
	if _, ok := s.open(name, changed); ok {
		t.Fatal("a value whose clear expiry was changed opened")
	}
}
