package main

import (
	"encoding/json"
	"errors"
	"flag"
	"net/url"
	"slices"
	"strings"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/soldo"
)

// providerFlags are the flags that override PISMO_* / SOLDO_* variables.
type providerFlags struct {
	key, kid, passEnv, apiURL                   string
	tokenURL, iss, sub, aud, tenant, group, ttl string
	claims                                      multi
	mid, alg                                    string
	attached                                    bool
	clientID, scope                             string
	allowInsecure                               bool
	mintOnly                                    bool // the command mints a JWT: no URLs needed
}

// common registers the key, kid, passphrase, API URL and insecure-http flags; their help
// names the variables of the profiles given (PISMO, SOLDO, MIA) only.
func (p *providerFlags) common(fs *flag.FlagSet, profiles ...string) {
	vars := func(suffix string) string {
		names := make([]string, len(profiles))
		for i, pr := range profiles {
			names[i] = pr + suffix
		}
		return strings.Join(names, " / ")
	}
	fs.StringVar(&p.key, "key", "", "private key file ("+vars("_PRIVATE_KEY_FILE")+")")
	fs.StringVar(&p.kid, "kid", "", "key ID ("+vars("_KEY_ID")+")")
	fs.StringVar(&p.passEnv, "passphrase-env", "", "name of the environment variable holding the key's passphrase (default "+vars("_PRIVATE_KEY_PASSWORD")+")")
	fs.StringVar(&p.apiURL, "api-url", "", "allowed API origin(s), comma-separated ("+vars("_API_URL")+")")
	fs.BoolVar(&p.allowInsecure, "allow-insecure-http", false, "permit plain http to hosts that are not loopback ("+vars("_ALLOW_INSECURE_HTTP")+"=true)")
}

func (p *providerFlags) pismo(fs *flag.FlagSet) {
	fs.StringVar(&p.tokenURL, "token-url", "", "token endpoint (PISMO_TOKEN_URL)")
	fs.StringVar(&p.iss, "iss", "", "JWT issuer (PISMO_ISSUER)")
	fs.StringVar(&p.sub, "sub", "", "JWT subject (PISMO_SUBJECT)")
	fs.StringVar(&p.aud, "aud", "", "JWT audience (PISMO_AUDIENCE)")
	fs.StringVar(&p.tenant, "tenant", "", "tenant / org ID (PISMO_TENANT_ID)")
	fs.StringVar(&p.group, "group", "", "pismo.group (PISMO_GROUP)")
	fs.StringVar(&p.ttl, "ttl", "", "JWT lifetime, at most 1h (PISMO_JWT_TTL)")
	fs.Var(&p.claims, "claim", "custom claim k=v, repeatable; v is JSON when it parses, else a string (PISMO_CUSTOM_CLAIMS)")
}

func (p *providerFlags) mia(fs *flag.FlagSet) {
	fs.StringVar(&p.clientID, "client-id", "", "mia: the registered client ID (MIA_CLIENT_ID)")
	fs.StringVar(&p.scope, "scope", "", "mia: scopes, space- or comma-separated (MIA_SCOPE)")
}

func (p *providerFlags) soldo(fs *flag.FlagSet) {
	fs.StringVar(&p.mid, "mid", "", "member ID (SOLDO_MEMBER_ID)")
	fs.StringVar(&p.alg, "alg", "", "RS256, PS256, ES256 or EdDSA; default from the key (SOLDO_ALG)")
	fs.BoolVar(&p.attached, "attached", false, "attached JWS instead of detached (SOLDO_DETACHED=false)")
}

// env lays the flags that were given over the environment, under prefix's variable names.
func (p *providerFlags) env(a *app, prefix string) (*overlay, error) {
	o := &overlay{base: a.lookup, set: map[string]string{}}
	put := func(name, v string) {
		if v != "" {
			o.set[prefix+name] = v
		}
	}
	put("_PRIVATE_KEY_FILE", p.key)
	if p.key != "" {
		o.set[prefix+"_PRIVATE_KEY"] = "" // a --key file wins over PEM text in the environment
	}
	put("_KEY_ID", p.kid)
	put("_API_URL", p.apiURL)
	if p.allowInsecure {
		o.set[prefix+"_ALLOW_INSECURE_HTTP"] = "true"
	}
	if p.passEnv != "" {
		v, ok := a.lookup(p.passEnv)
		if !ok {
			return nil, usagef("--passphrase-env %s: that variable is not set", p.passEnv)
		}
		o.set[prefix+"_PRIVATE_KEY_PASSWORD"] = v
	}
	return o, nil
}

