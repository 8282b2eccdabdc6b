package revolut

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzRegistrationAnswer: whatever Revolut (or anything on the way) answers a registration
// with, and whatever software statement a user passes, reading it never panics, an error's
// description stays bounded, and a JWT in it does not come back whole.
func FuzzRegistrationAnswer(f *testing.F) {
	f.Add([]byte(`{"error":"invalid_client_metadata","error_description":"bad aud"}`), "eyJhbGciOiJub25lIn0.eyJvcmdfbmFtZSI6IngifQ.")
	f.Add([]byte(`{"Code":"400","Message":"x","Errors":[{"ErrorCode":"UK.OBIE.Field.Invalid","Message":"scope"}]}`), "a.b.c")
	f.Add([]byte(`{"client_id":"c","scope":"openid accounts"}`), "")
	f.Add([]byte(`{"client_id":"c","scope":["openid"]}`), "..")
	f.Fuzz(func(t *testing.T, body []byte, ssa string) {
		e := registrationError("register", 400, body)
		if len(e.Description) > 600 {
			t.Fatalf("description of %d bytes", len(e.Description))
		}
		if strings.Contains(e.Error(), "eyJhbGciOiJQUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl") {
			t.Fatalf("a JWT came back: %s", e.Error())
		}
		var c Client
		_ = json.Unmarshal(body, &c)
		_, _ = ssaClaims(ssa)
	})
}
