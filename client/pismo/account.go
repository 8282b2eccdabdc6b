package pismo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

// AccountKind says which token a request needs.
type AccountKind uint8

// The token kinds: the tenant token, a Pismo account's token (uid), or an external
// account's token (external_account_id).
const (
	TenantToken AccountKind = iota
	AccountToken
	ExternalAccountToken
)

// Account is the subject of the token a request needs.
type Account struct {
	Kind AccountKind
	ID   string // empty for TenantToken
}

// ErrAccountID is wrapped when an account ID cannot be used.
var ErrAccountID = errors.New("finauth: pismo: invalid account ID")

type accountCtxKey struct{}

// ErrAccountConflict is returned for a request whose context has both an account token
// (WithAccount) and an external-account token (WithExternalAccount): a request carries one
// token, and which one was meant cannot be guessed.
var ErrAccountConflict = errors.New("finauth: pismo: the context asks for both an account token (WithAccount) and an external-account token (WithExternalAccount); a request carries one: set one of them")

// accountValue is what the context holds: the account, and whether a token of the other
// kind was asked for too.
type accountValue struct {
	a        Account
	conflict bool
}

func withAccount(ctx context.Context, a Account) context.Context {
	prev, _ := ctx.Value(accountCtxKey{}).(accountValue)
	conflict := prev.conflict || prev.a.Kind != TenantToken && prev.a.Kind != a.Kind
	return context.WithValue(ctx, accountCtxKey{}, accountValue{a: a, conflict: conflict})
}

// WithAccount returns a context whose requests use the token of Pismo account id
// (the JWT's uid is id). A WithAccount on a context that has one already replaces it; on a
// context with WithExternalAccount, its requests fail with ErrAccountConflict.
func WithAccount(ctx context.Context, id string) context.Context {
	return withAccount(ctx, Account{Kind: AccountToken, ID: id})
}

// WithExternalAccount returns a context whose requests use the token of the account with
// external ID id (the JWT carries external_account_id instead of uid). On a context with
// WithAccount, its requests fail with ErrAccountConflict.
func WithExternalAccount(ctx context.Context, id string) context.Context {
	return withAccount(ctx, Account{Kind: ExternalAccountToken, ID: id})
}

// AccountSelector picks the account whose token a request needs. Replace the default to
// take it from a header, a path or anything else.
type AccountSelector func(req *http.Request) (Account, error)

// AccountFromContext is the default AccountSelector: the account set with WithAccount or
// WithExternalAccount on the request's context, else the tenant token.
func AccountFromContext(req *http.Request) (Account, error) {
	v, _ := req.Context().Value(accountCtxKey{}).(accountValue)
	if v.conflict {
		return Account{}, ErrAccountConflict
	}
	return v.a, nil
}

// cacheKey is the token cache key of an account: one key per (kind, id).
func (a Account) cacheKey() (string, error) {
	switch a.Kind {
	case TenantToken:
		return "", nil
	case AccountToken, ExternalAccountToken:
		if err := checkAccountID(a.ID); err != nil {
			return "", err
		}
		if a.Kind == AccountToken {
			return "account:" + a.ID, nil
		}
		return "external:" + a.ID, nil
	}
	return "", fmt.Errorf("%w: unknown account kind %d", ErrAccountID, a.Kind)
}

func accountFromKey(key string) Account {
	if id, ok := strings.CutPrefix(key, "account:"); ok {
		return Account{Kind: AccountToken, ID: id}
	}
	if id, ok := strings.CutPrefix(key, "external:"); ok {
		return Account{Kind: ExternalAccountToken, ID: id}
	}
	return Account{}
}

func checkAccountID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrAccountID)
	}
	if len(id) > 256 {
		return fmt.Errorf("%w: longer than 256 bytes", ErrAccountID)
	}
	if strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: contains control characters", ErrAccountID)
	}
	return nil
}
