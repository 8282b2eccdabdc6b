package client

import "github.com/finauth/finauth/internal/redact"

// Secret is a string that never shows itself: a private key's PEM text, a passphrase, a
// client secret. Every way a value is usually printed or serialised (fmt with any verb,
// encoding/json, encoding.TextMarshaler, log/slog) gives "[redacted]" when it is set and
// an empty string when it is not, so a configuration holding one can be logged as it is.
// Use string(s) where the value itself is needed. tokencache/redisstore and every provider
// use the same type.
type Secret = redact.Secret
