// Command mockserver serves the strict Pismo, Soldo and Mia-Platform mocks of finauth/integration as one
// process, for docker-compose and for integration tests in any language.
//
//	mockserver [flags]                 serve (flags below, or MOCK_* environment variables):
//	                                   Pismo on :8081, Soldo on :8082, Mia-Platform when --mia-addr is set,
//	                                   a sink (200 to anything, checks nothing) when --sink-addr is set,
//	                                   Revolut (mutual TLS) when --revolut-addr is set
//	mockserver healthcheck [--cacert F] URL  exit 0 when URL answers 200 (for container health checks)
//
// Every refused token request, API call or signature is logged on stderr with its reason.
package main

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/finauth/finauth/integration/internal/mockhttp"
	"github.com/finauth/finauth/integration/miamock"
	"github.com/finauth/finauth/integration/oauthmock"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/integration/soldobizmock"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/signer"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv, nil))
}

// config is the flags, defaulted from MOCK_* variables.
type config struct {
	pismoAddr, pismoKeys, pismoIssuer, pismoSubject, pismoAudience, pismoTenant, pismoGroup, pismoShape string
	pismoClients, pismoServerKeys, pismoScopes, pismoAccounts                                           string
	pismoLifetime, pismoRetryAfter, latency                                                             time.Duration
	pismoFailRate                                                                                       float64
	pismoFailStatus, pismoRevokeEvery                                                                   int
	soldoAddr, soldoKeys, soldoMember, soldoKID                                                         string
	soldoReplay                                                                                         bool
	miaAddr, miaKeys, miaKID, miaClient, miaIssuer                                                      string
	bizAddr, bizKey, bizClient, bizSecret, bizInternal                                                  string
	bizLifetime                                                                                         time.Duration
	bizRevokeEvery                                                                                      int
	miaLifetime                                                                                         time.Duration
	miaRevokeEvery                                                                                      int
	oauthAddr, oauthClients, oauthSignatureKeys, oauthSignatureKID                                      string
	oauthDPoP, oauthNonces                                                                              bool
	oauthRevokeEvery                                                                                    int
	oauthLifetime                                                                                       time.Duration
	sinkAddr                                                                                            string
	revolutAddr, revolutKeys, revolutKID, revolutClient, revolutTAN, revolutRedirect, revolutPKIDir     string
	revolutLifetime, revolutRefreshLifetime, revolutRefreshDelay, revolutJWKSCache                      time.Duration
	revolutRotate                                                                                       bool
}

func run(args []string, stdout, stderr io.Writer, lookup func(string) (string, bool), ready func()) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(args[1:], stderr)
	}
	c, bad, code, ok := parseConfig(args, stderr, lookup)
	if !ok {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	mocks, problems := c.mocks(log)
	if problems = append(bad, problems...); len(problems) > 0 {
		// Every problem at once, before anything listens.
		fmt.Fprintln(stderr, "mockserver: the configuration has problems:\n  - "+strings.Join(problems, "\n  - "))
		return 2
	}
	if len(mocks) == 0 {
		fmt.Fprintln(stderr, "mockserver: every mock is disabled (--pismo-addr, --soldo-addr, --soldo-business-addr, --mia-addr, --oauth-addr, --revolut-addr and --sink-addr are empty)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var servers []*http.Server
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			s.Shutdown(shutdown)
		}
	}()
	for _, m := range mocks {
		srv, addr, err := mockhttp.ListenTLS(m.addr, m.handler, m.tls)
		if err != nil {
			fmt.Fprintf(stderr, "mockserver: %s mock: %v\n", m.name, err)
			return 1
		}
		servers = append(servers, srv)
		scheme := "http"
		if m.tls != nil {
			scheme = "https"
		}
		fmt.Fprintf(stdout, "%s mock listening on %s://%s\n", m.name, scheme, addr)
		log.Info("listening", "mock", m.name, "addr", addr.String())
	}
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	return 0
}

// parseConfig reads the flags, defaulted from MOCK_* variables, and returns the problems of
// their values; ok false means exit with code (0 after --help, 2 for an unknown flag).
func parseConfig(args []string, stderr io.Writer, lookup func(string) (string, bool)) (c config, bad []string, code int, ok bool) {
	v := &vars{lookup: lookup}
	fs := flag.NewFlagSet("mockserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.pismoFlags(fs, v)
	c.soldoFlags(fs, v)
	c.miaFlags(fs, v)
	c.oauthFlags(fs, v)
	c.bizFlags(fs, v)
	c.revolutFlags(fs, v)
	fs.StringVar(&c.sinkAddr, "sink-addr", v.env("MOCK_SINK_ADDR", ""), "listen address of a sink that answers 200 to every request and checks nothing (the fast server of load baselines, e.g. finauth load --profile none); empty (the default) disables it (MOCK_SINK_ADDR)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, nil, 0, false
		}
		return c, nil, 2, false
	}
	return c, append(v.bad, c.check()...), 0, true
}

