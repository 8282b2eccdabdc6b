package signer_test

import (
	"errors"
	"testing"
	"time"

	"github.com/finauth/finauth/signer"
)

// A ring signs with the current key until the next one has been published for the cache
// time, then with the next one (and says so in kid); it refuses two keys under one kid.
func TestRing_SwitchesAfterTheCacheTime(t *testing.T) {
	key, err := signer.LoadKeyFile("testdata/keys/test-rsa-pkcs8.pem")
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := signer.New(key, signer.Options{Algorithm: signer.PS256, KeyID: "sig-1"})
	next, _ := signer.New(key, signer.Options{Algorithm: signer.PS256, KeyID: "sig-2"})
	published := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	now := published.Add(-time.Hour)
	r, err := signer.NewRing(24*time.Hour, func() time.Time { return now }, signer.RingKey{Signer: next, PublishedAt: published}, signer.RingKey{Signer: cur})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at   time.Time
		want string
	}{
		{published.Add(-time.Hour), "sig-1"},
		{published, "sig-1"},
		{published.Add(24*time.Hour - time.Second), "sig-1"},
		{published.Add(24 * time.Hour), "sig-2"},
		{published.Add(48 * time.Hour), "sig-2"},
	} {
		now = step.at
		if got := r.Current().KeyID(); got != step.want {
			t.Fatalf("at %s: %s, want %s", step.at, got, step.want)
		}
		jwt, _ := r.Current().SignJWT(map[string]int{"a": 1})
		u, _ := signer.DecodeUnverified(jwt)
		if kid, _ := u.HeaderString("kid"); kid != step.want {
			t.Fatalf("kid %s", kid)
		}
	}
	now = published
	if n, at, ok := r.Next(); !ok || n.KeyID() != "sig-2" || !at.Equal(published.Add(24*time.Hour)) {
		t.Fatalf("Next: %v %v %v", n, at, ok)
	}
	if _, err := signer.NewRing(time.Hour, nil, signer.RingKey{Signer: cur}, signer.RingKey{Signer: cur, PublishedAt: published}); !errors.Is(err, signer.ErrRing) {
		t.Fatalf("two keys under one kid: %v", err)
	}
	if _, err := signer.NewRing(time.Hour, nil); !errors.Is(err, signer.ErrRing) {
		t.Fatalf("no key: %v", err)
	}
}
