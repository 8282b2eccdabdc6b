package tokencache

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Token is an access token and when it expires. A zero Expiry means the token does not
// expire: it is cached until invalidated. String, GoString and LogValue never show Value or
// RefreshToken.
type Token struct {
	Value  string
	Type   string // "Bearer" when empty is meant
	Expiry time.Time
	// Issued is when the token was obtained; the cache sets it when a fetch (or Put) gives
	// none. With Expiry it is the token's lifetime, which scales how close to its expiry a
	// token shared through a Store may still be adopted.
	Issued       time.Time
	RefreshToken string
	// Extra carries provider fields (scope, account ID, ...) that callers may want.
	Extra map[string]any
}

// String describes the token without its secret parts.
func (t Token) String() string {
	exp := "no expiry"
	if !t.Expiry.IsZero() {
		exp = "expires " + t.Expiry.UTC().Format(time.RFC3339)
	}
	typ := t.Type
	if typ == "" {
		typ = "token"
	}
	return fmt.Sprintf("tokencache.Token(%s, %s, value redacted)", typ, exp)
}

// GoString is String, so %#v does not print the token either.
func (t Token) GoString() string { return t.String() }

// LogValue keeps the token out of slog output.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Format keeps every fmt verb on String.
func (t Token) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// MarshalJSON writes what String says, as JSON: the type, the expiry and issue times, the
// names of the Extra members (their values may be secrets: an id_token), and that the rest
// is redacted. It has no member a token reads back from: a Store that encodes tokens with
// encoding/json gets an empty token, which the cache refuses (encode the fields yourself,
// encrypted, as redisstore does).
func (t Token) MarshalJSON() ([]byte, error) {
	extra := make([]string, 0, len(t.Extra))
	for k := range t.Extra {
		extra = append(extra, k)
	}
	slices.Sort(extra)
	return json.Marshal(struct {
		Type     string    `json:"type,omitempty"`
		Expiry   time.Time `json:"expiry,omitzero"`
		Issued   time.Time `json:"issued,omitzero"`
		Extra    []string  `json:"extra_members,omitempty"`
		Redacted bool      `json:"redacted"`
	}{t.Type, t.Expiry, t.Issued, extra, true})
}

// FetchFunc gets a new token for key. It runs on a context of its own, detached from every
// caller (none of their values or deadlines), cancelled by Close and bounded by
// Options.FetchTimeout; a fetch that ignores its context is abandoned at that deadline and
// its late result dropped.
type FetchFunc func(ctx context.Context, key string) (Token, error)