// vars reads the MOCK_* variables that are the flags' defaults, collecting malformed ones.
type vars struct {
	lookup func(string) (string, bool)
	bad    []string
}

func (v *vars) env(name, def string) string {
	if s, ok := v.lookup(name); ok && s != "" {
		return s
	}
	return def
}

func (v *vars) dur(name, def string) time.Duration {
	s := v.env(name, def)
	d, err := time.ParseDuration(s)
	if err != nil {
		v.bad = append(v.bad, fmt.Sprintf("%s=%q is not a duration (e.g. 30s, 1h)", name, s))
	}
	return d
}

func (v *vars) num(name, def string) float64 {
	s := v.env(name, def)
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		v.bad = append(v.bad, fmt.Sprintf("%s=%q is not a number", name, s))
	}
	return f
}

// pismoFlags registers the Pismo mock's flags (and --latency, which only it honours).
func (c *config) pismoFlags(fs *flag.FlagSet, v *vars) {
	fs.StringVar(&c.pismoAddr, "pismo-addr", v.env("MOCK_PISMO_ADDR", ":8081"), "Pismo mock listen address; empty disables it (MOCK_PISMO_ADDR)")
	fs.StringVar(&c.pismoKeys, "pismo-keys", v.env("MOCK_PISMO_KEYS", ""), "registered public key(s): PEM, certificate, JWK or JWKS file (MOCK_PISMO_KEYS)")
	fs.StringVar(&c.pismoIssuer, "pismo-issuer", v.env("MOCK_PISMO_ISSUER", "finauth-test@tenant"), "expected iss (MOCK_PISMO_ISSUER)")
	fs.StringVar(&c.pismoSubject, "pismo-subject", v.env("MOCK_PISMO_SUBJECT", "finauth-test@tenant"), "expected sub (MOCK_PISMO_SUBJECT)")
	fs.StringVar(&c.pismoAudience, "pismo-audience", v.env("MOCK_PISMO_AUDIENCE", "https://sandbox.pismolabs.io"), "expected aud (MOCK_PISMO_AUDIENCE)")
	fs.StringVar(&c.pismoTenant, "pismo-tenant", v.env("MOCK_PISMO_TENANT", "test-tenant"), "expected tenant_id (MOCK_PISMO_TENANT)")
	fs.StringVar(&c.pismoGroup, "pismo-group", v.env("MOCK_PISMO_GROUP", "pismo-v2:test:rw"), "expected pismo.group (MOCK_PISMO_GROUP)")
	fs.StringVar(&c.pismoShape, "pismo-shape", v.env("MOCK_PISMO_SHAPE", "access-token-201"), `token answer: "access-token-201" (201, access_token, expires_in a string: what public clients accept), "documented" (the same with 200, as Pismo's docs show) or "created" (201, token, expires_in a number) (MOCK_PISMO_SHAPE)`)
	fs.DurationVar(&c.pismoLifetime, "pismo-token-lifetime", v.dur("MOCK_PISMO_TOKEN_LIFETIME", "1h"), "access token lifetime (MOCK_PISMO_TOKEN_LIFETIME)")
	fs.Float64Var(&c.pismoFailRate, "pismo-fail-rate", v.num("MOCK_PISMO_FAIL_RATE", "0"), "fraction of token requests to fail, spread evenly (MOCK_PISMO_FAIL_RATE)")
	fs.IntVar(&c.pismoFailStatus, "pismo-fail-status", int(v.num("MOCK_PISMO_FAIL_STATUS", "503")), "status of failed token requests (MOCK_PISMO_FAIL_STATUS)")
	fs.StringVar(&c.pismoClients, "pismo-clients", v.env("MOCK_PISMO_CLIENTS", "finauth-test-server-key=finauth-test-client-secret"), "OAuth 2.0 clients of "+pismomock.OAuth2Path+", id=secret, comma-separated (MOCK_PISMO_CLIENTS)")
	fs.StringVar(&c.pismoServerKeys, "pismo-server-keys", v.env("MOCK_PISMO_SERVER_KEYS", "finauth-test-server-key=finauth-test-secret-key"), "legacy logins of "+pismomock.BasicPath+", server_key=secret_key, comma-separated (MOCK_PISMO_SERVER_KEYS)")
	fs.StringVar(&c.pismoScopes, "pismo-scopes", v.env("MOCK_PISMO_SCOPES", strings.Join(pismomock.DefaultScopes, " ")), "the permission groups OAuth 2.0 tokens may have, space-separated (MOCK_PISMO_SCOPES)")
	fs.StringVar(&c.pismoAccounts, "pismo-accounts", v.env("MOCK_PISMO_ACCOUNTS", ""), "the accounts OAuth 2.0 and legacy tokens may be for (uid, account_id), comma-separated; empty: any (MOCK_PISMO_ACCOUNTS)")
	fs.IntVar(&c.pismoRevokeEvery, "pismo-revoke-every", int(v.num("MOCK_PISMO_REVOKE_EVERY", "0")), "revoke each token after its N-th API use, 0 never (MOCK_PISMO_REVOKE_EVERY)")
	fs.DurationVar(&c.pismoRetryAfter, "pismo-retry-after", v.dur("MOCK_PISMO_RETRY_AFTER", "0s"), "Retry-After of failed token requests (MOCK_PISMO_RETRY_AFTER)")
	fs.DurationVar(&c.latency, "latency", v.dur("MOCK_LATENCY", "0s"), "added latency of every Pismo answer (MOCK_LATENCY)")
}

