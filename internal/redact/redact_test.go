package redact

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSecret_RedactsEverywhereButConversion(t *testing.T) {
	t.Parallel()
	s := Secret("hunter2-passphrase")
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s), fmt.Sprintf(verb, []Secret{s}), fmt.Sprintf(verb, struct{ P Secret }{s}))
	}
	j, _ := json.Marshal(map[string]any{"p": s, "q": &s})
	txt, _ := s.MarshalText()
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "p", s)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "p", s, "group", struct{ P Secret }{s})
	outs = append(outs, string(j), string(txt), logs.String(), s.String(), s.GoString())
	for _, out := range outs {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("a secret shows: %s", out)
		}
	}
	if fmt.Sprint(s) != "[redacted]" || fmt.Sprintf("%q", s) != `"[redacted]"` || fmt.Sprint(Secret("")) != "" || string(j) != `{"p":"[redacted]","q":"[redacted]"}` {
		t.Fatalf("%v %q %v %s", s, s, Secret(""), j)
	}
	if string(s) != "hunter2-passphrase" {
		t.Fatal("the value itself is lost")
	}
	var back struct{ P Secret }
	if err := json.Unmarshal([]byte(`{"P":"from-a-file"}`), &back); err != nil || string(back.P) != "from-a-file" {
		t.Fatalf("a configuration file cannot fill a Secret: %v %q", err, string(back.P))
	}
}

func TestURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://svc:pw@token.example/oauth?x=1": "https://svc:***@token.example/oauth?x=1",
		// A bare user info may be a password (go-redis reads "redis://secret@host" so).
		"https://svc@token.example/": "https://***@token.example/",
		// An "@" in a path cannot be told from a password holding a "/": hidden.
		"https://token.example/a@b": "https://***@b",
		"not a url":                 "not a url",
		"":                          "",
	} {
		t.Run(in, func(t *testing.T) {
			if got := URL(in); got != want {
				t.Errorf("%q: %q, want %q", in, got, want)
			}
		})
	}
}

// One redactor for the module: a URL net/url cannot read (where the transport, the client and
// the Redis store each used to say something else) keeps no password either.
func TestURL_UnparsableURLsKeepNoPassword(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"redis://:hunter2@localhost:bad/0":   "redis://:***@localhost:bad/0",
		"redis://svc:hunter2@[::1/0":         "redis://svc:***@[::1/0",
		"https://svc:hun%zzter2@host/x":      "https://svc:***@host/x",
		"https://svc:hunter 2@host/x@y":      "https://svc:***@y",
		"redis://hunter2@host:bad port/0":    "redis://***@host:bad port/0",
		"svc:hunter2@localhost:6379":         "svc:***@localhost:6379",
		"https://host/a@b?c=d@e":             "https://***@e",
		"http://svc:hunter2@host:8080/token": "http://svc:***@host:8080/token",
	} {
		if got := URL(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// Value walks the module's own structs and never into another package's: those show their
// type only, since nothing says what they hold (a *tls.Config holds private keys).
func TestValue_ForeignStructsShowTheirTypeOnly(t *testing.T) {
	t.Parallel()
	type inner struct{ URL string }
	type cfg struct {
		URL     string
		Key     []byte `finauth:"secret"`
		TLS     *tls.Config
		Certs   []tls.Certificate
		Any     any
		Inner   inner
		Headers map[string][]string
		Secret  Secret
		Empty   *tls.Config
		When    time.Duration
	}
	c := cfg{URL: "https://u:hunter2@h/", Key: []byte("hunter2-key"), TLS: &tls.Config{ServerName: "hunter2-sni"},
		Certs: []tls.Certificate{{}}, Any: struct{ P string }{"hunter2-any"}, Inner: inner{"https://u:hunter2@i/"},
		Headers: map[string][]string{"Authorization": {"Bearer hunter2"}, "Accept": {"*/*"}}, Secret: "hunter2-secret", When: time.Second}
	j, err := JSON(c)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "c", LogValue(c))
	for _, out := range []string{fmt.Sprintf("%+v", Value(c)), fmt.Sprintf("%#v", Value(c)), string(j), buf.String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("a secret shows: %s", out)
		}
		for _, want := range []string{"(*tls.Config)", "(1 × tls.Certificate)", "u:***@h", "*/*", "1s"} {
			if !strings.Contains(out, want) && !strings.Contains(out, "1000000000") {
				t.Errorf("%s does not show %q", out, want)
			}
		}
	}
}

// URLError keeps the reason of a parse error and loses the URL and every quoted fragment.
func TestURLError_KeepsTheReasonOnly(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"https://svc:hunter2%zz@h/", "https://svc:hunter2@h:bad/", "https://svc:hunter 2@h/", "https://svc:hunter2@[::1/"} {
		_, err := url.Parse(raw)
		got := URLError(raw, err)
		if strings.Contains(got, "hunter") || got == "" || strings.Contains(got, `"`) {
			t.Errorf("%q: %q", raw, got)
		}
	}
}

