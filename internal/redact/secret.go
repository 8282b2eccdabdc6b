package redact

import (
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what a secret shows instead of itself.
const Redacted = "[redacted]"

// Secret is a string that never shows itself: a private key's PEM text, a passphrase, a
// client secret. Every way a value is usually printed or serialised (fmt with any verb,
// encoding/json, encoding.TextMarshaler, log/slog) gives "[redacted]" when it is set and an
// empty string when it is not, so a configuration holding one can be logged as it is. Use
// string(s) where the value itself is needed.
type Secret string

// String returns "[redacted]", or "" for an empty Secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString is String, so %#v does not show the value either.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// Format writes String for every verb (%q quotes it).
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	io.WriteString(f, s.String())
}

// LogValue keeps the value out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes String as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, "%q", s.String()), nil }

// MarshalText writes String.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText keeps the text as the value, so that configuration files and flag
// libraries can fill a Secret (MarshalText would otherwise make it read-only to them).
func (s *Secret) UnmarshalText(text []byte) error {
	*s = Secret(text)
	return nil
}
