package redisstore

import (
	"strings"
	"testing"
)

// FuzzParseURL: whatever FINAUTH_REDIS_URL holds, parseURL never panics, an error never shows
// any part of the password (whatever it holds), and a URL it accepts has at least one host:port and, for Sentinel, a master.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"redis+sentinel://:pw@127.0.0.1:26379,127.0.0.1:26380/mymaster", "redis+cluster://u:pw@h:7000,h:7001",
		"rediss+sentinel://:pw@h:1/m/2", "redis+cluster://:pw@h:0", "redis+sentinel://:p%zz@h:1/m", "redis+cluster://:pw@[::1]:7000"} {
		f.Add(s, "hunter2")
		f.Add(s, "Zq/3x?Pw#k9@m:T+e=")
	}
	f.Fuzz(func(t *testing.T, raw, pass string) {
		// Any password but one with a "%" (an escape, as in every URL): "/", "?", "#", "@"
		// and ":" included.
		if len(pass) < 6 || strings.Contains(pass, "%") || strings.Contains(raw, pass) {
			return
		}
		// The password goes where a user writes it: between "//:" and "@".
		scheme, rest, ok := strings.Cut(raw, "://")
		if !ok {
			return
		}
		if _, after, ok := strings.Cut(rest, "@"); ok {
			rest = after
		}
		if strings.Contains(rest, "@") {
			return
		}
		u := scheme + "://:" + pass + "@" + rest
		p, err := parseURL(u)
		if err != nil {
			// The rest, quoted in the message, may spell the password by itself ("\x10000001"):
			// the same URL under another password must not show it either.
			_, otherErr := parseURL(scheme + "://:" + strings.Repeat("z", len(pass)) + "@" + rest)
			if strings.Contains(err.Error(), pass) && (otherErr == nil || !strings.Contains(otherErr.Error(), pass)) {
				t.Fatalf("parseURL(%q): the error shows the password: %v", u, err)
			}
			return
		}
		if len(p.addrs) == 0 || p.kind == sentinel && p.master == "" {
			t.Fatalf("parseURL(%q) = %+v: accepted without an address or a master", u, p)
		}
		if p.password != pass {
			t.Fatalf("parseURL(%q): password %q, want %q", u, p.password, pass)
		}
	})
}
