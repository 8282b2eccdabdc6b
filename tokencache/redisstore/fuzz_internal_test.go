package redisstore

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/tokencache"
)

// FuzzOpen: whatever bytes Redis hands back (a damaged or forged entry), open never panics,
// and only a value sealed for that key name with a configured key opens.
func FuzzOpen(f *testing.F) {
	s, err := New(Options{URL: "redis://127.0.0.1:1/0", Keys: [][]byte{bytes.Repeat([]byte{7}, KeySize)}})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	name, _ := s.names("k")
	good, err := s.seal(name, tokencache.Token{Value: "v", Type: "Bearer", Expiry: time.UnixMilli(1_900_000_000_000), Extra: map[string]any{"a": 1.0}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, name)
	f.Add(good[:header2], name)
	f.Add([]byte{}, name)
	f.Add(good, "other-name")
	f.Fuzz(func(t *testing.T, raw []byte, key string) {
		tok, ok := s.open(key, raw)
		if ok && tok.Value == "" {
			t.Fatal("opened a token without a value")
		}
		if ok && key != name {
			t.Fatalf("a value opened under another key name %q", key)
		}
	})
}

// FuzzReleaseMessage: anyone who can publish on the store's channel controls its messages.
// A message is kept only for a lock name this store makes, with a token of at most maxHandoff
// bytes, and only for a lock this process waits for; nothing else is remembered.
func FuzzReleaseMessage(f *testing.F) {
	s, err := New(Options{URL: "redis://127.0.0.1:1/0", Keys: [][]byte{bytes.Repeat([]byte{7}, KeySize)}})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	_, lock := s.names("k")
	f.Add(lock + "\nsealed")
	f.Add(lock)
	f.Add("finauth:lock:" + strings.Repeat("a", 32) + "\nx")
	f.Add("{finauth:token:" + strings.Repeat("g", 32) + "}:lock\nx")
	f.Add("\n\n")
	f.Fuzz(func(t *testing.T, payload string) {
		s.notes.mu.Lock()
		s.notes.init()
		s.notes.mu.Unlock()
		s.notes.busy(lock, 0) // this process tried k's lock: its handoff is kept
		s.onRelease(payload)
		s.notes.mu.Lock()
		defer s.notes.mu.Unlock()
		for name, v := range s.notes.values {
			if name != lock || len(v) > maxHandoff || len(v) == 0 {
				t.Fatalf("kept %d bytes for %q from %q", len(v), name, payload)
			}
		}
		for name := range s.notes.last {
			if !s.isLockName(name) {
				t.Fatalf("remembered a release of %q, not a lock name of this store", name)
			}
		}
	})
}

// FuzzParseKeys: FINAUTH_CACHE_KEY text never panics, and what it accepts is 32-byte keys.
func FuzzParseKeys(f *testing.F) {
	f.Add("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
	f.Add("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE, AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI")
	f.Add(",,")
	f.Add("c2hvcnQ=")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseKeys(s)
		if err != nil {
			return
		}
		for _, k := range keys {
			if len(k) != KeySize {
				t.Fatalf("accepted a %d-byte key", len(k))
			}
		}
	})
}
