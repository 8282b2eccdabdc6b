package tokenendpoint

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/client"
)

func TestParseTokenResponse_Tolerant(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	jwtAccess := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1700001000}`)) + ".c2ln"
	for _, tc := range []struct {
		name, body string
		lifetime   time.Duration
	}{
		{"documented: expires_in a string", `{"access_token":"a","refresh_token":"r","expires_in":"3600"}`, time.Hour},
		{"token with a number", `{"token":"a","expires_in":3600}`, time.Hour},
		{"a float", `{"access_token":"a","expires_in":1800.0}`, 30 * time.Minute},
		{"a JWT's exp", `{"access_token":"` + jwtAccess + `"}`, 1000 * time.Second},
		{"a JWT's exp when expires_in is junk", `{"access_token":"` + jwtAccess + `","expires_in":"soon"}`, 1000 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ParseResponse("Pismo", []byte(tc.body), now, 0)
			if err != nil || tok.Value == "" || tok.Expiry.Sub(now) != tc.lifetime || tok.Type != "Bearer" {
				t.Errorf("%s: %v %v %q", tc.body, tok.Expiry.Sub(now), err, tok.Type)
			}
		})
	}
	for _, body := range []string{`not json`, `{}`, `null`, `{"access_token":""}`, `{"access_token":5,"expires_in":3600}`, `{"access_token":"a"}`, `{"access_token":"a","expires_in":-5}`, `{"access_token":"a","expires_in":"0"}`, `[]`} {
		t.Run("refused "+body, func(t *testing.T) {
			if _, err := ParseResponse("Pismo", []byte(body), now, 0); !errors.Is(err, client.ErrTokenResponse) {
				t.Errorf("%s: err = %v", body, err)
			}
		})
	}
}

func TestParseTokenResponse_FillsRefreshTokenTypeAndExtra(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	tok, err := ParseResponse("Revolut", []byte(`{"access_token":"a","token_type":"bearer","refresh_token":"r-1","expires_in":600,"scope":"accounts","id_token":"x.y.z","n":{"k":1}}`), now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "r-1" || tok.Type != "Bearer" {
		t.Fatalf("refresh %q type %q", tok.RefreshToken, tok.Type)
	}
	if len(tok.Extra) != 3 || tok.Extra["scope"] != "accounts" || tok.Extra["id_token"] != "x.y.z" || tok.Extra["n"].(map[string]any)["k"] != 1.0 {
		t.Fatalf("extra %v", tok.Extra)
	}
	tok, _ = ParseResponse("Pismo", []byte(`{"access_token":"a","token_type":"MAC","expires_in":600}`), now, 0)
	if tok.Type != "MAC" || tok.Extra != nil {
		t.Fatalf("type %q extra %v", tok.Type, tok.Extra)
	}
}

func TestProviderMessage_RedactedAndBounded(t *testing.T) {
	t.Parallel()
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
	opaque := strings.Repeat("Ab9_", 12)
	code, msg := providerMessage([]byte(`{"error":"invalid_grant","message":"token ` + jwt + ` refused; previous ` + opaque + ` too"}`))
	if code != "invalid_grant" || strings.Contains(msg, "eyJ") || strings.Contains(msg, opaque) || !strings.Contains(msg, "[redacted]") {
		t.Fatalf("%q %q", code, msg)
	}
	_, msg = providerMessage([]byte(strings.Repeat("plain words ", 200)))
	if len(msg) > maxErrorMessage+3 {
		t.Fatalf("%d bytes kept", len(msg))
	}
}

// fullToken is a value redactTokens must hide entirely.
var fullToken = regexp.MustCompile(`^[A-Za-z0-9_\-+/=.~]{32,}$`)

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{`{"access_token":"a","expires_in":"3600"}`, `{"token":"a","expires_in":3600}`, `{"access_token":"eyJhbGciOiJub25lIn0.eyJleHAiOjF9.x"}`, `{"expires_in":1e308}`, `{"access_token":"a","expires_in":1,"scope":"s","refresh_token":"r"}`,
		`{"refresh_token":"r","token_type":"bearer","access_token":"a","expires_in":"7200"}`} { // the last: Soldo Business
		f.Add([]byte(s))
	}
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := ParseResponse("Pismo", body, now, 0)
		if err != nil {
			if !errors.Is(err, client.ErrTokenResponse) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if tok.Value == "" || !tok.Expiry.After(now) || tok.Type == "" {
			t.Fatalf("accepted an unusable token: %v", tok)
		}
		for name := range tok.Extra {
			if tokenMembers[name] {
				t.Fatalf("%s is in Extra", name)
			}
		}
		code, msg := providerMessage(body)
		if len(msg) > maxErrorMessage+3 || strings.Contains(msg+code, tok.Value) && fullToken.MatchString(tok.Value) {
			t.Fatalf("message not bounded or token not redacted")
		}
	})
}

// Error bodies are bounded per field, lose their control characters, and tokens cut into
// pieces are still redacted.
func TestProviderMessage_BoundsStripsAndRedactsConservatively(t *testing.T) {
	t.Parallel()
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJlc2ln"
	chunks := []string{}
	for i := 0; i < len(jwt); i += 20 {
		chunks = append(chunks, jwt[i:min(i+20, len(jwt))])
	}
	body, _ := json.Marshal(map[string]string{
		"error":             strings.Repeat("E", 900_000),
		"error_description": "bad\r\nX-Injected: 1\x1b[31mred\x1b[0m token " + strings.Join(chunks, " ") + " invalid_client_assertion",
	})
	code, msg := providerMessage(body)
	if len(code) > maxErrorCode+3 || len(msg) > maxErrorMessage+3 {
		t.Fatalf("code %d bytes, message %d bytes", len(code), len(msg))
	}
	if strings.ContainsAny(msg, "\r\n\x1b") || strings.Contains(msg, "eyJ") || !strings.Contains(msg, "invalid_client_assertion") {
		t.Fatalf("%q", msg)
	}
	for _, c := range chunks[1:] {
		if len(c) >= 12 && strings.Contains(msg, c) {
			t.Fatalf("chunk %q of the JWT shows: %q", c, msg)
		}
	}
}
