package redact

import (
	"net/url"
	"strings"
	"testing"
)

// A URL's password never survives URL (it is replaced where it stands, before the "@"), nor URLError of the URL's parse error, whatever the
// rest of the URL looks like (a bad port, % escapes, spaces, brackets).
func FuzzURL(f *testing.F) {
	for _, s := range [][4]string{{"https", "svc", "hunter2", "host/x"}, {"redis", "", "hunter2", "localhost:bad/0"}, {"https", "u", "hun ter2", "[::1/x"}, {"http", "u", "pw%zz12", "h:1/p?q=1#f"}} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, scheme, user, pass, rest string) {
		if len(pass) < 6 || strings.ContainsAny(pass, "@/?#:") || strings.ContainsAny(user, "@/?#:") ||
			strings.Contains(scheme+user+rest, pass) || strings.ContainsAny(scheme, "/?#@") {
			return
		}
		raw := scheme + "://" + user + ":" + pass + "@" + rest
		other := strings.Repeat("z", len(pass))
		if other == pass {
			other = strings.Repeat("y", len(pass))
		}
		if strings.Contains(URL(scheme+"://"+user+":"+other+"@"+rest), pass) {
			return // the rest, re-encoded, spells the password by itself ("#\x000000@" becomes "#%000000@")
		}
		// The password stands right before the "@" (the rest, re-encoded, may spell it
		// elsewhere: "#\x000000" becomes "#%000000").
		if got := URL(raw); strings.Contains(got, pass+"@") || strings.Contains(got, url.PathEscape(pass)+"@") {
			t.Fatalf("URL(%q) = %q", raw, got)
		}
		if _, err := url.Parse(raw); err != nil {
			if got := URLError(raw, err); strings.Contains(got, pass) {
				t.Fatalf("URLError(%q) = %q", raw, got)
			}
		}
	})
}
