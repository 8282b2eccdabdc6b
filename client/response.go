package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// ErrTokenResponse is wrapped when a token endpoint's success answer cannot be used.
var ErrTokenResponse = errors.New("finauth: client: unusable token response")

// maxErrorMessage bounds the provider message kept in a TokenEndpointError.
const maxErrorMessage = 512

// tokenMembers are the members of a token answer that ParseTokenResponse reads into the
// Token's own fields; every other member goes to Token.Extra.
var tokenMembers = map[string]bool{"access_token": true, "token": true, "refresh_token": true, "token_type": true, "expires_in": true}

// ParseTokenResponse reads a token endpoint's success answer tolerantly; it is the one place
// for wire quirks:
//   - Pismo documents {"access_token", "expires_in": "3600"} (a string), while a public Pismo
//     client reads "token": either name is taken;
//   - expires_in may be a number or a string of digits;
//   - with no usable expires_in, an access token that is itself a JWT gives its "exp";
//     otherwise the answer is an error (a token without a lifetime cannot be refreshed ahead).
//
// The lifetime is counted from now (take it before the request: conservative). A missing
// token_type means "Bearer". refresh_token goes to RefreshToken; every other member (scope,
// id_token, a provider's own fields) to Extra. Errors wrap ErrTokenResponse and never hold a
// token.
func ParseTokenResponse(provider string, data []byte, now time.Time) (tokencache.Token, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil || members == nil {
		return tokencache.Token{}, fmt.Errorf("%w: %s: the body is not a JSON object", ErrTokenResponse, provider)
	}
	str := func(name string) string {
		var s string
		json.Unmarshal(members[name], &s)
		return s
	}
	tok := tokencache.Token{Value: str("access_token"), Type: str("token_type"), RefreshToken: str("refresh_token")}
	if tok.Value == "" {
		tok.Value = str("token")
	}
	if tok.Value == "" {
		return tokencache.Token{}, fmt.Errorf(`%w: %s: no "access_token" (or "token") string in the answer`, ErrTokenResponse, provider)
	}
	if tok.Type == "" || strings.EqualFold(tok.Type, "bearer") {
		tok.Type = "Bearer"
	}
	if secs, ok := expiresIn(members["expires_in"]); ok {
		tok.Expiry = now.Add(time.Duration(secs) * time.Second)
	} else if exp, ok := jwtExpiry(tok.Value); ok && exp.After(now) {
		tok.Expiry = exp
	} else {
		return tokencache.Token{}, fmt.Errorf(`%w: %s: "expires_in" is missing or not a positive number, and the access token is not a JWT with "exp"`, ErrTokenResponse, provider)
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
	return tok, nil
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

// providerMessage extracts "error"/"code" and a message from an error body, redacted and
// bounded.
func providerMessage(body []byte) (code, msg string) {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"error", "code", "errorCode"} {
			if s, ok := m[k].(string); ok {
				code = redactTokens(s)
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
	msg = redactTokens(strings.ToValidUTF8(msg, "?"))
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage] + "..."
	}
	return code, strings.TrimSpace(msg)
}

var (
	jwtLike   = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)
	tokenLike = regexp.MustCompile(`[A-Za-z0-9_\-+/=.~]{32,}`)
)

// redactTokens replaces JWTs and long opaque strings (tokens, keys) with [redacted].
func redactTokens(s string) string {
	s = jwtLike.ReplaceAllString(s, "[redacted]")
	return tokenLike.ReplaceAllString(s, "[redacted]")
}
