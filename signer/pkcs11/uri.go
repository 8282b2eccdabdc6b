// Package pkcs11 signs with keys that stay in a PKCS#11 module (an HSM, a cloud HSM, a
// YubiHSM, SoftHSM2), addressed by an RFC 7512 URI:
//
//	pkcs11:token=finauth;object=pismo-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin
//
// Importing it makes signer.LoadKeyFile (and so every provider's *_PRIVATE_KEY_FILE and
// every finauth command that takes a key) open such URIs. It needs cgo (PKCS#11 modules
// are C libraries, loaded with github.com/ThalesGroup/crypto11); built without cgo it
// registers an opener that says so.
//
// RSA signs with PKCS #1 v1.5 (RS256) and PSS with a salt as long as the hash (PS256);
// ECDSA P-256, P-384 and P-521 (the module's signature is turned into JOSE's r||s by
// package signer); Ed25519 (EdDSA) where the module has CKM_EDDSA (SoftHSM2 does), through
// the module directly, since crypto11 has no EdDSA.
// Sessions are pooled (max-sessions in the URI's query, default 8), one login per module
// and token, kept for the life of the process; when the token's sessions are lost (an HSM
// restart, a failover), the next signature logs in again and finds the key again.
//
// The PIN comes from pin-source (file:PATH, or a path) or pin-value; pin-value puts the PIN
// in the URI, so it is discouraged, and it is redacted wherever the URI is printed
// (signer.RedactKeyURI).
package pkcs11

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/finauth/finauth/signer"
)

// ErrPKCS11 is wrapped by every error of this package.
var ErrPKCS11 = errors.New("finauth: pkcs11")

// Error is a failure to open or use a PKCS#11 key: what was being done, the key (its token
// and object; never the PIN) and why.
type Error struct {
	Op     string // "parse the URI", "load the module", "log in", "find the key", ...
	Token  string
	Object string
	Err    error
}

// Error names the token and object, never the PIN.
func (e *Error) Error() string {
	where := ""
	if e.Token != "" || e.Object != "" {
		where = fmt.Sprintf(" (token %q, object %q)", e.Token, e.Object)
	}
	return fmt.Sprintf("%s: cannot %s%s: %v", ErrPKCS11, e.Op, where, e.Err)
}

// Unwrap returns the cause and ErrPKCS11.
func (e *Error) Unwrap() []error { return []error{ErrPKCS11, e.Err} }

// URI is a parsed RFC 7512 PKCS#11 URI (the attributes finauth uses).
type URI struct {
	Token, Serial, Object string
	ID                    []byte
	SlotID                *int
	ModulePath            string
	PinSource             string
	pinValue              string
	MaxSessions           int
}

// String is the URI with its pin-value redacted.
func (u URI) String() string {
	return fmt.Sprintf("pkcs11:token=%s;object=%s (module %s)", u.Token, u.Object, u.ModulePath)
}

// GoString is String: %#v shows no PIN either.
func (u URI) GoString() string { return strconv.Quote(u.String()) }

// Format keeps every fmt verb on String.
func (u URI) Format(f fmt.State, _ rune) { fmt.Fprint(f, u.String()) }

// LogValue keeps slog output on String.
func (u URI) LogValue() slog.Value { return slog.StringValue(u.String()) }

// MarshalJSON marshals String.
func (u URI) MarshalJSON() ([]byte, error) { return json.Marshal(u.String()) }

