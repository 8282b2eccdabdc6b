package signer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/finauth/finauth/internal/redact"
)

// Keys that never leave an HSM or a KMS are addressed by a URI where a key file is
// expected: LoadKeyFile (and so every provider's *_PRIVATE_KEY_FILE and every CLI command
// that takes a key) opens "pkcs11:..." (RFC 7512) with the opener package signer/pkcs11
// registers, and "awskms:..." with signer/awskms's. Importing the package registers it; the
// finauth CLI imports both.

// KeyOpener opens the key a URI of its scheme addresses. Its errors must not hold the
// URI's secrets (a PKCS#11 pin-value): name the key with RedactKeyURI.
type KeyOpener func(ctx context.Context, uri string, opts ...LoadOption) (*Key, error)

var (
	schemesMu sync.RWMutex
	schemes   = map[string]KeyOpener{}
)

// The schemes finauth knows, and the package that opens each.
var knownSchemes = map[string]string{
	"pkcs11": "github.com/finauth/finauth/signer/pkcs11 (built with cgo: CGO_ENABLED=1)",
	"awskms": "github.com/finauth/finauth/signer/awskms",
}

// RegisterKeyScheme makes LoadKeyFile open URIs of scheme ("pkcs11", "awskms") with open.
// The packages signer/pkcs11 and signer/awskms call it when imported.
func RegisterKeyScheme(scheme string, open KeyOpener) {
	schemesMu.Lock()
	defer schemesMu.Unlock()
	schemes[scheme] = open
}

// ErrKeyScheme is wrapped when a key URI's scheme has no opener in this program.
var ErrKeyScheme = errors.New("finauth: signer: no opener for this key URI")

// KeyURIScheme returns the scheme of a key URI ("pkcs11", "awskms"), or "" when path is a
// file path.
func KeyURIScheme(path string) string {
	scheme, _, ok := strings.Cut(path, ":")
	if !ok {
		return ""
	}
	if _, known := knownSchemes[scheme]; known {
		return scheme
	}
	return ""
}

// DefaultOpenTimeout bounds opening a key by URI (a PKCS#11 login, a KMS GetPublicKey).
const DefaultOpenTimeout = 30 * time.Second

// openKeyURI opens a key URI with its scheme's opener.
func openKeyURI(scheme, uri string, opts ...LoadOption) (*Key, error) {
	schemesMu.RLock()
	open := schemes[scheme]
	schemesMu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("%w: %s: %s keys need %s", ErrKeyScheme, RedactKeyURI(uri), scheme, knownSchemes[scheme])
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultOpenTimeout)
	defer cancel()
	return open(ctx, uri, opts...)
}

// RedactKeyURI returns uri with the values of its secret attributes (a PKCS#11 pin-value)
// replaced by "***".
func RedactKeyURI(uri string) string { return redact.KeyURI(uri) }
