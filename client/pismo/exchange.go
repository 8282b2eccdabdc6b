package pismo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/internal/tokenendpoint"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// exchange mints a JWT for a cache key and exchanges it for an access token.
type exchange struct {
	cfg      Config
	signer   *signer.Signer
	endpoint *tokenendpoint.Endpoint
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
	return &exchange{cfg: cfg, signer: s, now: o.Now,
		endpoint: tokenendpoint.New(provider, cfg.TokenURL, cfg.Exchange, &o.Settings)}, nil
}

// fetch is the token cache's FetchFunc: one exchange for the account of key.
func (x *exchange) fetch(ctx context.Context, key string) (tokencache.Token, error) {
	jwt, err := mint(x.signer, x.cfg, accountFromKey(key), x.now())
	if err != nil {
		return tokencache.Token{}, fmt.Errorf("%w: Pismo: signing the JWT: %w", client.ErrTokenExchange, err)
	}
	body, _ := json.Marshal(map[string]string{"token": jwt})
	return x.endpoint.Token(ctx, "application/json", body)
}
