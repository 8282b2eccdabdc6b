package revolut

import (
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"unicode"
)

// hostileBody is an error answer built to forge log lines and drive a terminal: control
// characters, an ANSI escape, a bidi override, a code of 10,000 bytes.
var hostileBody = `{"error":"\u001b[31mRED` + strings.Repeat("A", 10_000) + `","Code":"x\ny","error_description":"first\nlevel=ERROR msg=\"forged\"\r\u202eevil",` +
	`"Message":"m\u0007","Errors":[{"ErrorCode":"UK.OBIE.\u001b[2J","Message":"cleared\nscreen"}]}`

// Issue 31 (15): Revolut's error bodies go through the redaction the token endpoint's do:
// no control character, escape or bidi control survives, and codes and messages are
// bounded.
func TestErrorBodies_ShowNoControlCharactersAndAreBounded(t *testing.T) {
	t.Parallel()
	reg := registrationError("register", 400, []byte(hostileBody))
	api := CheckResponse(&http.Response{StatusCode: 400, Body: io.NopCloser(strings.NewReader(hostileBody))})
	var ae *APIError
	if !errors.As(api, &ae) {
		t.Fatalf("%v", api)
	}
	for name, s := range map[string]string{"registration code": reg.Code, "registration description": reg.Description, "registration error": reg.Error(),
		"API code": ae.Code, "API message": ae.Message, "API error": ae.Error()} {
		if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }); i >= 0 {
			t.Errorf("%s holds a control character at %d: %q", name, i, s)
		}
	}
	for name, s := range map[string]string{"registration code": reg.Code, "API code": ae.Code} {
		if len(s) > maxErrorCode+3 {
			t.Errorf("%s is %d bytes", name, len(s))
		}
	}
	for name, s := range map[string]string{"registration description": reg.Description, "API message": ae.Message} {
		if len(s) > maxErrorText+3 {
			t.Errorf("%s is %d bytes", name, len(s))
		}
	}
}

// Issue 31 (11): reading a refusal costs memory in proportion to the answer, not its square
// (30,000 empty Errors entries, 88 KB, allocated 934 MB).
func TestRegistrationError_CostsTheSizeOfTheAnswer(t *testing.T) {
	body := []byte(`{"Message":"refused","Errors":[` + strings.Repeat(`{},`, 29_999) + `{}]}`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e := registrationError("register", 400, body)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 50<<20 {
		t.Fatalf("reading a %d-byte refusal allocated %d MB", len(body), got>>20)
	}
	if len(e.Description) > maxErrorText+3 {
		t.Fatalf("description of %d bytes", len(e.Description))
	}
}
