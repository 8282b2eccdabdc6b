package revolut

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/finauth/finauth/internal/redact"
)

// ErrAPI is wrapped by every *APIError.
var ErrAPI = errors.New("finauth: revolut: the API refused the request")

// APIError is a refusal from the Open Banking API (or its mock): the status, and the code and
// message of its error body.
type APIError struct {
	Status  int
	Code    string // Open Banking's Errors[0].ErrorCode (or Code), or the mock's error
	Message string
}

// Error names the status, code and message.
func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: %d %s", ErrAPI, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns ErrAPI.
func (e *APIError) Unwrap() error { return ErrAPI }

// maxErrorBody bounds how much of an error body CheckResponse reads.
const maxErrorBody = 64 << 10

// What an error answer's code and text may show, at most: as the token endpoint's.
const (
	maxErrorCode    = 64
	maxErrorText    = 500
	maxErrorEntries = 8 // Open Banking's Errors entries read
)

// CheckResponse returns nil for a response below 400, and otherwise an *APIError made from
// its body (Open Banking's {"Code","Message","Errors":[{"ErrorCode","Message"}]}, or
// {"error","message"}). The body stays readable: what was read is put back.
func CheckResponse(resp *http.Response) error {
	if resp.StatusCode < 400 {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	e := &APIError{Status: resp.StatusCode}
	if body, ok := parseErrorBody(b); ok {
		switch {
		case len(body.Errors) > 0:
			e.Code, e.Message = body.Errors[0].ErrorCode, body.Errors[0].Message
		case body.Code != "":
			e.Code, e.Message = body.Code, body.Message
		default:
			e.Code, e.Message = body.Error, firstNonEmpty(body.LowerMessage, body.Description)
		}
	}
	e.Code, e.Message = shown(e.Code, e.Message)
	return e
}

// shown is an error answer's code and text as they may be shown: the text through the
// redaction the token endpoint's answers go through (no control character, escape or bidi
// control, which would forge log lines or drive a terminal; no token), the code kept to an
// identifier's characters (Open Banking's UK.OBIE.Field.Invalid, OAuth's invalid_grant);
// both bounded.
func shown(code, text string) (string, string) {
	code = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._-: ", r):
			return r
		}
		return -1
	}, code)
	if len(code) > maxErrorCode {
		code = code[:maxErrorCode] + "..."
	}
	return strings.TrimSpace(code), redact.Text(text, maxErrorText)
}

// errorBody is an error answer of Revolut's API or auth host: Open Banking's
// {"Code","Message","Errors":[{"ErrorCode","Message"}]}, OAuth's {"error",
// "error_description"}, or {"error","message"}.
type errorBody struct {
	Code, Message string
	Errors        []struct{ ErrorCode, Message string }
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	LowerMessage  string `json:"message"`
}

// parseErrorBody reads an error answer; ok is false when it is not a JSON object.
func parseErrorBody(b []byte) (errorBody, bool) {
	var body errorBody
	return body, json.Unmarshal(b, &body) == nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