// soldoFlags registers the Soldo mock's flags.
func (c *config) soldoFlags(fs *flag.FlagSet, v *vars) {
	fs.StringVar(&c.soldoAddr, "soldo-addr", v.env("MOCK_SOLDO_ADDR", ":8082"), "Soldo mock listen address; empty disables it (MOCK_SOLDO_ADDR)")
	fs.StringVar(&c.soldoKeys, "soldo-keys", v.env("MOCK_SOLDO_KEYS", ""), "registered public key(s) of the member (MOCK_SOLDO_KEYS)")
	fs.StringVar(&c.soldoMember, "soldo-member", v.env("MOCK_SOLDO_MEMBER", "m:test:1"), "member ID, mid (MOCK_SOLDO_MEMBER)")
	fs.StringVar(&c.soldoKID, "soldo-kid", v.env("MOCK_SOLDO_KID", ""), "key ID of a single key without one; default its kid or RFC 7638 thumbprint (MOCK_SOLDO_KID)")
	fs.BoolVar(&c.soldoReplay, "soldo-replay-protection", v.env("MOCK_SOLDO_REPLAY_PROTECTION", "") == "true", "refuse a signature seen before (MOCK_SOLDO_REPLAY_PROTECTION)")
}

// miaFlags registers the Mia-Platform mock's flags.
func (c *config) miaFlags(fs *flag.FlagSet, v *vars) {
	fs.StringVar(&c.miaAddr, "mia-addr", v.env("MOCK_MIA_ADDR", ""), "Mia-Platform client-credentials mock listen address, e.g. :8083; empty (the default) disables it (MOCK_MIA_ADDR)")
	fs.StringVar(&c.miaKeys, "mia-keys", v.env("MOCK_MIA_KEYS", ""), "the client's public key(s) to register: PEM, certificate, JWK or JWKS file (MOCK_MIA_KEYS)")
	fs.StringVar(&c.miaKID, "mia-kid", v.env("MOCK_MIA_KID", ""), "key ID of a single key without one (MOCK_MIA_KID)")
	fs.StringVar(&c.miaClient, "mia-client-id", v.env("MOCK_MIA_CLIENT_ID", "finauth-test-client"), "the registered client ID (MOCK_MIA_CLIENT_ID)")
	fs.StringVar(&c.miaIssuer, "mia-issuer", v.env("MOCK_MIA_ISSUER", "https://mia.example/issuer"), "the aud every client assertion must carry (MOCK_MIA_ISSUER)")
	fs.DurationVar(&c.miaLifetime, "mia-token-lifetime", v.dur("MOCK_MIA_TOKEN_LIFETIME", "1h"), "access token lifetime (MOCK_MIA_TOKEN_LIFETIME)")
	fs.IntVar(&c.miaRevokeEvery, "mia-revoke-every", int(v.num("MOCK_MIA_REVOKE_EVERY", "0")), "revoke the token of every N-th API use, 0 never (MOCK_MIA_REVOKE_EVERY)")
}

