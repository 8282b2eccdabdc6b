package tokencache

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// TokenChange is a new token the cache holds for Key: fetched, adopted from the Store
// (FromStore), or Put.
type TokenChange struct {
	// Name is the cache's Options.Name: the provider.
	Name string
	Key  string
	// Token is the new token. Its value is for your code alone: never log it (its String
	// hides it).
	Token     Token
	FromStore bool
}

// Expiry is the new token's expiry (zero: none).
func (c TokenChange) Expiry() time.Time { return c.Token.Expiry }

// RefreshError is a failed fetch of Key.
type RefreshError struct {
	Name, Key string
	Err       error
	// Background: a refresh ahead of expiry (or its retry), not a caller waiting for it.
	Background bool
	// Serving: a token that still works is served meanwhile (the refresh is retried).
	Serving bool
}

// trigger is what started a fetch: the span of the request that waited for it (the fetch
// span's parent) or that found the token stale (a background refresh links to it).
type trigger struct {
	span       trace.SpanContext
	background bool
}

func (c *Cache) onTokenChange(key string, tok Token, fromStore bool) {
	if c.o.OnTokenChange == nil {
		return
	}
	defer c.recoverHook("OnTokenChange")
	c.o.OnTokenChange(TokenChange{Name: c.o.Name, Key: key, Token: tok, FromStore: fromStore})
}

func (c *Cache) onRefreshError(key string, err error, background, serving bool) {
	if c.o.OnRefreshError == nil {
		return
	}
	defer c.recoverHook("OnRefreshError")
	c.o.OnRefreshError(RefreshError{Name: c.o.Name, Key: key, Err: err, Background: background, Serving: serving})
}

// recoverHook logs a hook's panic (its type only: the value may hold a secret).
func (c *Cache) recoverHook(name string) {
	if r := recover(); r != nil {
		c.o.Logger.Error("finauth: tokencache: "+name+" hook panicked", "panic_type", fmt.Sprintf("%T", r))
	}
}
