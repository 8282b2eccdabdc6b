package redact

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text makes text from outside (a server's error message) safe to show: valid UTF-8, no
// control characters (CR/LF, ANSI escapes, bidi controls), tokens replaced ([Tokens]), at
// most max bytes ("..." marks a cut).
func Text(s string, max int) string {
	if len(s) > 8*max {
		s = s[:8*max] // the rest could never be shown; do not scan megabytes
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.TrimSpace(Tokens(s))
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "..."
	}
	return s
}

var (
	// jwtLike is any run that starts like a JWT's header segment, whatever its length.
	jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_\-+/=.~]*`)
	// plainPath is an absolute path of lowercase words, each perhaps ending in digits
	// (v1, oauth2), at most 20 characters each and 8 segments: what a server's message
	// names as the path it refused, which a random token essentially never looks like.
	plainPath = regexp.MustCompile(`^(?:/[a-z]{1,16}[0-9]{0,4}(?:[-_][a-z]{1,16}[0-9]{0,4})*){1,8}/?$`)
	// tokenRun is a run of token characters long enough to hold part of a secret.
	tokenRun = regexp.MustCompile(`[A-Za-z0-9_\-+/=.~]{12,}`)
)

// Tokens replaces JWTs and opaque-looking strings with [redacted]: conservatively, any run
// of 32 or more token characters, and any run of 12 or more that mixes letter cases, or
// letters and digits, or holds base64's +, / or =, so that a token cut into pieces still
// does not show. Plain words and error codes (invalid_client_assertion) stay.
func Tokens(s string) string {
	s = jwtLike.ReplaceAllString(s, Redacted)
	return tokenRun.ReplaceAllStringFunc(s, func(run string) string {
		if plainPath.MatchString(run) {
			return run // /passport/v1/oauth2/token: words, not a secret
		}
		if len(run) >= 32 {
			return Redacted
		}
		var lower, upper, digit, b64 bool
		for _, r := range run {
			switch {
			case r >= 'a' && r <= 'z':
				lower = true
			case r >= 'A' && r <= 'Z':
				upper = true
			case r >= '0' && r <= '9':
				digit = true
			case r == '+' || r == '/' || r == '=':
				b64 = true
			}
		}
		if (lower && upper) || ((lower || upper) && digit) || b64 {
			return Redacted
		}
		return run
	})
}