// bizFlags registers the Soldo Business API mock's flags.
func (c *config) bizFlags(fs *flag.FlagSet, v *vars) {
	fs.StringVar(&c.bizAddr, "soldo-business-addr", v.env("MOCK_SOLDO_BUSINESS_ADDR", ""), "Soldo Business API v2 mock listen address, e.g. :8086; empty (the default) disables it (MOCK_SOLDO_BUSINESS_ADDR)")
	fs.StringVar(&c.bizKey, "soldo-business-key", v.env("MOCK_SOLDO_BUSINESS_KEY", ""), "the uploaded RSA public key (PEM) that verifies fingerprint signatures (MOCK_SOLDO_BUSINESS_KEY)")
	fs.StringVar(&c.bizClient, "soldo-business-client-id", v.env("MOCK_SOLDO_BUSINESS_CLIENT_ID", "finauth-test-client"), "the API credentials' client ID (MOCK_SOLDO_BUSINESS_CLIENT_ID)")
	c.bizSecret = v.env("MOCK_SOLDO_BUSINESS_CLIENT_SECRET", "")
	c.bizInternal = v.env("MOCK_SOLDO_BUSINESS_INTERNAL_TOKEN", "")
	fs.DurationVar(&c.bizLifetime, "soldo-business-token-lifetime", v.dur("MOCK_SOLDO_BUSINESS_TOKEN_LIFETIME", "2h"), "access token lifetime, answered as a string of seconds (MOCK_SOLDO_BUSINESS_TOKEN_LIFETIME)")
	fs.IntVar(&c.bizRevokeEvery, "soldo-business-revoke-every", int(v.num("MOCK_SOLDO_BUSINESS_REVOKE_EVERY", "0")), "revoke the token of every N-th API use, 0 never (MOCK_SOLDO_BUSINESS_REVOKE_EVERY)")
}

// bizHandler is the Soldo Business API mock; its client secret and internal token come from
// MOCK_SOLDO_BUSINESS_CLIENT_SECRET and MOCK_SOLDO_BUSINESS_INTERNAL_TOKEN only (secrets
// stay out of the process list).
func bizHandler(c config, log *slog.Logger) (http.Handler, error) {
	if c.bizSecret == "" || c.bizInternal == "" {
		return nil, errors.New("soldo-business: MOCK_SOLDO_BUSINESS_CLIENT_SECRET and MOCK_SOLDO_BUSINESS_INTERNAL_TOKEN are required (the API credentials the mock accepts)")
	}
	keys, err := requiredKeys(c.bizKey, "--soldo-business-key (MOCK_SOLDO_BUSINESS_KEY)", "the uploaded RSA public key")
	if err != nil {
		return nil, err
	}
	pub, ok := keys.Keys()[0].Key().(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("--soldo-business-key (MOCK_SOLDO_BUSINESS_KEY): not an RSA public key (Soldo's fingerprint signatures are SHA512withRSA)")
	}
	m, err := soldobizmock.New(soldobizmock.Config{ClientID: c.bizClient, ClientSecret: c.bizSecret, InternalToken: c.bizInternal, PublicKey: pub, TokenLifetime: c.bizLifetime})
	if err != nil {
		return nil, err
	}
	if c.bizRevokeEvery > 0 {
		m.RevokeEvery(c.bizRevokeEvery)
	}
	log.Info("soldo-business client registered", "client_id", c.bizClient)
	stats := func() mockStats {
		st := m.Stats()
		return mockStats{TokensIssued: st.Tokens, SignaturesVerified: st.Verified, Refusals: merged(st.Rejections, st.APIDenials)}
	}
	return withStats("soldo-business", m, stats, soldobizmock.TokenPath), nil
}

