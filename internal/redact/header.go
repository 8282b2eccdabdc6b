package redact

import (
	"slices"
	"strings"
)

// authSchemes are the HTTP authentication schemes whose name Header keeps (IANA's registry,
// and the ones APIs use besides).
var authSchemes = []string{"basic", "bearer", "digest", "dpop", "negotiate", "ntlm", "mac", "hoba", "mutual", "vapid", "scram-sha-1", "scram-sha-256", "aws4-hmac-sha256", "gnap", "privatetoken", "token"}

// credentialHeaders are the request and response headers, besides Authorization and cookies,
// that carry a credential, matched by a part of their lower-case name.
var credentialHeaders = []string{"api-key", "apikey", "api_key", "token", "secret", "password", "passphrase", "session", "credential", "auth-key", "signature-key"}

// Header returns a header's value as it may be shown (curl -v style): cookies show their
// names only, Authorization and Proxy-Authorization keep their scheme only when it is a known
// scheme followed by a space, and credential headers (X-Api-Key, X-Auth-Token, ...) show
// "[redacted]". Other headers are shown as they are.
func Header(name, value string) string {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization":
		if scheme, _, ok := strings.Cut(value, " "); ok && slices.Contains(authSchemes, strings.ToLower(scheme)) {
			return scheme + " " + Redacted
		}
		return Redacted
	case "cookie":
		var out []string
		for _, c := range strings.Split(value, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(c), "=")
			out = append(out, name+"="+Redacted)
		}
		return strings.Join(out, "; ")
	case "set-cookie":
		pair, attrs, _ := strings.Cut(value, ";")
		name, _, _ := strings.Cut(strings.TrimSpace(pair), "=")
		if attrs != "" {
			return name + "=" + Redacted + ";" + attrs
		}
		return name + "=" + Redacted
	}
	for _, c := range credentialHeaders {
		if strings.Contains(n, c) {
			return Redacted
		}
	}
	return value
}