// ParseURI reads a pkcs11: URI. A path attribute or query parameter it does not know is an
// error (a typo would otherwise pick another key).
func ParseURI(raw string) (*URI, error) {
	rest, ok := strings.CutPrefix(raw, "pkcs11:")
	if !ok {
		return nil, &Error{Op: "parse the URI", Err: fmt.Errorf("%s does not start with \"pkcs11:\"", signer.RedactKeyURI(raw))}
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{}
	bad := func(format string, args ...any) (*URI, error) {
		return nil, &Error{Op: "parse the URI", Token: u.Token, Object: u.Object, Err: fmt.Errorf(format, args...)}
	}
	for _, attr := range strings.Split(path, ";") {
		if attr == "" {
			continue
		}
		if strings.HasPrefix(attr, "pin-value=") {
			// Nothing after it is quoted: a PIN may hold ";".
			return bad("pin-value goes in the query, after \"?\" (pkcs11:token=...;object=...?module-path=...&pin-value=...), or use pin-source")
		}
		k, v, ok := strings.Cut(attr, "=")
		if !ok {
			return bad("path attribute %q has no value", k)
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			return bad("attribute %s: %v", k, err)
		}
		switch k {
		case "token":
			u.Token = val
		case "serial":
			u.Serial = val
		case "object":
			u.Object = val
		case "id":
			u.ID = []byte(val)
		case "slot-id":
			n, err := strconv.Atoi(val)
			if err != nil {
				return bad("slot-id %q is not a number", val)
			}
			u.SlotID = &n
		case "type":
			if val != "private" {
				return bad("type=%s: a signing key is type=private", val)
			}
		case "manufacturer", "model", "library-manufacturer", "library-description", "library-version", "slot-description", "slot-manufacturer":
			// informative; the token and object choose the key
		default:
			return bad("unknown path attribute %q", k)
		}
	}
	// Once the query holds a PIN, no part of it is quoted in an error: a PIN may hold "&", and
	// then what follows it reads as a parameter of its own.
	hasPIN := strings.Contains(query, "pin-value=")
	seen := map[string]bool{}
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if seen[k] {
			if hasPIN {
				return bad("a query parameter is given twice (a \"&\" in the PIN? write it %%26)")
			}
			return bad("query parameter %q is given twice", k)
		}
		seen[k] = true
		val, err := url.QueryUnescape(v)
		if err != nil {
			if k == "pin-value" || hasPIN {
				return bad("a query value is not %%-encoded correctly (a %% in the PIN is written %%25)")
			}
			return bad("query %s: %v", k, err)
		}
		switch k {
		case "module-path":
			u.ModulePath = val
		case "pin-source":
			u.PinSource = val
		case "pin-value":
			u.pinValue = val
		case "max-sessions":
			n, err := strconv.Atoi(val)
			if err != nil || n < 2 {
				return bad("max-sessions=%s: give a number of at least 2", val)
			}
			u.MaxSessions = n
		case "module-name":
			return bad("module-name is not supported: give module-path, the module's file (e.g. /usr/lib/softhsm/libsofthsm2.so)")
		default:
			if hasPIN {
				return bad("an unknown query parameter (a \"&\" in the PIN? write it %%26)")
			}
			return bad("unknown query parameter %q", k)
		}
	}
	switch {
	case u.ModulePath == "":
		return bad("module-path is required: the PKCS#11 module's file, e.g. module-path=/usr/lib/softhsm/libsofthsm2.so")
	case u.Token == "" && u.Serial == "" && u.SlotID == nil:
		return bad("name the token: token=LABEL, serial=S or slot-id=N")
	case u.Object == "" && u.ID == nil:
		return bad("name the key: object=LABEL or id=%%XX...")
	case u.PinSource != "" && u.pinValue != "":
		return bad("give pin-source or pin-value, not both")
	}
	return u, nil
}

// PIN reads the PIN: pin-value, or the file pin-source names (file:PATH or PATH; its last
// line ending is dropped); "" when neither is given.
func (u *URI) PIN() (string, error) {
	if u.pinValue != "" {
		return u.pinValue, nil
	}
	if u.PinSource == "" {
		return "", nil
	}
	path := strings.TrimPrefix(u.PinSource, "file:")
	path = strings.TrimPrefix(path, "//") // file:///run/secrets/pin
	b, err := os.ReadFile(path)
	if err != nil {
		return "", &Error{Op: "read the PIN", Token: u.Token, Object: u.Object, Err: fmt.Errorf("pin-source %s: %w", path, errors.Unwrap(err))}
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
