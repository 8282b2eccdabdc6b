package pismo

import (
	"context"
	"encoding/json"
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
	switch x.cfg.method() {
	case OAuth2:
		return x.oauth2(ctx, accountFromKey(account), scopes)
	case Basic:
		return x.basic(ctx, accountFromKey(account))
	}
	jwt, err := mint(x.signer, x.cfg, accountFromKey(account), x.now())
	if err != nil {
		return tokencache.Token{}, fmt.Errorf("%w: Pismo: signing the JWT: %w", client.ErrTokenExchange, err)
	}
	body, _ := json.Marshal(map[string]string{"token": jwt})
	return x.endpoint.Token(ctx, "application/json", body)
}

// oauth2 is one client-credentials token request: client_id, client_secret_string, scope,
// and uid for an account token; form-encoded, or JSON with OAuth2JSON.
func (x *exchange) oauth2(ctx context.Context, a Account, scopes string) (tokencache.Token, error) {
	if a.Kind == ExternalAccountToken {
		return tokencache.Token{}, fmt.Errorf("%w: external-ID tokens need PISMO_AUTH_METHOD openid or basic: OAuth 2.0 takes an account ID (uid) only", ErrAccountID)
	}
	params := map[string]string{"grant_type": "client_credentials", "client_id": x.cfg.ClientID,
		"client_secret_string": string(x.cfg.ClientSecret), "scope": scopes}
	if a.Kind == AccountToken {
		params["uid"] = a.ID
	}
	if x.cfg.OAuth2JSON {
		body, _ := json.Marshal(params)
		return x.endpoint.Token(ctx, "application/json", body)
	}
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	return x.endpoint.Token(ctx, "application/x-www-form-urlencoded", []byte(form.Encode()))
}

// basic is one legacy login: {"server_key", "secret_key"} with "account_id" (a number when
// it is one, as Pismo's example shows it) or "external_account_id". Its answer has no
// expires_in: the token is a JWT whose exp says when it expires.
func (x *exchange) basic(ctx context.Context, a Account) (tokencache.Token, error) {
	body := map[string]any{"server_key": x.cfg.ServerKey, "secret_key": string(x.cfg.SecretKey)}
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
	b, _ := json.Marshal(body)
	return x.endpoint.Token(ctx, "application/json", b)
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
