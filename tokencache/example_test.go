package tokencache_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/finauth/finauth/tokencache"
)

// A cache in front of a token endpoint: one fetch per key however many callers, refreshed
// ahead of expiry, and replaced once after a server rejects it.
func Example() {
	fetches := 0
	cache := tokencache.New(func(ctx context.Context, key string) (tokencache.Token, error) {
		fetches++ // a real fetch calls the token endpoint with ctx
		return tokencache.Token{Value: fmt.Sprintf("token-%d", fetches), Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{})
	defer cache.Close()

	ctx := context.Background()
	tok, err := cache.Token(ctx, "") // "" for the tenant token; an account ID for per-account ones
	if err != nil {
		log.Fatal(err)
	}
	again, _ := cache.Token(ctx, "")
	fmt.Println(tok.Value, again.Value)

	// The API answered 401 to tok: drop it, unless someone already has.
	cache.Invalidate("", tok.Value)
	fresh, _ := cache.Token(ctx, "")
	fmt.Println(fresh.Value, cache.Stats().Fetches)
	// Output:
	// token-1 token-1
	// token-2 2
}

// A Handle for a key asked for on every request: the key lookup is done once, and a hit is
// an atomic load and a state check. It follows refreshes, invalidations and eviction.
func ExampleHandle() {
	cache := tokencache.New(func(ctx context.Context, key string) (tokencache.Token, error) {
		return tokencache.Token{Value: "tenant-token", Expiry: time.Now().Add(time.Hour)}, nil
	}, tokencache.Options{})
	defer cache.Close()

	tenant := cache.Handle("") // keep it, e.g. in your transport
	for range 3 {
		tok, err := tenant.Token(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(tok.Value)
	}
	st := cache.Stats()
	fmt.Println(st.Fetches, st.Hits)
	// Output:
	// tenant-token
	// tenant-token
	// tenant-token
	// 1 2
}
