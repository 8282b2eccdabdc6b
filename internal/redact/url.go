package redact

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// URL returns raw with the password of its userinfo replaced by "***", as net/http shows
// URLs ("https://svc:***@host/path"); a string without userinfo is returned as it is. It is
// the one URL redactor of the module: configuration problems, errors, -v output and
// printed configurations all use it, so that they agree.
//
// A URL net/url cannot read (a bad port, a bad % escape, a space) is redacted by hand: the
// part of its authority before the last "@" keeps the user name before a ":" and loses the
// rest, and loses all of it when there is no ":" (some clients read "redis://secret@host"
// as a password).
func URL(raw string) string {
	if strings.Contains(raw, "pin-value=") {
		raw = pinValue(raw)
	}
	if !strings.Contains(raw, "@") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || (u.User == nil && u.Host == "") {
		return byHand(raw)
	}
	if u.User == nil {
		return raw // the "@" is in the path or the query
	}
	if _, hasPassword := u.User.Password(); !hasPassword {
		return raw
	}
	// net/http's form (its stripPassword): url.URL.Redacted writes "xxxxx" instead.
	return strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1)
}

// byHand hides the userinfo of a URL that net/url cannot read (or reads as an opaque
// scheme:rest, as it does "svc:pw@host:6379").
func byHand(raw string) string {
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + 3
	}
	end := len(raw)
	if i := strings.IndexAny(raw[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndex(raw[start:end], "@")
	if at < 0 {
		return raw
	}
	userinfo := raw[start : start+at]
	hidden := "***"
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		hidden = user + ":***"
	}
	return raw[:start] + hidden + raw[start+at:]
}

// quoted is a double-quoted fragment of an error message.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// URLError says why raw did not parse (err, from net/url or a client library built on it)
// without quoting raw or any part of it: net/url's errors quote the whole URL, and their
// reasons quote the offending fragment (a bad % escape, a port, a character), any of which
// may be part of a password. What is left is the reason itself ("invalid URL escape",
// "invalid port after host").
func URLError(raw string, err error) string {
	var ue *url.Error
	msg := err.Error()
	if errors.As(err, &ue) {
		msg = ue.Err.Error()
	}
	msg = strings.ReplaceAll(msg, raw, URL(raw))
	msg = quoted.ReplaceAllString(msg, "")
	return strings.Join(strings.Fields(msg), " ")
}

// KeyURI hides the PIN of a PKCS#11 URI (RFC 7512's pin-value query attribute).
func KeyURI(raw string) string { return pinValue(raw) }

// pinValue hides the PIN of a PKCS#11 URI (RFC 7512's pin-value query attribute).
func pinValue(raw string) string {
	const attr = "pin-value="
	out := raw
	for start := 0; ; {
		i := strings.Index(out[start:], attr)
		if i < 0 {
			return out
		}
		i += start + len(attr)
		end := strings.IndexAny(out[i:], "&;")
		if end < 0 {
			end = len(out) - i
		}
		out = out[:i] + "***" + out[i+end:]
		start = i + 3
	}
}
