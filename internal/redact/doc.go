// Package redact keeps secrets out of everything finauth prints, marshals or logs. It is a
// leaf: every package of the module may use it, and it imports none of them.
//
//   - [Secret] is a string that shows "[redacted]" in fmt (every verb), encoding/json,
//     encoding.TextMarshaler and log/slog.
//   - [URL] hides the password of a URL's userinfo the way net/http shows URLs
//     ("https://svc:***@host/path"), for URLs net/url can read and for those it cannot.
//   - [Value] copies a configuration struct with every URL password hidden and every secret
//     redacted, by reflection, so that a field added later is covered without a hand-kept
//     list; [Format], [JSON] and [LogValue] print, marshal and log that copy.
//   - [Text] bounds and cleans text that came from outside (a server's error message) and
//     replaces anything that looks like a token or a JWT.
package redact
