package tokencache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/finauth/finauth/tokencache"
)

// BenchmarkCacheChurn: every op asks for a key never seen before, in a cache full at
// MaxKeys (10,000), so every op inserts one key and evicts one.
func BenchmarkCacheChurn(b *testing.B) {
	const maxKeys = 10_000
	c := tokencache.New(func(context.Context, string) (tokencache.Token, error) {
		return tokencache.Token{Value: "v", Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{MaxKeys: maxKeys, NoPrefetch: true})
	defer c.Close()
	ctx := context.Background()
	for i := range maxKeys {
		if _, err := c.Token(ctx, "warm-"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := c.Token(ctx, "new-"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
	if st := c.Stats(); st.Keys != maxKeys {
		b.Fatalf("%d keys", st.Keys)
	}
}
