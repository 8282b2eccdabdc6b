package pkcs11_test

import (
	"strings"
	"testing"

	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/signer/pkcs11"
)

// FuzzParseURI: whatever a configuration holds as a pkcs11: URI, parsing it never panics,
// and a pin-value never comes back in an error or in the redacted URI.
func FuzzParseURI(f *testing.F) {
	f.Add("pkcs11:token=finauth;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=SECRETPIN")
	f.Add("pkcs11:token=a%20b;id=%01%02;slot-id=3?module-path=m&pin-source=file:/run/pin&max-sessions=4")
	f.Add("pkcs11:object=x;type=private?pin-value=SECRETPIN&pin-value=SECRETPIN")
	f.Add("pkcs11:;;=?&=&")
	f.Fuzz(func(t *testing.T, raw string) {
		const pin = "SECRETPIN"
		path, query, _ := strings.Cut(raw, "?")
		if strings.Contains(path, pin) || strings.Count("&"+query, "&pin-value="+pin) != strings.Count(query, pin) || !strings.Contains(query, pin) {
			return // the pin only as the query's pin-value: anywhere else it is not the URI's secret
		}
		u, err := pkcs11.ParseURI(raw)
		if err != nil && strings.Contains(err.Error(), pin) {
			t.Fatalf("the pin in an error: %v", err)
		}
		if u != nil && strings.Contains(u.String(), pin) {
			t.Fatalf("the pin in the URI's String: %s", u)
		}
		if strings.Contains(signer.RedactKeyURI(raw), "pin-value="+pin) {
			t.Fatalf("RedactKeyURI kept the pin: %s", signer.RedactKeyURI(raw))
		}
	})
}
