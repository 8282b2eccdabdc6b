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

// Issue 31 (18): a number too small to be a date after 2001 (7776000, Revolut's 90 days) is a
// lifetime counted from the token's issue, not a date in 1970 that declares the consent dead.
func TestRefreshTokenExpiry_ALifetimeIsNotADateIn1970(t *testing.T) {
	issued := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, v := range []any{float64(7776000), "7776000", json.Number("7776000")} {
		got, ok := revolut.RefreshTokenExpiry(tokencache.Token{Issued: issued, Extra: map[string]any{"refresh_token_expires_at": v}})
		if want := issued.Add(90 * 24 * time.Hour); !ok || !got.Equal(want) {
			t.Errorf("%T %v: %v %v, want %v", v, v, got, ok, want)
		}
		if got, ok := revolut.RefreshTokenExpiry(tokencache.Token{Extra: map[string]any{"refresh_token_expires_at": v}}); ok {
			t.Errorf("%T %v without an issue time: read as %v, want unknown", v, v, got)
		}
	}
}

// FuzzRefreshTokenExpiry: whatever the token endpoint answers in refresh_token_expires_at
// (decoded as the token parser decodes JSON), reading it never panics, and a time it reads
// is after 2001 (no consent is declared dead by a misread number).
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
		if ok && got.Before(time.Unix(1e9, 0)) {
			t.Fatalf("%s read as %v: no refresh token expired before 2001", raw, got)
		}
	})
}