// revolutFlags registers the Revolut mock's flags.
func (c *config) revolutFlags(fs *flag.FlagSet, v *vars) {
	fs.StringVar(&c.revolutAddr, "revolut-addr", v.env("MOCK_REVOLUT_ADDR", ""), "Revolut Open Banking mock listen address (TLS, client certificates), e.g. :8085; empty (the default) disables it (MOCK_REVOLUT_ADDR)")
	fs.StringVar(&c.revolutKeys, "revolut-keys", v.env("MOCK_REVOLUT_KEYS", ""), "the public signing key(s) (PS256: PEM, certificate, JWK or JWKS file) of an application registered from the start as --revolut-client-id; empty: applications register by DCR only (MOCK_REVOLUT_KEYS)")
	fs.DurationVar(&c.revolutJWKSCache, "revolut-jwks-cache-time", v.dur("MOCK_REVOLUT_JWKS_CACHE_TIME", "5m"), "how long the JWKS of an application registered by DCR is kept before it is fetched again: a key rotation must wait it out (MOCK_REVOLUT_JWKS_CACHE_TIME)")
	fs.StringVar(&c.revolutKID, "revolut-kid", v.env("MOCK_REVOLUT_KID", ""), "key ID of a single key without one (MOCK_REVOLUT_KID)")
	fs.StringVar(&c.revolutClient, "revolut-client-id", v.env("MOCK_REVOLUT_CLIENT_ID", "finauth-test-client"), "the registered application (MOCK_REVOLUT_CLIENT_ID)")
	fs.StringVar(&c.revolutTAN, "revolut-tan", v.env("MOCK_REVOLUT_TAN", "app.example"), "the tan every x-jws-signature must carry (MOCK_REVOLUT_TAN)")
	fs.StringVar(&c.revolutRedirect, "revolut-redirect-uri", v.env("MOCK_REVOLUT_REDIRECT_URI", "https://app.example/callback"), "the registered redirect URI(s), comma-separated (MOCK_REVOLUT_REDIRECT_URI)")
	fs.DurationVar(&c.revolutLifetime, "revolut-token-lifetime", v.dur("MOCK_REVOLUT_TOKEN_LIFETIME", "1h"), "access token lifetime (MOCK_REVOLUT_TOKEN_LIFETIME)")
	fs.DurationVar(&c.revolutRefreshLifetime, "revolut-refresh-token-lifetime", v.dur("MOCK_REVOLUT_REFRESH_TOKEN_LIFETIME", "4320h"), "how long a consent's refresh tokens last from its authorisation, refresh_token_expires_at (default 180 days, Revolut's in the EU) (MOCK_REVOLUT_REFRESH_TOKEN_LIFETIME)")
	fs.BoolVar(&c.revolutRotate, "revolut-rotate-refresh-tokens", v.env("MOCK_REVOLUT_ROTATE_REFRESH_TOKENS", "") == "true", "answer each refresh grant with a new refresh token and retire the used one; a retired one presented again revokes the consent (MOCK_REVOLUT_ROTATE_REFRESH_TOKENS)")
	fs.DurationVar(&c.revolutRefreshDelay, "revolut-refresh-delay", v.dur("MOCK_REVOLUT_REFRESH_DELAY", "0s"), "hold each refresh grant this long before deciding it; a client gone meanwhile is not renewed (MOCK_REVOLUT_REFRESH_DELAY)")
	fs.StringVar(&c.revolutPKIDir, "revolut-pki-dir", v.env("MOCK_REVOLUT_PKI_DIR", ""), "directory where the Revolut mock writes the test CA (ca.pem) and a transport certificate and key for clients (transport.pem, transport.key), made anew at each start; required with --revolut-addr (MOCK_REVOLUT_PKI_DIR)")
}

// oauthFlags registers the OAuth 2.0 (DPoP, RFC 9421) mock's flags.
func (c *config) oauthFlags(fs *flag.FlagSet, v *vars) {
	fs.StringVar(&c.oauthAddr, "oauth-addr", v.env("MOCK_OAUTH_ADDR", ""), "strict OAuth 2.0 server and resource server for DPoP (RFC 9449) and message signatures (RFC 9421), e.g. :8088; empty (the default) disables it (MOCK_OAUTH_ADDR)")
	fs.StringVar(&c.oauthClients, "oauth-clients", v.env("MOCK_OAUTH_CLIENTS", "finauth-test-client=finauth-test-secret"), "its clients, id=secret, comma-separated (MOCK_OAUTH_CLIENTS)")
	fs.BoolVar(&c.oauthDPoP, "oauth-dpop", v.env("MOCK_OAUTH_DPOP", "") == "true", "require a DPoP proof on every token request (MOCK_OAUTH_DPOP)")
	fs.BoolVar(&c.oauthNonces, "oauth-nonces", v.env("MOCK_OAUTH_NONCES", "") == "true", "ask for a DPoP nonce (use_dpop_nonce) at the token endpoint and the API (MOCK_OAUTH_NONCES)")
	fs.StringVar(&c.oauthSignatureKeys, "oauth-signature-keys", v.env("MOCK_OAUTH_SIGNATURE_KEYS", ""), "require FAPI 2.0 message signatures (RFC 9421) on every API request, verified with these public keys: PEM, certificate, JWK or JWKS file (MOCK_OAUTH_SIGNATURE_KEYS)")
	fs.StringVar(&c.oauthSignatureKID, "oauth-signature-kid", v.env("MOCK_OAUTH_SIGNATURE_KID", ""), "keyid of a single signature key without one (MOCK_OAUTH_SIGNATURE_KID)")
	fs.DurationVar(&c.oauthLifetime, "oauth-token-lifetime", v.dur("MOCK_OAUTH_TOKEN_LIFETIME", "1h"), "access token lifetime (MOCK_OAUTH_TOKEN_LIFETIME)")
	fs.IntVar(&c.oauthRevokeEvery, "oauth-revoke-every", int(v.num("MOCK_OAUTH_REVOKE_EVERY", "0")), "revoke each token after its N-th API use, 0 never (MOCK_OAUTH_REVOKE_EVERY)")
}

