package redact

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// URL returns raw with its user info hidden: "scheme://user:***@host/path", or
// "scheme://***@host/path" when the user info has no ":" (some clients read
// "redis://secret@host" as a password); a string without "@" is returned as it is. It is the
// one URL redactor of the module: configuration problems, errors, -v output and printed
// configurations all use it, so that they agree.
//
// The user info is whatever lies between "://" (or the start, for "svc:pw@host") and the
// last "@", parsed or not, whatever net/url would read: a password may hold "/", "?", "#",
// "@" or ":" (half of what `openssl rand -base64 32` makes holds a "/"), and a parser that
// ends the authority at the first of those never sees the "@". A URL whose path or query
// holds an "@" loses what comes before it: which of the two a "/" ends cannot be told
// ("https://u:8080/a@b" is user u with a password, or port 8080 with a path), and
// showing a password is the worse mistake.
func URL(raw string) string {
	if strings.Contains(raw, "pin-value=") {
		raw = pinValue(raw)
	}
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	start := 0
	if i := strings.Index(raw[:at], "://"); i >= 0 {
		start = i + len("://")
	}
	hidden := "***"
	if user, _, ok := strings.Cut(raw[start:at], ":"); ok {
		hidden = user + ":***"
	}
	return raw[:start] + hidden + raw[at:]
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

// pinValue hides the PIN of a PKCS#11 URI (RFC 7512's pin-value query attribute): everything
// from "pin-value=" to the end of the URI, since a PIN may hold ";", "&" or "?" and no
// parser can tell where such a PIN ends. What the URI says after its PIN is lost to the
// redaction: write pin-value last (or use pin-source, a file).
func pinValue(raw string) string {
	const attr = "pin-value="
	i := strings.Index(raw, attr)
	if i < 0 {
		return raw
	}
	return raw[:i+len(attr)] + "***"
}
