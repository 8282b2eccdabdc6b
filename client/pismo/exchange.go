package pismo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/internal/tokenendpoint"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// exchange gets the access token of a cache key the configured way: a JWT exchanged
// (OpenID), client credentials (OAuth2) or the legacy login (Basic).
type exchange struct {
	cfg      Config
	signer   *signer.Signer // OpenID
	endpoint *tokenendpoint.Endpoint
	now      func() time.Time
}

// newExchange validates cfg, loads its key (OpenID) and prepares the token-endpoint calls:
// the setup NewTransport and Token share.
func newExchange(cfg Config, o *options) (*exchange, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	x := &exchange{cfg: cfg, now: o.Now, endpoint: tokenendpoint.New(provider, cfg.TokenURL, cfg.Exchange, &o.Settings)}
	if cfg.method() == OpenID {
		s, err := cfg.jwtSigner()
		if err != nil {
			return nil, err
		}
		x.signer = s.WithOnSign(o.OnSign())
	}
	return x, nil
}

// fetch is the token cache's FetchFunc: one token request for the account (and, for OAuth2,
// the scope set) of key.
func (x *exchange) fetch(ctx context.Context, key string) (tokencache.Token, error) {
	account, scopes := splitKey(key)
	req, err := x.request(accountFromKey(account), scopes)
	if err != nil {
		return tokencache.Token{}, err
	}
	tok, err := x.endpoint.Token(ctx, req)
	if err != nil && x.cfg.method() == Basic {
		return tok, x.basicRefused(err)
	}
	return tok, err
}

// request is the token request of the account (and, for OAuth2, the scope set), in the
// configured method: what is sent, and what names this client's tokens in a shared store
// (tokenendpoint.Endpoint.Identity).
func (x *exchange) request(a Account, scopes string) (tokenendpoint.Request, error) {
	switch x.cfg.method() {
	case OAuth2:
		return x.oauth2(a, scopes)
	case Basic:
		return x.basic(a), nil
	}
	// OpenID: a JWT exchanged, {"token": <jwt>}, minted for each attempt.
	return tokenendpoint.Request{JSON: map[string]any{}, JWT: &tokenendpoint.JWT{Field: "token", Signer: x.signer,
		Claims: func(now time.Time, _ string) any { return x.cfg.claimsFor(a, now) }}}, nil
}

// oauth2 is one client-credentials token request: client_id, client_secret_string, scope,
// and uid for an account token; form-encoded, or JSON with OAuth2JSON.
func (x *exchange) oauth2(a Account, scopes string) (tokenendpoint.Request, error) {
	if a.Kind == ExternalAccountToken {
		return tokenendpoint.Request{}, fmt.Errorf("%w: external-ID tokens need PISMO_AUTH_METHOD openid or basic: OAuth 2.0 takes an account ID (uid) only", ErrAccountID)
	}
	params := map[string]string{"grant_type": "client_credentials", "client_id": x.cfg.ClientID,
		"client_secret_string": string(x.cfg.ClientSecret), "scope": scopes}
	if a.Kind == AccountToken {
		params["uid"] = a.ID
	}
	if x.cfg.OAuth2JSON {
		obj := map[string]any{}
		for k, v := range params {
			obj[k] = v
		}
		return tokenendpoint.Request{JSON: obj}, nil
	}
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	return tokenendpoint.Request{Form: form}, nil
}

// basic is one legacy login: {"server_key", "secret_key"} (the secret's member as
// BasicSecretField names it) with "account_id" (a number when it is one, as Pismo's example
// shows it) or "external_account_id". Its answer has no expires_in: the token is a JWT whose
// exp says when it expires.
func (x *exchange) basic(a Account) tokenendpoint.Request {
	body := map[string]any{"server_key": x.cfg.ServerKey, x.cfg.secretField(): string(x.cfg.SecretKey)}
	switch a.Kind {
	case AccountToken:
		if n, err := strconv.ParseInt(a.ID, 10, 64); err == nil {
			body["account_id"] = n
		} else {
			body["account_id"] = a.ID
		}
	case ExternalAccountToken:
		body["external_account_id"] = a.ID
	}
	return tokenendpoint.Request{JSON: body}
}

// basicRefused says, on a refused legacy login, which member carried the secret, and that
// PISMO_BASIC_SECRET_FIELD sends the other one: Pismo's pages show the member as secret_key
// and its value as the "server secret key".
func (x *exchange) basicRefused(err error) error {
	var te *client.TokenEndpointError
	if !errors.As(err, &te) || te.Status < 400 || te.Status >= 500 {
		return err
	}
	other := "server_secret"
	if x.cfg.secretField() == other {
		other = "secret_key"
	}
	return fmt.Errorf("%w (the login sent the secret as %q; if your Pismo environment expects %q, set PISMO_BASIC_SECRET_FIELD=%s)", err, x.cfg.secretField(), other, other)
}

// scopeSet is the cache-key form of a scope set: sorted, without duplicates,
// space-separated (the scope parameter as sent).
func scopeSet(scopes []string) string {
	s := slices.Clone(scopes)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), " ")
}

// cacheKey is the token cache key of account and (OAuth2) scope set: one token per both.
func cacheKey(account, scopes string) string {
	if scopes == "" {
		return account
	}
	return account + "\x00" + scopes
}

// splitKey undoes cacheKey.
func splitKey(key string) (account, scopes string) {
	account, scopes, _ = strings.Cut(key, "\x00")
	return account, scopes
}
