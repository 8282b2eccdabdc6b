package pismo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// exchange mints a JWT for a cache key and exchanges it for an access token.
type exchange struct {
	cfg      Config
	signer   *signer.Signer
	endpoint *client.TokenEndpoint
	now      func() time.Time
}

// newExchange validates cfg, loads its key and prepares the token-endpoint calls: the setup
// NewTransport and Token share.
func newExchange(cfg Config, o *options) (*exchange, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := cfg.jwtSigner()
	if err != nil {
		return nil, err
	}
	return &exchange{cfg: cfg, signer: s, now: o.Clock(),
		endpoint: client.NewTokenEndpoint(provider, cfg.TokenURL, cfg.Exchange, &o.Settings)}, nil
}

// fetch is the token cache's FetchFunc: one exchange for the account of key.
func (x *exchange) fetch(ctx context.Context, key string) (tokencache.Token, error) {
	now := x.now()
	jwt, err := mint(x.signer, x.cfg, accountFromKey(key), now)
	if err != nil {
		return tokencache.Token{}, fmt.Errorf("%w: Pismo: signing the JWT: %w", client.ErrTokenExchange, err)
	}
	body, _ := json.Marshal(map[string]string{"token": jwt})
	status, data, err := x.endpoint.Post(ctx, "application/json", body)
	if err != nil {
		return tokencache.Token{}, err
	}
	if status != http.StatusOK && status != http.StatusCreated {
		return tokencache.Token{}, fmt.Errorf("%w: Pismo: unexpected status %d for a token answer", client.ErrTokenResponse, status)
	}
	return client.ParseTokenResponse(provider, data, now) // lifetime counted from before the request: conservative
}
