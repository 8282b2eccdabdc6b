package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/redistest"
	"github.com/finauth/finauth/tokencache"
)

// BenchmarkRedisStoreLoad: one Load (GET over loopback, then AES-GCM open and JSON decode)
// and one Save (seal, SET), against a real redis-server.
func BenchmarkRedisStoreLoad(b *testing.B) {
	srv := redistest.Start(b)
	s, err := newStoreB(srv)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	tok := tokencache.Token{Value: "an-access-token-of-a-typical-length-0123456789abcdef", Type: "Bearer", Expiry: time.Now().Add(time.Hour)}
	if err := s.Save(ctx, "acct", tok); err != nil {
		b.Fatal(err)
	}
	b.Run("load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := s.Load(ctx, "acct"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("save", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Save(ctx, "acct", tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
