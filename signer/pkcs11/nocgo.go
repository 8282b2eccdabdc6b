//go:build !cgo

package pkcs11

import (
	"context"
	"errors"

	"github.com/finauth/finauth/signer"
)

func init() { signer.RegisterKeyScheme("pkcs11", Open) }

// ErrNeedsCgo is returned by Open in a program built without cgo.
var ErrNeedsCgo = errors.New("this program was built without cgo (CGO_ENABLED=0), and PKCS#11 modules are C libraries: build it with CGO_ENABLED=1 to use pkcs11: keys")

// Open reports that PKCS#11 needs a cgo build (after checking the URI, so that its
// mistakes are still named).
func Open(_ context.Context, raw string, _ ...signer.LoadOption) (*signer.Key, error) {
	u, err := ParseURI(raw)
	if err != nil {
		return nil, err
	}
	return nil, &Error{Op: "open the token", Token: u.Token, Object: u.Object, Err: ErrNeedsCgo}
}