// check reports the flag values that cannot work.
func (c config) check() (bad []string) {
	if c.pismoLifetime <= 0 {
		bad = append(bad, "--pismo-token-lifetime must be positive")
	}
	if c.miaLifetime <= 0 {
		bad = append(bad, "--mia-token-lifetime must be positive")
	}
	if c.pismoFailRate < 0 || c.pismoFailRate > 1 {
		bad = append(bad, "--pismo-fail-rate must be within [0, 1]")
	}
	if c.pismoFailRate > 0 && (c.pismoFailStatus < 400 || c.pismoFailStatus > 599) {
		bad = append(bad, "--pismo-fail-status must be a 4xx or 5xx")
	}
	if c.pismoRevokeEvery < 0 {
		bad = append(bad, "--pismo-revoke-every must be 0 or more")
	}
	if c.oauthLifetime <= 0 || c.oauthRevokeEvery < 0 {
		bad = append(bad, "--oauth-token-lifetime must be positive and --oauth-revoke-every 0 or more")
	}
	if c.miaRevokeEvery < 0 {
		bad = append(bad, "--mia-revoke-every must be 0 or more")
	}
	if c.revolutLifetime <= 0 || c.revolutRefreshLifetime <= 0 {
		bad = append(bad, "--revolut-token-lifetime and --revolut-refresh-token-lifetime must be positive")
	}
	if c.revolutRefreshDelay < 0 {
		bad = append(bad, "--revolut-refresh-delay must be 0 or more")
	}
	return bad
}

// mock is one enabled mock, ready to listen (over TLS when tls is set).
type mock struct {
	name, addr string
	handler    http.Handler
	tls        *tls.Config
}

// mocks builds the enabled mocks, every problem of both reported together.
func (c config) mocks(log *slog.Logger) ([]mock, []string) {
	var out []mock
	var problems []string
	for _, m := range []struct {
		name, addr string
		handler    func(config, *slog.Logger) (http.Handler, error)
	}{{"pismo", c.pismoAddr, pismoHandler}, {"soldo", c.soldoAddr, soldoHandler}, {"mia", c.miaAddr, miaHandler}, {"oauth", c.oauthAddr, oauthHandler}, {"soldo-business", c.bizAddr, bizHandler}, {"sink", c.sinkAddr, sinkHandler}} {
		if m.addr == "" {
			continue
		}
		h, err := m.handler(c, log)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		out = append(out, mock{name: m.name, addr: m.addr, handler: h})
	}
	if c.revolutAddr != "" {
		m, err := c.revolutMock(log)
		if err != nil {
			problems = append(problems, err.Error())
		} else {
			out = append(out, m)
		}
	}
	return out, problems
}

// revolutMock builds the Revolut mock with a test PKI made now, written to the PKI directory
// for clients.
func (c config) revolutMock(log *slog.Logger) (mock, error) {
	if c.revolutPKIDir == "" {
		return mock{}, errors.New("--revolut-pki-dir (MOCK_REVOLUT_PKI_DIR) is required with --revolut-addr: clients need the CA and a transport certificate the mock trusts")
	}
	var list []*signer.PublicKey
	if c.revolutKeys != "" { // else only applications registered by DCR (POST /register)
		var err error
		if list, err = keysWithKID(c.revolutKeys, c.revolutKID, "revolut", "the application's public signing key(s)"); err != nil {
			return mock{}, err
		}
	}
	pki, err := revolutmock.NewPKI()
	if err != nil {
		return mock{}, err
	}
	if err := pki.WriteFiles(c.revolutPKIDir); err != nil {
		return mock{}, fmt.Errorf("--revolut-pki-dir (MOCK_REVOLUT_PKI_DIR): %w", err)
	}
	var redirects []string
	for _, u := range strings.Split(c.revolutRedirect, ",") {
		if u = strings.TrimSpace(u); u != "" {
			redirects = append(redirects, u)
		}
	}
	cfg := revolutmock.Config{TAN: c.revolutTAN, JWKSRoots: pki.CertPool(), JWKSCacheTime: c.revolutJWKSCache,
		TokenLifetime: c.revolutLifetime, RefreshTokenLifetime: c.revolutRefreshLifetime, RotateRefreshTokens: c.revolutRotate, RefreshDelay: c.revolutRefreshDelay,
		OnReject: func(reason, msg string) {
			log.Warn("verification failed", "mock", "revolut", "reason", reason, "message", msg)
		}}
	if len(list) > 0 {
		cfg.ClientID, cfg.RedirectURIs, cfg.Keys = c.revolutClient, redirects, signer.NewKeySet(list...)
	}
	m, err := revolutmock.New(cfg)
	if err != nil {
		return mock{}, err
	}
	for _, k := range list {
		log.Info("revolut application registered", "client_id", c.revolutClient, "kid", k.KeyID(), "pki_dir", c.revolutPKIDir)
	}
	if len(list) == 0 {
		log.Info("revolut: no application configured; register one by DCR (finauth register revolut)", "register", revolutmock.RegisterPath, "pki_dir", c.revolutPKIDir, "jwks_cache_time", c.revolutJWKSCache)
	}
	stats := func() mockStats {
		st := m.Stats()
		n := 0
		for _, v := range st.Tokens {
			n += v
		}
		return mockStats{TokensIssued: n, TokensByKind: st.Tokens, Refusals: st.Rejections}
	}
	return mock{name: "revolut", addr: c.revolutAddr, handler: withStats("revolut", m, stats, revolutmock.TokenPath), tls: pki.ServerTLS()}, nil
}