func (p *providerFlags) pismoConfig(a *app) (pismo.Config, error) {
	o, err := p.env(a, "PISMO")
	if err != nil {
		return pismo.Config{}, err
	}
	for name, v := range map[string]string{"_TOKEN_URL": p.tokenURL, "_ISSUER": p.iss, "_SUBJECT": p.sub, "_AUDIENCE": p.aud, "_TENANT_ID": p.tenant, "_GROUP": p.group, "_JWT_TTL": p.ttl} {
		if v != "" {
			o.set["PISMO"+name] = v
		}
	}
	if len(p.claims) > 0 {
		claims := map[string]any{}
		if raw, ok := a.lookup("PISMO_CUSTOM_CLAIMS"); ok && raw != "" {
			if err := json.Unmarshal([]byte(raw), &claims); err != nil {
				return pismo.Config{}, usagef("PISMO_CUSTOM_CLAIMS is not a JSON object")
			}
		}
		for _, kv := range p.claims {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return pismo.Config{}, usagef("--claim %q: use name=value", kv)
			}
			var parsed any
			if json.Unmarshal([]byte(v), &parsed) != nil {
				parsed = v
			}
			claims[k] = parsed
		}
		b, _ := json.Marshal(claims)
		o.set["PISMO_CUSTOM_CLAIMS"] = string(b)
	}
	cfg, err := pismo.ConfigFromLookup(o.lookup)
	if p.mintOnly {
		err = dropProblems(err, "PISMO_TOKEN_URL", "PISMO_API_URL")
	}
	return cfg, err
}

// miaConfig builds the Mia-Platform configuration: --token-url, --aud (the service's
// issuer), --ttl (the assertion's lifetime) and --alg are shared with the other profiles.
func (p *providerFlags) miaConfig(a *app) (clientcredentials.Config, error) {
	o, err := p.env(a, "MIA")
	if err != nil {
		return clientcredentials.Config{}, err
	}
	for name, v := range map[string]string{"_TOKEN_URL": p.tokenURL, "_AUDIENCE": p.aud, "_ASSERTION_TTL": p.ttl, "_ALG": p.alg, "_CLIENT_ID": p.clientID, "_SCOPE": p.scope} {
		if v != "" {
			o.set["MIA"+name] = v
		}
	}
	cfg, err := clientcredentials.MiaConfigFromLookup(o.lookup)
	if p.mintOnly {
		err = dropProblems(err, "MIA_TOKEN_URL", "MIA_API_URL")
	}
	return cfg, err
}

// dropProblems removes the named variables' problems from a *client.ConfigError (a command
// that does not use them should not ask for them).
func dropProblems(err error, names ...string) error {
	var ce *client.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	kept := *ce
	kept.Problems = nil
	for _, p := range ce.Problems {
		if !slices.Contains(names, p.Env) {
			kept.Problems = append(kept.Problems, p)
		}
	}
	if len(kept.Problems) == 0 {
		return nil
	}
	return &kept
}

// soldoConfig builds the Soldo configuration; target, when given, is allowed as an origin if
// no API URL is configured (the user named that URL on the command line).
func (p *providerFlags) soldoConfig(a *app, target string) (soldo.Config, error) {
	o, err := p.env(a, "SOLDO")
	if err != nil {
		return soldo.Config{}, err
	}
	if p.mid != "" {
		o.set["SOLDO_MEMBER_ID"] = p.mid
	}
	if p.alg != "" {
		o.set["SOLDO_ALG"] = p.alg
	}
	if p.ttl != "" {
		o.set["SOLDO_JWS_TTL"] = p.ttl
	}
	if p.attached {
		o.set["SOLDO_DETACHED"] = "false"
	}
	if v, _ := o.lookup("SOLDO_API_URL"); v == "" && target != "" {
		o.set["SOLDO_API_URL"] = originOf(target)
	}
	return soldo.ConfigFromLookup(o.lookup)
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// account reads --uid / --external-account (or --account) into a pismo.Account.
func account(uid, external string) (pismo.Account, error) {
	switch {
	case uid != "" && external != "":
		return pismo.Account{}, usagef("give --uid/--account or --external-account, not both")
	case uid != "":
		return pismo.Account{Kind: pismo.AccountToken, ID: uid}, nil
	case external != "":
		return pismo.Account{Kind: pismo.ExternalAccountToken, ID: external}, nil
	}
	return pismo.Account{}, nil
}
