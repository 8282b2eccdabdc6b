package revolut_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/tokencache"
)

// refresh_token_expires_at's format is not documented: Unix seconds or milliseconds, as a
// number or a string, and RFC 3339 are read; anything else is not an expiry.
func TestRefreshTokenExpiry_ReadsEveryLikelyFormat(t *testing.T) {
	want := time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	secs, ms := strconv.FormatInt(want.Unix(), 10), strconv.FormatInt(want.UnixMilli(), 10)
	for _, v := range []any{float64(want.Unix()), float64(want.UnixMilli()), json.Number(secs), secs, ms, "2027-06-01T12:00:00Z", int64(want.Unix())} {
		got, ok := revolut.RefreshTokenExpiry(tokencache.Token{Extra: map[string]any{"refresh_token_expires_at": v}})
		if !ok || !got.Equal(want) {
			t.Errorf("%T %v: %v %v, want %v", v, v, got, ok, want)
		}
	}
	for _, v := range []any{nil, "", "soon", float64(0), float64(-5), true, map[string]any{}} {
		if got, ok := revolut.RefreshTokenExpiry(tokencache.Token{Extra: map[string]any{"refresh_token_expires_at": v}}); ok {
			t.Errorf("%T %v: read as %v", v, v, got)
		}
	}
	if _, ok := revolut.RefreshTokenExpiry(tokencache.Token{}); ok {
		t.Error("no member read as an expiry")
	}
}

// FuzzRefreshTokenExpiry: whatever the token endpoint answers in refresh_token_expires_at
// (decoded as the token parser decodes JSON), reading it never panics, and a time it reads
// is after the Unix epoch.
func FuzzRefreshTokenExpiry(f *testing.F) {
	for _, s := range []string{`1811937600`, `1811937600000`, `"1811937600"`, `"2027-06-01T12:00:00Z"`, `-1`, `1e308`, `"9999999999999999999999"`, `null`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var v any
		if json.Unmarshal([]byte(raw), &v) != nil {
			return
		}
		got, ok := revolut.RefreshTokenExpiry(tokencache.Token{Extra: map[string]any{"refresh_token_expires_at": v}})
		if ok && !got.After(time.Unix(0, 0)) {
			t.Fatalf("%s read as %v", raw, got)
		}
	})
}