// sinkHandler reads and drops every request's body and answers 200 with no body.
func sinkHandler(config, *slog.Logger) (http.Handler, error) {
	return withStats("sink", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}), nil), nil
}

func pismoHandler(c config, log *slog.Logger) (http.Handler, error) {
	keys, err := requiredKeys(c.pismoKeys, "--pismo-keys (MOCK_PISMO_KEYS)", "the public key(s) your client signs with")
	if err != nil {
		return nil, err
	}
	var shape pismomock.Shape
	switch c.pismoShape {
	case "access-token-201":
		shape = pismomock.AccessTokenCreated
	case "documented":
		shape = pismomock.Documented
	case "created":
		shape = pismomock.TokenCreated
	default:
		return nil, fmt.Errorf("--pismo-shape %q: use access-token-201, documented or created", c.pismoShape)
	}
	clients, err := pairs(c.pismoClients, "--pismo-clients (MOCK_PISMO_CLIENTS)")
	if err != nil {
		return nil, err
	}
	serverKeys, err := pairs(c.pismoServerKeys, "--pismo-server-keys (MOCK_PISMO_SERVER_KEYS)")
	if err != nil {
		return nil, err
	}
	var accounts []string
	for _, a := range strings.Split(c.pismoAccounts, ",") {
		if a = strings.TrimSpace(a); a != "" {
			accounts = append(accounts, a)
		}
	}
	m, err := pismomock.New(pismomock.Config{
		Keys: keys, Issuer: c.pismoIssuer, Subject: c.pismoSubject, Audience: c.pismoAudience, TenantID: c.pismoTenant, Group: c.pismoGroup,
		TokenLifetime: c.pismoLifetime, Shape: shape, Clients: clients, ServerKeys: serverKeys, Scopes: strings.Fields(c.pismoScopes), Accounts: accounts,
		OnReject: func(reason, msg string) {
			log.Warn("verification failed", "mock", "pismo", "reason", reason, "message", msg)
		},
	})
	if err != nil {
		return nil, err
	}
	if c.pismoFailRate > 0 {
		m.FailTokens(c.pismoFailRate, c.pismoFailStatus, c.pismoRetryAfter)
	}
	if c.latency > 0 {
		m.SetLatency(c.latency)
	}
	if c.pismoRevokeEvery > 0 {
		m.RevokeEvery(c.pismoRevokeEvery)
	}
	stats := func() mockStats {
		st := m.Stats()
		return mockStats{TokensIssued: st.Exchanges, Refusals: merged(st.Rejections, st.APIDenials)}
	}
	return withStats("pismo", m, stats, pismomock.TokenPath, pismomock.OAuth2Path, pismomock.BasicPath), nil
}

func soldoHandler(c config, log *slog.Logger) (http.Handler, error) {
	list, err := keysWithKID(c.soldoKeys, c.soldoKID, "soldo", "the public key(s) of the member")
	if err != nil {
		return nil, err
	}
	m, err := soldomock.New(soldomock.Config{
		Members: map[string][]*signer.PublicKey{c.soldoMember: list}, ReplayProtection: c.soldoReplay,
		OnReject: func(reason, msg string) {
			log.Warn("verification failed", "mock", "soldo", "reason", reason, "message", msg)
		},
	})
	if err != nil {
		return nil, err
	}
	for _, k := range list {
		log.Info("soldo key registered", "mid", c.soldoMember, "kid", k.KeyID(), "alg", k.Algorithm())
	}
	stats := func() mockStats {
		st := m.Stats()
		return mockStats{SignaturesVerified: st.Verified, Refusals: st.Rejections}
	}
	return withStats("soldo", m, stats), nil
}

