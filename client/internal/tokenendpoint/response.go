package tokenendpoint

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// maxErrorMessage bounds the provider message kept in a TokenEndpointError.
const maxErrorMessage = 512

// tokenMembers are the members of a token answer that ParseTokenResponse reads into the
// Token's own fields; every other member goes to Token.Extra.
var tokenMembers = map[string]bool{"access_token": true, "token": true, "refresh_token": true, "token_type": true, "expires_in": true}

// ParseResponse reads a token endpoint's success answer tolerantly; it is the one place
// for wire quirks:
//   - Pismo documents {"access_token", "expires_in": "3600"} (a string), while a public Pismo
//     client reads "token": either name is taken;
//   - expires_in may be a number or a string of digits;
//   - with no usable expires_in, an access token that is itself a JWT gives its "exp";
//     otherwise the answer is an error (a token without a lifetime cannot be refreshed ahead);
//   - a lifetime beyond maxLifetime (client.DefaultMaxTokenLifetime when 0) is clamped to it.
//
// The lifetime is counted from now (take it before the request: conservative). A missing
// token_type means "Bearer". refresh_token goes to RefreshToken; every other member (scope,
// id_token, a provider's own fields) to Extra. An access token with characters that cannot
// go in an HTTP header (anything but visible ASCII) is refused. Errors wrap client.ErrTokenResponse
// and never hold a token.
func ParseResponse(provider string, data []byte, now time.Time, maxLifetime time.Duration) (tokencache.Token, error) {
	tok, _, err := parseTokenResponse(provider, data, now, maxLifetime)
	return tok, err
}

// parseTokenResponse is ParseTokenResponse, also saying whether the lifetime was clamped.
func parseTokenResponse(provider string, data []byte, now time.Time, maxLifetime time.Duration) (tok tokencache.Token, clamped bool, err error) {
	if maxLifetime <= 0 {
		maxLifetime = client.DefaultMaxTokenLifetime
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil || members == nil {
		return tok, false, fmt.Errorf("%w: %s: the body is not a JSON object", client.ErrTokenResponse, provider)
	}
	str := func(name string) string {
		var s string
		json.Unmarshal(members[name], &s)
		return s
	}
	tok = tokencache.Token{Value: str("access_token"), Type: str("token_type"), RefreshToken: str("refresh_token")}
	if tok.Value == "" {
		tok.Value = str("token")
	}
	if tok.Value == "" {
		return tokencache.Token{}, false, fmt.Errorf(`%w: %s: no "access_token" (or "token") string in the answer`, client.ErrTokenResponse, provider)
	}
	if !headerSafe(tok.Value) || !headerSafe(tok.Type) {
		return tokencache.Token{}, false, fmt.Errorf("%w: %s: the access token (or its type) has characters that cannot go in an Authorization header (only visible ASCII can)", client.ErrTokenResponse, provider)
	}
	if tok.Type == "" || strings.EqualFold(tok.Type, "bearer") {
		tok.Type = "Bearer"
	}
	if secs, ok := expiresIn(members["expires_in"]); ok {
		lifetime := maxLifetime
		if secs < int64(maxLifetime/time.Second) {
			lifetime = time.Duration(secs) * time.Second
		} else {
			clamped = true
		}
		tok.Expiry = now.Add(lifetime)
	} else if exp, ok := jwtExpiry(tok.Value); ok && exp.After(now) {
		tok.Expiry = exp
		if exp.Sub(now) > maxLifetime {
			tok.Expiry, clamped = now.Add(maxLifetime), true
		}
	} else {
		return tokencache.Token{}, false, fmt.Errorf(`%w: %s: "expires_in" is missing or not a positive number, and the access token is not a JWT with "exp"`, client.ErrTokenResponse, provider)
	}
	for name, raw := range members {
		if tokenMembers[name] {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) == nil {
			if tok.Extra == nil {
				tok.Extra = map[string]any{}
			}
			tok.Extra[name] = v
		}
	}
	return tok, clamped, nil
}

// headerSafe reports whether s is visible ASCII only (RFC 6750's b64token and every opaque
// token in use fit; a CR, LF, space or control character would break the header).
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func expiresIn(raw json.RawMessage) (int64, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != f || f < 1 || f > 1<<40 {
			return 0, false
		}
		n = int64(f)
	}
	if n <= 0 || n > 1<<40 {
		return 0, false
	}
	return n, true
}

// jwtExpiry reads "exp" from a JWT without verifying it (it is the server's own token; we
// only need to know when to refresh).
func jwtExpiry(tok string) (time.Time, bool) {
	u, err := signer.DecodeUnverified(tok)
	if err != nil || u.Detached {
		return time.Time{}, false
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(u.Payload, &c) != nil {
		return time.Time{}, false
	}
	n, err := c.Exp.Int64()
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// maxErrorCode bounds the provider's error code kept in a TokenEndpointError.
const maxErrorCode = 64

// providerMessage extracts "error"/"code" and a message from an error body: control
// characters (newlines, ANSI escapes) become spaces, anything token-like is redacted, and
// both are bounded.
func providerMessage(body []byte) (code, msg string) {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"error", "code", "errorCode"} {
			if s, ok := m[k].(string); ok {
				code = s
				break
			}
		}
		for _, k := range []string{"error_description", "message", "msg", "detail", "reason"} {
			if s, ok := m[k].(string); ok {
				msg = s
				break
			}
		}
	}
	if msg == "" && code == "" {
		msg = string(body)
	}
	return redact.Text(code, maxErrorCode), redact.Text(msg, maxErrorMessage)
}