func TestHeader_RedactsByHeaderSemantics(t *testing.T) {
	t.Parallel()
	for _, c := range [][3]string{
		{"Authorization", "Bearer SECRET", "Bearer [redacted]"},
		{"Authorization", "SECRET", "[redacted]"},
		{"Authorization", "SECRET SECRET", "[redacted]"},
		{"Proxy-Authorization", "Basic SECRET", "Basic [redacted]"},
		{"Cookie", "a=SECRET; b=SECRET", "a=[redacted]; b=[redacted]"},
		{"Set-Cookie", "s=SECRET; Path=/", "s=[redacted]; Path=/"},
		{"Set-Cookie", "s=SECRET", "s=[redacted]"},
		{"X-Api-Key", "SECRET", "[redacted]"},
		{"x-auth-token", "SECRET", "[redacted]"},
		{"X-Client-Secret", "SECRET", "[redacted]"},
		{"X-Idempotency-Key", "k-1", "k-1"},
		{"Content-Type", "application/json", "application/json"},
	} {
		if got := Header(c[0], c[1]); got != c[2] {
			t.Errorf("%s: %q: %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

// A path of plain words (what a server names as the path it refused) is kept: it was
// redacted as if it were a token, which hid a wrong token URL's clue
// ("API call refused (POST [redacted])"). Opaque runs around it still go.
func TestTokens_KeepsAPathOfPlainWords(t *testing.T) {
	for in, want := range map[string]string{
		"missing_token: API call refused (POST /oauth/token)": "missing_token: API call refused (POST /oauth/token)",
		"POST /passport/v1/oauth2/token":                      "POST /passport/v1/oauth2/token",
		"/v1/accounts/ext-id/cards":                           "/v1/accounts/ext-id/cards",
		"/k3x9ab/zzqqa":                                       Redacted,
		"/aB3d/efghijkl":                                      Redacted,
		"bearer /eyJhbGciOiJSUzI1NiJ9.e30.sig":                "bearer /" + Redacted,
		"abcdefghijklmnopqrstuvwxyz/abcdefghijklmnopq":        Redacted,
	} {
		if got := Tokens(in); got != want {
			t.Errorf("Tokens(%q) = %q, want %q", in, got, want)
		}
	}
}

type printedConfig struct {
	URL      string
	Password string `finauth:"secret"`
	Debug    bool
	Retries  int
}

func (c printedConfig) Format(f fmt.State, verb rune) { Format(f, verb, c) }

// %v and %s of a config show its type and the fields that are set, by name (a row of
// positional blanks and "%!s(bool=false)" before), secrets redacted.
func TestFormat_ShowsTheSetFieldsByName(t *testing.T) {
	c := printedConfig{URL: "https://h/x", Password: "hunter2", Retries: 3}
	want := "redact.printedConfig{URL:https://h/x Password:" + Redacted + " Retries:3}"
	for _, verb := range []string{"%v", "%s"} {
		if got := fmt.Sprintf(verb, c); got != want {
			t.Errorf("%s: %q, want %q", verb, got, want)
		}
	}
	if got := fmt.Sprintf("%+v", c); strings.Contains(got, "hunter2") || !strings.Contains(got, "Debug:false") {
		t.Errorf("%%+v: %q", got)
	}
}

// Issue 31 (3): a password holding "/", "?", "#", "@" or ":" (half of what `openssl rand
// -base64 32` makes holds a "/") is user info all the same: whatever lies between "://" and
// the last "@" is hidden, whether net/url reads the URL or not, and whatever it reads.
func TestURL_PasswordsWithDelimitersAreHidden(t *testing.T) {
	t.Parallel()
	for _, pass := range []string{"ab/cd+ef=", "ab?cd", "ab#cd", "ab@cd", "ab:cd", "12/34", "/?#@:", "k9/Zq+3x/Pw==", "a%2Fb/c"} {
		for _, form := range []struct{ raw, want string }{
			{"redis://:" + pass + "@localhost:6379/0", "redis://:***@localhost:6379/0"},
			{"redis://svc:" + pass + "@localhost:6379", "redis://svc:***@localhost:6379"},
			{"rediss://svc:" + pass + "@localhost:6379/2", "rediss://svc:***@localhost:6379/2"},
			{"redis+sentinel://:" + pass + "@127.0.0.1:26379,127.0.0.1:26380/mymaster/1", "redis+sentinel://:***@127.0.0.1:26379,127.0.0.1:26380/mymaster/1"},
			{"redis+cluster://u:" + pass + "@h:7000,h:7001", "redis+cluster://u:***@h:7000,h:7001"},
			{"https://svc:" + pass + "@token.example/oauth?x=1", "https://svc:***@token.example/oauth?x=1"},
			{"https://" + strings.ReplaceAll(pass, ":", "") + "@token.example/", "https://***@token.example/"},
		} {
			got := URL(form.raw)
			if got != form.want {
				t.Errorf("URL(%q) = %q, want %q", form.raw, got, form.want)
			}
			if _, err := url.Parse(form.raw); err != nil {
				if msg := URLError(form.raw, err); strings.Contains(msg, pass) {
					t.Errorf("URLError(%q) = %q: shows the password", form.raw, msg)
				}
			}
		}
	}
}