func miaHandler(c config, log *slog.Logger) (http.Handler, error) {
	list, err := keysWithKID(c.miaKeys, c.miaKID, "mia", "the public key(s) the client signs its assertions with")
	if err != nil {
		return nil, err
	}
	m, err := miamock.New(miamock.Config{Issuer: c.miaIssuer, TokenLifetime: c.miaLifetime,
		OnReject: func(reason, msg string) {
			log.Warn("verification failed", "mock", "mia", "reason", reason, "message", msg)
		},
	})
	if err != nil {
		return nil, err
	}
	jwks, err := signer.NewKeySet(list...).MarshalJSON()
	if err != nil {
		return nil, err
	}
	if err := m.Register(c.miaClient, jwks); err != nil {
		return nil, fmt.Errorf("--mia-keys (MOCK_MIA_KEYS): %w", err)
	}
	if c.miaRevokeEvery > 0 {
		m.RevokeEvery(c.miaRevokeEvery)
	}
	for _, k := range list {
		log.Info("mia client registered", "client_id", c.miaClient, "kid", k.KeyID(), "alg", k.Algorithm())
	}
	stats := func() mockStats {
		st := m.Stats()
		return mockStats{TokensIssued: st.Tokens, Refusals: merged(st.Rejections, st.APIDenials)}
	}
	return withStats("mia", m, stats, miamock.TokenPath), nil
}

func oauthHandler(c config, log *slog.Logger) (http.Handler, error) {
	clients, err := pairs(c.oauthClients, "--oauth-clients (MOCK_OAUTH_CLIENTS)")
	if err != nil {
		return nil, err
	}
	mc := oauthmock.Config{Clients: clients, RequireDPoP: c.oauthDPoP, Nonces: c.oauthNonces, TokenLifetime: c.oauthLifetime, RevokeEvery: c.oauthRevokeEvery,
		OnReject: func(reason, msg string) { log.Warn("refused", "mock", "oauth", "reason", reason, "message", msg) }}
	if c.oauthSignatureKeys != "" {
		list, err := keysWithKID(c.oauthSignatureKeys, c.oauthSignatureKID, "oauth-signature", "the public key(s) that verify message signatures")
		if err != nil {
			return nil, err
		}
		mc.SignatureKeys = signer.NewKeySet(list...)
	}
	m, err := oauthmock.New(mc)
	if err != nil {
		return nil, err
	}
	stats := func() mockStats {
		st := m.Stats()
		return mockStats{TokensIssued: st.Tokens, TokensByKind: map[string]int{"dpop": st.DPoPBound, "bearer": st.Tokens - st.DPoPBound}, SignaturesVerified: st.Signed, Refusals: st.Refusals}
	}
	return withStats("oauth", m, stats, oauthmock.TokenPath), nil
}

// requiredKeys loads the public keys a mock registers, naming the flag when they are missing
// or unreadable.
// pairs reads "a=b,c=d" into a map.
func pairs(v, name string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(v, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" || val == "" {
			return nil, fmt.Errorf("%s: %q is not name=secret", name, kv)
		}
		out[k] = val
	}
	return out, nil
}

func requiredKeys(path, name, what string) (*signer.KeySet, error) {
	if path == "" {
		return nil, fmt.Errorf("%s is required: %s", name, what)
	}
	keys, err := signer.LoadPublicKeysFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return keys, nil
}

// keysWithKID loads the public keys a mock registers (the --MOCK-keys flag), with kid as the
// key ID of a single key without one (--MOCK-kid).
func keysWithKID(path, kid, mock, what string) ([]*signer.PublicKey, error) {
	keys, err := requiredKeys(path, "--"+mock+"-keys (MOCK_"+strings.ToUpper(strings.ReplaceAll(mock, "-", "_"))+"_KEYS)", what)
	if err != nil {
		return nil, err
	}
	list := keys.Keys()
	if kid != "" {
		if len(list) != 1 {
			return nil, errors.New("--" + mock + "-kid names the key of a single-key file; give kids in a JWKS instead")
		}
		list[0] = list[0].WithKeyID(kid)
	}
	return list, nil
}

func healthcheck(args []string, stderr io.Writer) int {
	c := &http.Client{Timeout: 3 * time.Second}
	if len(args) == 3 && args[0] == "--cacert" {
		ca, err := os.ReadFile(args[1])
		pool := x509.NewCertPool()
		if err != nil || !pool.AppendCertsFromPEM(ca) {
			fmt.Fprintln(stderr, "unhealthy: --cacert: no PEM certificate in", args[1])
			return 2
		}
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		args = args[2:]
	}
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: mockserver healthcheck [--cacert FILE] URL")
		return 2
	}
	resp, err := c.Get(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "unhealthy:", resp.Status)
		return 1
	}
	return 0
}
