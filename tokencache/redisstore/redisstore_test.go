package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/finauth/finauth/testkit/redistest"
	"github.com/finauth/finauth/testkit/telemetrytest"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/redisstore"
)

var (
	key1 = bytes.Repeat([]byte{1}, 32)
	key2 = bytes.Repeat([]byte{2}, 32)
)

func newStore(t *testing.T, srv *redistest.Server, keys ...[]byte) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(redisstore.Options{URL: srv.URL(), Keys: keys, Namespace: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStoreB(srv *redistest.Server) (*redisstore.Store, error) {
	return redisstore.New(redisstore.Options{URL: srv.URL(), Keys: [][]byte{key1}, Namespace: "bench", Timeout: time.Second})
}

func raw(t *testing.T, srv *redistest.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: srv.Password})
	t.Cleanup(func() { c.Close() })
	return c
}

// everything returns every key name and value in Redis, as one string.
func everything(t *testing.T, c *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v, _ := c.Get(ctx, k).Result()
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	return b.String()
}

func TestStore_SealsTokensWithNoPlaintextInRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newStore(t, srv, key1)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	tok := tokencache.Token{Value: "secret-access-token", Type: "Bearer", Expiry: exp, RefreshToken: "secret-refresh", Extra: map[string]any{"scope": "accounts"}}
	if err := s.Save(ctx, "account-12345", tok); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Load(ctx, "account-12345")
	if err != nil || !ok || got.Value != tok.Value || got.Type != "Bearer" || !got.Expiry.Equal(exp) || got.RefreshToken != "secret-refresh" || got.Extra["scope"] != "accounts" {
		t.Fatalf("%+v %v %v", got, ok, err)
	}
	all := everything(t, raw(t, srv))
	for _, secret := range []string{"secret-access-token", "secret-refresh", "account-12345", "accounts"} {
		if strings.Contains(all, secret) {
			t.Errorf("%q is in Redis in clear:\n%q", secret, all)
		}
	}
	// The entry expires with the token.
	name := strings.SplitN(all, "=", 2)[0]
	if ttl := raw(t, srv).PTTL(ctx, name).Val(); ttl < 59*time.Minute || ttl > time.Hour {
		t.Errorf("TTL %v, want the token's remaining hour", ttl)
	}
	if _, ok, _ := s.Load(ctx, "another"); ok {
		t.Error("a key never saved loads")
	}
}

// An entry moved to another key does not open there (the key name is associated data); a
// value sealed with a key no longer configured is a miss, never an error.
func TestStore_MovedOrUndecryptableValuesAreMisses(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	s := newStore(t, srv, key1)
	s.Save(ctx, "a", tokencache.Token{Value: "tok-a", Expiry: time.Now().Add(time.Hour)})
	s.Save(ctx, "b", tokencache.Token{Value: "tok-b", Expiry: time.Now().Add(time.Hour)})
	c := raw(t, srv)
	names := c.Keys(ctx, "test:token:*").Val()
	if len(names) != 2 {
		t.Fatalf("keys %v", names)
	}
	va := c.Get(ctx, names[0]).Val()
	c.Set(ctx, names[1], va, time.Hour) // the first entry's value under the second name
	hits := 0
	for _, k := range []string{"a", "b"} {
		if _, ok, err := s.Load(ctx, k); err != nil {
			t.Fatal(err)
		} else if ok {
			hits++
		}
	}
	if hits != 1 || s.Stats().Undecryptable != 1 {
		t.Fatalf("%d hits, stats %+v: a moved value opened", hits, s.Stats())
	}

	// Rotation: [key2, key1] opens what key1 sealed; key2 alone does not (a miss).
	rotated := newStore(t, srv, key2, key1)
	onlyNew := newStore(t, srv, key2)
	s.Save(ctx, "c", tokencache.Token{Value: "tok-c", Expiry: time.Now().Add(time.Hour)})
	if tok, ok, err := rotated.Load(ctx, "c"); !ok || err != nil || tok.Value != "tok-c" {
		t.Fatalf("rotated keys: %v %v", ok, err)
	}
	if _, ok, err := onlyNew.Load(ctx, "c"); ok || err != nil || onlyNew.Stats().Undecryptable != 1 {
		t.Fatalf("rotated-out key: %v %v %+v", ok, err, onlyNew.Stats())
	}
}

