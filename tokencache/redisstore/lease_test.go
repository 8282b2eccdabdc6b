package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/redistest"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/redisstore"
)

// lockTTL is the time to live of the only lock in Redis (-1 without one).
func lockTTL(t *testing.T, srv *redistest.Server) time.Duration {
	t.Helper()
	c := raw(t, srv)
	keys, _ := c.Keys(context.Background(), "*:lock").Result()
	if len(keys) != 1 {
		return -1
	}
	return c.PTTL(context.Background(), keys[0]).Val()
}

// A fetch lock is a lease: set for LockLease, extended while its holder holds it (so it
// outlives many leases), and gone at the release.
func TestStore_ALockIsALeaseExtendedWhileHeld(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s, err := redisstore.New(redisstore.Options{URL: srv.URL(), Keys: [][]byte{key1}, LockLease: 300 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	release, ok, err := s.Lock(ctx, "k", 30*time.Second)
	if !ok || err != nil {
		t.Fatalf("%v %v", ok, err)
	}
	if ttl := lockTTL(t, srv); ttl <= 0 || ttl > 300*time.Millisecond {
		t.Fatalf("a new lock lives %v, want its lease (300ms), not the 30 s asked", ttl)
	}
	time.Sleep(time.Second) // three leases: the holder extended it
	if ttl := lockTTL(t, srv); ttl <= 0 {
		t.Fatalf("the lock went while its holder held it (ttl %v)", ttl)
	}
	other, _ := redisstore.New(redisstore.Options{URL: srv.URL(), Keys: [][]byte{key1}})
	defer other.Close()
	if _, ok, err := other.Lock(ctx, "k", time.Second); ok || err != nil {
		t.Fatalf("another replica took a held lock: %v %v", ok, err)
	}
	release()
	if ttl := lockTTL(t, srv); ttl != -1 {
		t.Fatalf("the lock is still there after its release (ttl %v)", ttl)
	}
}

// A lock asked for its whole ttl (tokencache.LockForWholeTTL: a consent's renewal) is set
// for that ttl, not a lease.
func TestStore_ALockForItsWholeTTLIsNoLease(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s, err := redisstore.New(redisstore.Options{URL: srv.URL(), Keys: [][]byte{key1}, LockLease: 300 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release, ok, err := s.Scope("id").(tokencache.FleetStore).Lock(tokencache.LockForWholeTTL(context.Background()), "renewal:c1", 20*time.Second)
	if !ok || err != nil {
		t.Fatalf("%v %v", ok, err)
	}
	defer release()
	if ttl := lockTTL(t, srv); ttl < 10*time.Second {
		t.Fatalf("the lock lives %v, want the 20 s asked", ttl)
	}
}

// The Sentinel and Cluster URL forms, as FINAUTH_REDIS_URL takes them, and what is wrong
// with a bad one (never its password).
func TestNew_SentinelAndClusterURLs(t *testing.T) {
	t.Parallel()
	for _, good := range []string{
		"redis+sentinel://:pw@127.0.0.1:26379,127.0.0.1:26380/mymaster",
		"redis+sentinel://127.0.0.1:26379/mymaster/2",
		"rediss+sentinel://user:pw@h1:26379/m",
		"redis+cluster://:pw@127.0.0.1:7000,127.0.0.1:7001",
		"rediss+cluster://h:7000",
	} {
		s, err := redisstore.New(redisstore.Options{URL: good, Keys: [][]byte{key1}})
		if err != nil {
			t.Errorf("%s: %v", good, err)
			continue
		}
		s.Close()
	}
	for bad, want := range map[string]string{
		"redis+sentinel://:s3cret@127.0.0.1:26379":          "names its master",
		"redis+sentinel://:s3cret@127.0.0.1:26379/m/x":      `database "x"`,
		"redis+cluster://:s3cret@127.0.0.1:7000/0":          "has no path",
		"redis+cluster://:s3cret@127.0.0.1":                 "is not host:port",
		"redis+cluster://:s3cret@127.0.0.1:0":               "port",
		"redis+cluster://:s3cret@h:7000?addr=h:7001":        "query",
		"redis+cluster://:s3cr%zzet@h:7000":                 "%-encoded",
		"redis+sentinal://:s3cret@h:1/m":                    "scheme",
		"redis+cluster://:s3cret@":                          "no address",
		"redis+sentinel://:s3cret@127.0.0.1:26379,bad/main": `"bad"`,
	} {
		_, err := redisstore.New(redisstore.Options{URL: bad, Keys: [][]byte{key1}})
		var ce *redisstore.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cr") || !strings.Contains(err.Error(), "FINAUTH_REDIS_URL") {
			t.Errorf("%s: %v, want a ConfigError saying %q, naming FINAUTH_REDIS_URL, without the password", bad, err, want)
		}
	}
}

// FromEnv reads a Sentinel URL and the sentinels' own password.
func TestFromEnv_Sentinel(t *testing.T) {
	t.Parallel()
	g := redistest.StartSentinelGroup(t, time.Second)
	vars := map[string]string{"FINAUTH_REDIS_URL": g.URL(), "FINAUTH_CACHE_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "FINAUTH_REDIS_TIMEOUT": "2s"}
	s, err := redisstore.FromEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Save(ctx, "k", tokencache.Token{Value: "v", Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if g.Master.Keys() != 1 {
		t.Fatalf("the master holds %d keys, want the one saved through the sentinels", g.Master.Keys())
	}
}

// Issue 31 (3): a password holding "/", "?", "#", "@" or ":" (as `openssl rand -base64 32`
// makes them) is the password, in every form of FINAUTH_REDIS_URL: what lies between "://"
// and the last "@" is user info. No error shows any of it, and a plain URL written with it
// unencoded reaches a Redis that asks for it.
func TestNew_PasswordsWithDelimitersAreUserInfo(t *testing.T) {
	t.Parallel()
	const pass = "Zq/3x?Pw#k9@m:T+e="
	for _, raw := range []string{
		"redis://:" + pass + "@localhost:bad/0",
		"redis://svc:" + pass + "@[::1/0",
		"redis+sentinel://:" + pass + "@127.0.0.1:26379",
		"redis+sentinel://:" + pass + "@127.0.0.1:26379/m/x",
		"redis+cluster://:" + pass + "@127.0.0.1:7000/0",
		"redis+cluster://u:" + pass + "@127.0.0.1",
		"redis+cluster://:" + pass + "@",
		"rediss+sentinel://:" + pass + "@h:1,bad/m",
	} {
		_, err := redisstore.New(redisstore.Options{URL: raw, Keys: [][]byte{key1}})
		_, envErr := redisstore.FromEnv(func(k string) (string, bool) {
			return map[string]string{"FINAUTH_REDIS_URL": raw, "FINAUTH_CACHE_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}[k], true
		}, nil)
		for _, e := range []error{err, envErr} {
			if e == nil {
				t.Errorf("%s: accepted", redact(raw, pass))
				continue
			}
			for _, part := range []string{"Zq/3x", "3x?Pw", "Pw#k9", "k9@m", "m:T+", "T+e="} {
				if strings.Contains(e.Error(), part) {
					t.Errorf("%s: the error shows %q of the password: %v", redact(raw, pass), part, e)
				}
			}
		}
	}
	for _, good := range []string{
		"redis+sentinel://:" + pass + "@127.0.0.1:26379,127.0.0.1:26380/mymaster/1",
		"redis+cluster://u:" + pass + "@127.0.0.1:7000,127.0.0.1:7001",
	} {
		s, err := redisstore.New(redisstore.Options{URL: good, Keys: [][]byte{key1}})
		if err != nil {
			t.Errorf("%s: %v", redact(good, pass), err)
			continue
		}
		s.Close()
	}

	srv := redistest.Start(t)
	if err := raw(t, srv).ConfigSet(context.Background(), "requirepass", pass).Err(); err != nil {
		t.Fatal(err)
	}
	s, err := redisstore.New(redisstore.Options{URL: "redis://:" + pass + "@" + srv.Addr + "/0", Keys: [][]byte{key1}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("a plain URL with the password unencoded: %v", err)
	}
	defer s.Close()
	if err := s.Save(context.Background(), "k", tokencache.Token{Value: "v", Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("Redis refused the password read from the URL: %v", err)
	}
}

// redact stands for the password in a test's own messages.
func redact(raw, pass string) string { return strings.ReplaceAll(raw, pass, "<password>") }
