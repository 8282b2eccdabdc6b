package pismo

import (
	"time"

	"github.com/finauth/finauth/signer"
)

// claims are the JWT claims of PROTOCOLS.md (Pismo).
type claims struct {
	Iss               string         `json:"iss"`
	Sub               string         `json:"sub"`
	Aud               string         `json:"aud"`
	Iat               int64          `json:"iat"`
	Exp               int64          `json:"exp"`
	TenantID          string         `json:"tenant_id"`
	UID               string         `json:"uid,omitempty"`
	ExternalAccountID string         `json:"external_account_id,omitempty"`
	Pismo             group          `json:"pismo"`
	CustomClaims      map[string]any `json:"customClaims,omitempty"`
}

type group struct {
	Group string `json:"group"`
}

// claimsFor builds the claims of account's token at now.
func (c Config) claimsFor(account Account, now time.Time) claims {
	ttl := c.JWTTTL
	if ttl == 0 {
		ttl = MaxJWTTTL
	}
	cl := claims{
		Iss: c.Issuer, Sub: c.Subject, Aud: c.Audience,
		Iat: now.Unix(), Exp: now.Add(ttl).Unix(),
		TenantID: c.TenantID, Pismo: group{Group: c.Group}, CustomClaims: c.CustomClaims,
	}
	switch account.Kind {
	case AccountToken:
		cl.UID = account.ID
	case ExternalAccountToken:
		cl.ExternalAccountID = account.ID
	default:
		cl.UID = c.UID
		if cl.UID == "" {
			cl.UID = c.TenantID
		}
	}
	return cl
}

// MintJWT signs the JWT the exchange would send for account (the zero Account for the
// tenant token) at now, for inspection and for the CLI. It needs the key and the claims, not
// the URLs.
func MintJWT(cfg Config, account Account, now time.Time) (string, error) {
	s, err := cfg.jwtSigner()
	if err != nil {
		return "", err
	}
	return mint(s, cfg, account, now)
}

func mint(s *signer.Signer, cfg Config, account Account, now time.Time) (string, error) {
	return s.SignJWT(cfg.claimsFor(account, now))
}