func TestStore_DeleteOnlyTheRejectedToken(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	s := newStore(t, srv, key1)
	rotated := newStore(t, srv, key2, key1)
	s.Save(ctx, "k", tokencache.Token{Value: "current", Expiry: time.Now().Add(time.Hour)})
	if err := s.Delete(ctx, "k", "an-older-one"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Load(ctx, "k"); !ok {
		t.Fatal("a token that was not rejected was deleted")
	}
	if err := rotated.Delete(ctx, "k", "current"); err != nil { // sealed with key1, rejected by a rotated replica
		t.Fatal(err)
	}
	if _, ok, _ := s.Load(ctx, "k"); ok {
		t.Fatal("the rejected token is still stored")
	}
	if rotated.Stats().Deletes != 1 {
		t.Fatalf("stats %+v", rotated.Stats())
	}
}

func TestStore_ScopesDoNotMeet(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	s := newStore(t, srv, key1)
	a, b := s.Scope("pismo|tenant-a"), s.Scope("pismo|tenant-b")
	a.Save(ctx, "", tokencache.Token{Value: "tok-a", Expiry: time.Now().Add(time.Hour)})
	if _, ok, _ := b.Load(ctx, ""); ok {
		t.Fatal("tenant b loads tenant a's token")
	}
	if tok, ok, _ := a.Load(ctx, ""); !ok || tok.Value != "tok-a" {
		t.Fatal("tenant a lost its token")
	}
}

func TestStore_LockAndAwait(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	s := newStore(t, srv, key1)
	release, ok, err := s.Lock(ctx, "k", time.Minute)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, ok, _ := s.Lock(ctx, "k", time.Minute); ok {
		t.Fatal("a held lock was taken again")
	}
	// Await returns once the holder releases the lock (after saving), not on a token
	// stored before (which may be one the waiter cannot use).
	s.Save(ctx, "k", tokencache.Token{Value: "old", Expiry: time.Now().Add(time.Hour)})
	done := make(chan error, 1)
	go func() { done <- s.Await(ctx, "k") }()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Await returned while the lock was held: %v", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	release()
	release() // idempotent
	if _, ok, _ := s.Lock(ctx, "k", 200*time.Millisecond); !ok {
		t.Fatal("a released lock could not be taken")
	}
	// A lock left by a dead holder expires; Await notices.
	if err := s.Await(ctx, "k2"); err != nil { // no lock, no token: returns at once
		t.Fatal(err)
	}
	s.Lock(ctx, "k2", 200*time.Millisecond)
	start := time.Now()
	if err := s.Await(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Lock(ctx, "k2", time.Minute); !ok || time.Since(start) < 100*time.Millisecond {
		t.Fatal("the expired lock could not be taken, or Await did not wait for its expiry")
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.Await(cctx, "k2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Await past its context: %v", err)
	}
}

// Redis killed: calls fail fast, the breaker opens and refuses at once; Redis back: the probe
// closes it and the store works again.
// The breaker opens when Redis dies and closes when it is back; finauth.store.available
// follows it (1, 0, 1), through the real SDK.
func TestStore_BreakerOpensWhenRedisDiesAndClosesWhenItIsBack(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	rec := telemetrytest.New(t)
	s, err := redisstore.New(redisstore.Options{URL: srv.URL(), Keys: [][]byte{key1}, ProbeInterval: 50 * time.Millisecond, MeterProvider: rec.Meter})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	available := func() float64 { return telemetrytest.Sum(rec.Metrics(t), "finauth.store.available") }
	s.Save(ctx, "k", tokencache.Token{Value: "v", Expiry: time.Now().Add(time.Hour)})
	if a := available(); a != 1 {
		t.Fatalf("finauth.store.available = %v with Redis up", a)
	}
	srv.Kill()
	for range 3 {
		if _, _, err := s.Load(ctx, "k"); err == nil {
			t.Fatal("a load from a dead Redis did not fail")
		}
	}
	if st := s.Stats(); !st.Open || st.BreakerOpens != 1 {
		t.Fatalf("stats %+v: the breaker did not open", st)
	}
	if _, _, err := s.Load(ctx, "k"); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("open breaker: %v", err)
	}
	if a := available(); a != 0 || telemetrytest.Points(rec.Metrics(t), "finauth.store.available") != 1 {
		t.Fatalf("finauth.store.available = %v with the breaker open", a)
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Open {
		if time.Now().After(deadline) {
			t.Fatal("the breaker did not close after Redis came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Save(ctx, "k", tokencache.Token{Value: "v2", Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if tok, ok, err := s.Load(ctx, "k"); !ok || err != nil || tok.Value != "v2" {
		t.Fatalf("%v %v", ok, err)
	}
	if a := available(); a != 1 {
		t.Fatalf("finauth.store.available = %v once Redis is back", a)
	}
}

func TestNew_ReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := redisstore.New(redisstore.Options{URL: "redis://:hunter2@[bad", Keys: [][]byte{[]byte("short")}})
	var ce *redisstore.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "32 bytes") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("%v", err)
	}
	if _, err := redisstore.New(redisstore.Options{URL: "redis://localhost:6379"}); err == nil || !strings.Contains(err.Error(), "never stored in clear") {
		t.Fatalf("no key: %v", err)
	}
	if _, err := redisstore.ParseKeys("not base64!"); err == nil {
		t.Fatal("bad base64 accepted")
	}
	keys, err := redisstore.ParseKeys(" AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE= , AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI")
	if err != nil || len(keys) != 2 || !bytes.Equal(keys[0], key1) || !bytes.Equal(keys[1], key2) {
		t.Fatalf("%v %v", keys, err)
	}
}

// Six caches sharing the store: one fetch for all of them, the rest wait and load it.
func TestStore_SixCachesOneFetch(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	var fetches atomic.Int64
	fetch := func(context.Context, string) (tokencache.Token, error) {
		n := fetches.Add(1)
		time.Sleep(50 * time.Millisecond)
		return tokencache.Token{Value: fmt.Sprint("tok-", n), Expiry: time.Now().Add(time.Hour)}, nil
	}
	var wg sync.WaitGroup
	for range 6 {
		c := tokencache.New(fetch, tokencache.Options{Store: newStore(t, srv, key1).Scope("p")})
		t.Cleanup(func() { c.Close() })
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if tok, err := c.Token(context.Background(), "acct"); err != nil || tok.Value != "tok-1" {
					t.Errorf("%q %v", tok.Value, err)
				}
			}()
		}
	}
	wg.Wait()
	if fetches.Load() != 1 {
		t.Fatalf("%d fetches", fetches.Load())
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	if s, err := redisstore.FromEnv(env(nil), nil); s != nil || err != nil {
		t.Fatalf("no URL: %v %v", s, err)
	}
	_, err := redisstore.FromEnv(env(map[string]string{"FINAUTH_REDIS_URL": "redis://:hunter2@localhost:6379"}), nil)
	if err == nil || !strings.Contains(err.Error(), "FINAUTH_CACHE_KEY") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a URL without a key: %v", err)
	}
	_, err = redisstore.FromEnv(env(map[string]string{"FINAUTH_REDIS_URL": "redis://localhost:6379", "FINAUTH_CACHE_KEY": "c2hvcnQ="}), nil)
	if err == nil || !strings.Contains(err.Error(), "FINAUTH_CACHE_KEY: key 1 is 5 bytes") {
		t.Fatalf("a short key: %v", err)
	}
	s, err := redisstore.FromEnv(env(map[string]string{"FINAUTH_REDIS_URL": "redis://localhost:6379", "FINAUTH_CACHE_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "FINAUTH_CACHE_NAMESPACE": "svc"}), nil)
	if err != nil || s == nil {
		t.Fatal(err)
	}
	s.Close()
	base := map[string]string{"FINAUTH_REDIS_URL": "redis://localhost:6379", "FINAUTH_CACHE_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}
	for _, v := range []string{"50ms", "off"} {
		base["FINAUTH_REDIS_SLOW_REPLY"] = v
		s, err := redisstore.FromEnv(env(base), nil)
		if err != nil {
			t.Fatalf("FINAUTH_REDIS_SLOW_REPLY=%s: %v", v, err)
		}
		s.Close()
	}
	for _, v := range []string{"0", "-5ms", "fast", "20"} {
		base["FINAUTH_REDIS_SLOW_REPLY"] = v
		_, err := redisstore.FromEnv(env(base), nil)
		if err == nil || !strings.Contains(err.Error(), "FINAUTH_REDIS_SLOW_REPLY") || !strings.Contains(err.Error(), "off") {
			t.Fatalf("FINAUTH_REDIS_SLOW_REPLY=%s: %v", v, err)
		}
	}
	delete(base, "FINAUTH_REDIS_SLOW_REPLY")
	base["FINAUTH_CACHE_NAMESPACE"] = "a}b"
	if _, err := redisstore.FromEnv(env(base), nil); err == nil || !strings.Contains(err.Error(), "FINAUTH_CACHE_NAMESPACE") {
		t.Fatalf("a namespace with a brace outside a hash tag: %v", err)
	}
}

// Sentinel, through Options.Universal: the store finds the master through the sentinel.
func TestStore_ThroughSentinel(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	sentinel := srv.StartSentinel(t)
	s, err := redisstore.New(redisstore.Options{
		Universal: &redis.UniversalOptions{MasterName: "mymaster", Addrs: []string{sentinel}, Password: srv.Password},
		Keys:      [][]byte{key1}, Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Save(ctx, "k", tokencache.Token{Value: "via-sentinel", Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if tok, ok, err := s.Load(ctx, "k"); !ok || err != nil || tok.Value != "via-sentinel" {
		t.Fatalf("%v %v", ok, err)
	}
	if n := raw(t, srv).DBSize(ctx).Val(); n != 1 {
		t.Fatalf("the master holds %d keys, want the one saved through the sentinel", n)
	}
}

// Redis Cluster, through Options.Universal: every command and script of the store touches one
// key, or a token and its lock (Claim, the handoff), which share a slot; so tokens and locks
// spread over the slots of three masters work as on one server.
func TestStore_OnACluster(t *testing.T) {
	t.Parallel()
	addrs, password := redistest.StartCluster(t)
	s, err := redisstore.New(redisstore.Options{
		Universal: &redis.UniversalOptions{Addrs: addrs, Password: password},
		Keys:      [][]byte{key1}, Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range 20 { // keys over several slots
		k := fmt.Sprint("acct-", i)
		if err := s.Save(ctx, k, tokencache.Token{Value: "tok-" + k, Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if tok, ok, err := s.Load(ctx, k); !ok || err != nil || tok.Value != "tok-"+k {
			t.Fatalf("%s: %v %v", k, ok, err)
		}
		release, ok, err := s.Lock(ctx, k, time.Minute)
		if !ok || err != nil {
			t.Fatalf("lock %s: %v %v", k, ok, err)
		}
		release()
		if err := s.Delete(ctx, k, "tok-"+k); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Load(ctx, k); ok {
			t.Fatalf("%s survived its compare-and-delete", k)
		}
		// The fleet handoff: a claim takes the lock, the handoff saves and releases, and a
		// claim with that token rejected deletes it and takes the lock again (issue 32: the
		// scripts failed with CROSSSLOT when a token and its lock were in different slots).
		c, err := s.Claim(ctx, k, tokencache.Claim{Now: time.Now(), Lock: time.Minute})
		if err != nil || !c.Held {
			t.Fatalf("claim %s: %+v %v", k, c, err)
		}
		if err := c.Handoff(ctx, tokencache.Token{Value: "new-" + k, Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatalf("handoff %s: %v", k, err)
		}
		if c, err := s.Claim(ctx, k, tokencache.Claim{Now: time.Now(), Lock: time.Minute}); err != nil || !c.Found || c.Token.Value != "new-"+k {
			t.Fatalf("claim %s after the handoff: %+v %v", k, c, err)
		}
		c, err = s.Claim(ctx, k, tokencache.Claim{Now: time.Now(), Lock: time.Minute, Rejected: "new-" + k})
		if err != nil || !c.Held {
			t.Fatalf("claim %s rejecting its token: %+v %v", k, c, err)
		}
		c.Release()
	}
	if st := s.Stats(); st.Errors != 0 || st.Deletes != 20 {
		t.Fatalf("stats %+v", st)
	}
}

// Options and a Store print, marshal and log without their keys or the URL's password.
func TestOptionsAndStore_ShowNoSecret(t *testing.T) {
	t.Parallel()
	o := redisstore.Options{URL: "redis://:hunter2@localhost:6379/0", Keys: [][]byte{key1}, Namespace: "ns",
		Universal: nil}
	s, err := redisstore.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sent := redisstore.Options{URL: "redis+sentinel://:hunter2@127.0.0.1:26379,127.0.0.1:26380/mymaster", SentinelPassword: "s3ntinel-pass", Keys: [][]byte{key1}}
	ss, err := redisstore.New(sent)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	var outs []string
	for _, v := range []any{o, &o, s, sent, &sent, ss} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		b, _ := json.Marshal(v)
		outs = append(outs, string(b))
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		outs = append(outs, buf.String())
	}
	for _, out := range outs {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "s3ntinel") || strings.Contains(out, "AQEBAQEB") || strings.Contains(out, "[1 1 1") || strings.Contains(out, "0101010101") {
			t.Errorf("a secret shows: %s", out)
		}
	}
}
