package redact

import (
	"net/url"
	"strings"
	"testing"
)

// A URL's password never survives URL, whatever bytes it holds ("/", "?", "#", "@" and ":"
// included): the output is the URL with everything between "://" and the last "@" hidden,
// the user name kept, so that no byte of the password is left. Nor does URLError of the
// URL's parse error show it, whatever the rest of the URL looks like (a bad port, %
// escapes, spaces, brackets).
func FuzzURL(f *testing.F) {
	for _, s := range [][4]string{{"https", "svc", "hunter2", "host/x"}, {"redis", "", "hunter2", "localhost:bad/0"}, {"https", "u", "hun ter2", "[::1/x"},
		{"http", "u", "pw%zz12", "h:1/p?q=1#f"}, {"redis", "", "ab/cd+ef=", "h:6379/0"}, {"redis+sentinel", "", "a?b#c@d:e", "h:1,h:2/m"}, {"https", "u", "Zq/3x", "api/a@b"}} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, scheme, user, pass, rest string) {
		if len(pass) < 6 || strings.ContainsAny(user, "@:") || strings.ContainsAny(scheme, "/?#@:") ||
			strings.Contains(scheme+user+rest, pass) || strings.Contains(scheme+"://"+user+":"+pass+"@"+rest, "pin-value=") {
			return
		}
		raw := scheme + "://" + user + ":" + pass + "@" + rest
		tail := "@" + rest
		want := scheme + "://" + user + ":***" + tail[strings.LastIndex(tail, "@"):]
		if got := URL(raw); got != want {
			t.Fatalf("URL(%q) = %q, want %q", raw, got, want)
		}
		if _, err := url.Parse(raw); err != nil {
			if got := URLError(raw, err); strings.Contains(got, pass) {
				t.Fatalf("URLError(%q) = %q", raw, got)
			}
		}
	})
}
