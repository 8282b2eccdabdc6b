package revolut

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/client/internal/tokenendpoint"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/internal/telemetry"
)

// Dynamic client registration (Revolut's "Register your application using DCR", which
// follows Open Banking's DCR 3.1): a PS256 registration JWT carrying a software statement,
// posted to /register over mutual TLS; GET, PUT and DELETE /register/{client_id} with a
// client-credentials token of the application.

// Registration defaults.
const (
	// DefaultRegistrationAudience is the registration JWT's aud Revolut recommends.
	DefaultRegistrationAudience = "revolut"
	// DefaultRegistrationLifetime is exp − iat of a registration JWT.
	DefaultRegistrationLifetime = 5 * time.Minute
	// TLSClientAuth is the only token_endpoint_auth_method Revolut supports.
	TLSClientAuth = "tls_client_auth"
)

// DefaultRegistrationScopes are the scopes registered when none are given: openid (which
// Revolut requires) and the two the rest of this package uses.
var DefaultRegistrationScopes = []string{"openid", "accounts", "payments"}

// registrationScopes are the scopes Revolut registers.
var registrationScopes = []string{"openid", "accounts", "payments", "fundsconfirmations"}

// audiencePattern is Revolut's rule for the registration JWT's aud.
var audiencePattern = regexp.MustCompile(`^[0-9a-zA-Z]{1,18}$`)

// ErrRegistration is wrapped by every error of a registration: one Revolut refused
// (*RegistrationError) and one that could not be made or sent.
var ErrRegistration = telemetry.Sentinel("finauth: revolut: the registration failed", "registration")

// RegistrationError is Revolut's refusal of a registration request: the HTTP status and
// the reason it gave (OAuth's error/error_description, or Open Banking's Code/Message with
// its Errors), never the JWT sent.
type RegistrationError struct {
	Op          string // register, get, update or delete
	Status      int
	Code        string
	Description string
}

// Error names the operation, the status and Revolut's reason.
func (e *RegistrationError) Error() string {
	msg := fmt.Sprintf("%s: %s: Revolut answered %d", ErrRegistration, e.Op, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (check the transport certificate, and for get/update/delete that the client ID is this certificate's application)"
	}
	return msg
}

// Unwrap returns ErrRegistration.
func (e *RegistrationError) Unwrap() error { return ErrRegistration }

// SoftwareStatement is the content of a self-signed software statement (Revolut's "Get the
// software statement", for eIDAS certificates and the sandbox).
type SoftwareStatement struct {
	// JWKSURL is org_jwks_endpoint: the public JWKS holding the signing key the
	// registration JWT's kid names, with x5c. Required.
	JWKSURL string `json:"org_jwks_endpoint"`
	// OrgName is the organisation's legal name (org_name); SoftwareClientName the name shown
	// to users in the Revolut app (software_client_name). One of them is required.
	OrgName            string `json:"org_name,omitempty"`
	SoftwareClientName string `json:"software_client_name,omitempty"`
	// OnBehalfOfOrg is software_on_behalf_of_org, for a solution provider registering a
	// partner's application.
	OnBehalfOfOrg string `json:"software_on_behalf_of_org,omitempty"`
	// RedirectURIs are software_redirect_uris.
	RedirectURIs []string `json:"software_redirect_uris,omitempty"`
}

// SelfSignedSSA returns the self-signed software statement: an unsigned JWT, header
// {"alg":"none"}, an empty signature segment.
func SelfSignedSSA(s SoftwareStatement) (string, error) {
	var missing []string
	if u, err := url.Parse(s.JWKSURL); s.JWKSURL == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		missing = append(missing, fmt.Sprintf("the JWKS URL (org_jwks_endpoint) must be an https URL, not %q", redact.URL(s.JWKSURL)))
	}
	if strings.TrimSpace(s.OrgName) == "" && strings.TrimSpace(s.SoftwareClientName) == "" {
		missing = append(missing, "give org_name or software_client_name (the name users see)")
	}
	if missing != nil {
		return "", fmt.Errorf("%w: the software statement: %s", ErrRegistration, strings.Join(missing, "; "))
	}
	payload, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRegistration, err)
	}
	return b64url(`{"alg":"none"}`) + "." + b64url(string(payload)) + ".", nil
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// Registration is what an application registers.
type Registration struct {
	// SoftwareStatement is the SSA: from the Open Banking directory, or SelfSignedSSA's.
	// Required.
	SoftwareStatement string
	// RedirectURIs; default the configuration's RedirectURI.
	RedirectURIs []string
	// Scopes; default DefaultRegistrationScopes. openid is required.
	Scopes []string
	// Issuer is iss; default the SSA's software_id, else its org_name or
	// software_client_name (Revolut says only "the principal that issued the JWT").
	Issuer string
	// Audience is aud; default DefaultRegistrationAudience.
	Audience string
	// ApplicationType is web (the default) or mobile.
	ApplicationType string
	// TLSClientAuthDN is the transport certificate's subject DN; default computed from
	// the configuration's transport certificate (DistinguishedName).
	TLSClientAuthDN string
	// Lifetime is exp − iat; default DefaultRegistrationLifetime.
	Lifetime time.Duration
}

// registrationClaims are the registration JWT's claims, in the order of Revolut's guide.
type registrationClaims struct {
	Issuer                   string   `json:"iss"`
	IssuedAt                 int64    `json:"iat"`
	Expiry                   int64    `json:"exp"`
	Audience                 string   `json:"aud"`
	Scope                    string   `json:"scope"`
	RedirectURIs             []string `json:"redirect_uris"`
	TokenEndpointAuthMethod  string   `json:"token_endpoint_auth_method"`
	ApplicationType          string   `json:"application_type"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg"`
	RequestObjectSigningAlg  string   `json:"request_object_signing_alg"`
	TLSClientAuthDN          string   `json:"tls_client_auth_dn"`
	SoftwareStatement        string   `json:"software_statement"`
}

// Client is a registered application, as Revolut answers it. Scope is a list (Revolut
// answers a list; a space-separated string is read too).
type Client struct {
	ClientID                 string   `json:"client_id"`
	OrgJWKSEndpoint          string   `json:"org_jwks_endpoint,omitempty"`
	Scope                    Scopes   `json:"scope,omitempty"`
	RedirectURIs             []string `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod  string   `json:"token_endpoint_auth_method,omitempty"`
	TLSClientAuthDN          string   `json:"tls_client_auth_dn,omitempty"`
	ApplicationType          string   `json:"application_type,omitempty"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg,omitempty"`
	RequestObjectSigningAlg  string   `json:"request_object_signing_alg,omitempty"`
	// Raw is the whole answer, for what this struct does not name.
	Raw json.RawMessage `json:"-"`
}

// Scopes is a list of scopes that also reads a space-separated string.
type Scopes []string

// UnmarshalJSON reads ["a","b"] or "a b".
func (s *Scopes) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = strings.Fields(one)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*s = list
	return nil
}

// Registrar registers the application (no client ID needed: it is what registration gives)
// and reads, updates and deletes its registration. Make it with NewRegistrar.
type Registrar struct {
	cfg      Config
	signer   *Signer
	hc       *http.Client
	url      string
	dn       string
	now      func() time.Time
	endpoint *tokenendpoint.Endpoint // nil without a token URL
}

// NewRegistrar checks what registration needs: the signing key and its kid (the JWKS the
// SSA names must hold it), the transport certificate and key (mutual TLS; its subject is
// tls_client_auth_dn), and the registration URL (RegistrationURL, default the token URL's
// origin + /register). ClientID is not needed.
func NewRegistrar(cfg Config, opts ...Option) (*Registrar, error) {
	cfg = cfg.withDefaults()
	p := config.NewProblems(provider)
	p.Require(cfg.KeyID, "KeyID", "REVOLUT_KEY_ID")
	cfg.keySource().Check(p)
	p.Require(cfg.TransportCertFile, "TransportCertFile", "REVOLUT_TRANSPORT_CERT_FILE")
	p.Require(cfg.TransportKeyFile, "TransportKeyFile", "REVOLUT_TRANSPORT_KEY_FILE")
	regURL := cfg.registrationURL()
	if regURL == "" {
		p.Add("RegistrationURL", "REVOLUT_REGISTRATION_URL", "required (or REVOLUT_TOKEN_URL, whose origin + /register it defaults to, or REVOLUT_ENV=sandbox|production)")
	} else {
		config.CheckURL(p, regURL, "RegistrationURL", "REVOLUT_REGISTRATION_URL", cfg.AllowInsecureHTTP)
	}
	cfg.checkRotation(p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	o := collect(opts)
	r, err := cfg.ring(o.Cache.Clock.Now, o.OnSign())
	if err != nil {
		return nil, err
	}
	tc, leaf, err := cfg.transportTLS(time.Now())
	if err != nil {
		return nil, err
	}
	var base http.RoundTripper = o.Base
	if base == nil {
		t := client.DefaultTransport()
		t.TLSClientConfig = tc
		base = t
	}
	reg := &Registrar{cfg: cfg, signer: &Signer{cfg: cfg, ring: r, clock: o.Cache.Clock}, url: regURL, dn: DistinguishedName(leaf),
		hc:  &http.Client{Transport: base, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		now: o.Cache.Clock.Now}
	if cfg.TokenURL != "" { // for get, update and delete: a client-credentials token of the application
		p := config.NewProblems(provider)
		if config.CheckURL(p, cfg.TokenURL, "TokenURL", "REVOLUT_TOKEN_URL", cfg.AllowInsecureHTTP); p.Err() != nil {
			return nil, p.Err()
		}
		o.Settings.TokenClient = reg.hc
		reg.endpoint = tokenendpoint.New(provider, cfg.TokenURL, cfg.Exchange, &o.Settings)
	}
	return reg, nil
}

// registrationURL is RegistrationURL, else the token URL's origin + /register.
func (c Config) registrationURL() string {
	if c.RegistrationURL != "" {
		return c.RegistrationURL
	}
	if c.TokenURL == "" {
		return ""
	}
	u, err := url.Parse(c.TokenURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/register"
}

// URL is the registration endpoint.
func (r *Registrar) URL() string { return r.url }

// DistinguishedName is the transport certificate's subject DN, as tls_client_auth_dn.
func (r *Registrar) DistinguishedName() string { return r.dn }

// RegistrationJWT returns the signed registration JWT for reg (header
// {"alg":"PS256","kid":...}, the current signing key's kid).
func (r *Registrar) RegistrationJWT(reg Registration) (string, error) {
	c, err := r.claims(reg)
	if err != nil {
		return "", err
	}
	jwt, err := r.signer.current().SignJWT(c)
	if err != nil {
		return "", fmt.Errorf("%w: signing the registration JWT: %w", ErrRegistration, err)
	}
	return jwt, nil
}

// claims fills reg's defaults and checks what Revolut checks.
func (r *Registrar) claims(reg Registration) (registrationClaims, error) {
	var problems []string
	if reg.SoftwareStatement == "" {
		problems = append(problems, "no software statement: pass the Open Banking directory's SSA, or make a self-signed one (SelfSignedSSA; the CLI's --self-signed-ssa) for the sandbox or an eIDAS certificate")
	}
	ssa, err := ssaClaims(reg.SoftwareStatement)
	if reg.SoftwareStatement != "" && err != nil {
		problems = append(problems, err.Error())
	}
	if len(reg.RedirectURIs) == 0 && r.cfg.RedirectURI != "" {
		reg.RedirectURIs = []string{r.cfg.RedirectURI}
	}
	if len(reg.RedirectURIs) == 0 {
		problems = append(problems, "no redirect URI: set REVOLUT_REDIRECT_URI (Config.RedirectURI) or Registration.RedirectURIs")
	}
	for _, u := range reg.RedirectURIs {
		if pu, err := url.Parse(u); err != nil || pu.Scheme == "" || pu.Host == "" {
			problems = append(problems, fmt.Sprintf("redirect URI %q is not an absolute URL", redact.URL(u)))
		}
	}
	if reg.Scopes == nil {
		reg.Scopes = DefaultRegistrationScopes
	}
	if !slices.Contains(reg.Scopes, "openid") {
		problems = append(problems, "the scopes must include openid (Revolut requires it)")
	}
	for _, s := range reg.Scopes {
		if !slices.Contains(registrationScopes, s) {
			problems = append(problems, fmt.Sprintf("scope %q is not one Revolut registers (%s)", s, strings.Join(registrationScopes, ", ")))
		}
	}
	if reg.Audience == "" {
		reg.Audience = DefaultRegistrationAudience
	}
	if !audiencePattern.MatchString(reg.Audience) {
		problems = append(problems, fmt.Sprintf("aud %q must be 1 to 18 letters and digits (Revolut suggests %q)", reg.Audience, DefaultRegistrationAudience))
	}
	if reg.ApplicationType == "" {
		reg.ApplicationType = "web"
	}
	if reg.ApplicationType != "web" && reg.ApplicationType != "mobile" {
		problems = append(problems, fmt.Sprintf("application_type %q: use web or mobile", reg.ApplicationType))
	}
	if reg.Issuer == "" {
		reg.Issuer = firstNonEmpty(ssa.SoftwareID, ssa.OrgName, ssa.SoftwareClientName)
	}
	if reg.Issuer == "" && reg.SoftwareStatement != "" && err == nil {
		problems = append(problems, "no iss: the software statement has no software_id, org_name or software_client_name; set Registration.Issuer")
	}
	if reg.TLSClientAuthDN == "" {
		reg.TLSClientAuthDN = r.dn
	}
	if reg.Lifetime <= 0 {
		reg.Lifetime = DefaultRegistrationLifetime
	}
	if problems != nil {
		return registrationClaims{}, fmt.Errorf("%w: %s", ErrRegistration, strings.Join(problems, "; "))
	}
	now := r.now()
	return registrationClaims{
		Issuer: reg.Issuer, IssuedAt: now.Unix(), Expiry: now.Add(reg.Lifetime).Unix(), Audience: reg.Audience,
		Scope: strings.Join(reg.Scopes, " "), RedirectURIs: reg.RedirectURIs, TokenEndpointAuthMethod: TLSClientAuth,
		ApplicationType: reg.ApplicationType, IDTokenSignedResponseAlg: "PS256", RequestObjectSigningAlg: "PS256",
		TLSClientAuthDN: reg.TLSClientAuthDN, SoftwareStatement: reg.SoftwareStatement,
	}, nil
}

// ssaFields are what the registration reads of a software statement.
type ssaFields struct {
	SoftwareID         string `json:"software_id"`
	OrgName            string `json:"org_name"`
	SoftwareClientName string `json:"software_client_name"`
	JWKSURL            string `json:"org_jwks_endpoint"`
	SoftwareJWKSURL    string `json:"software_jwks_endpoint"`
}

// ssaClaims decodes a software statement's payload (not verifying it: Revolut does).
func ssaClaims(ssa string) (ssaFields, error) {
	var f ssaFields
	parts := strings.Split(strings.TrimSpace(ssa), ".")
	if len(parts) != 3 {
		return f, errors.New("the software statement is not a JWT (three dot-separated parts)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return f, errors.New("the software statement's payload is not base64url")
	}
	if err := json.Unmarshal(payload, &f); err != nil {
		return f, errors.New("the software statement's payload is not a JSON object")
	}
	return f, nil
}

// Register posts the registration JWT to /register over mutual TLS and returns the
// registered application (its ClientID is REVOLUT_CLIENT_ID from now on).
func (r *Registrar) Register(ctx context.Context, reg Registration) (*Client, error) {
	jwt, err := r.RegistrationJWT(reg)
	if err != nil {
		return nil, err
	}
	return r.do(ctx, "register", http.MethodPost, r.url, []byte(jwt), "", "")
}

// Get reads the registration of clientID (with a client-credentials token of it; Revolut
// takes any of its scopes).
func (r *Registrar) Get(ctx context.Context, clientID string) (*Client, error) {
	tok, err := r.token(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return r.do(ctx, "get", http.MethodGet, r.clientURL(clientID), nil, tok, "")
}

// Update replaces the registration of clientID with reg (PUT, the registration JWT signed
// afresh, with a client-credentials token and the body's x-jws-signature).
func (r *Registrar) Update(ctx context.Context, clientID string, reg Registration) (*Client, error) {
	jwt, err := r.RegistrationJWT(reg)
	if err != nil {
		return nil, err
	}
	if r.cfg.TAN == "" {
		return nil, fmt.Errorf("%w: update: %w", ErrRegistration, ErrNoTAN)
	}
	sig, err := r.signer.JWSSignature(nil, bytes.NewReader([]byte(jwt)))
	if err != nil {
		return nil, fmt.Errorf("%w: update: %w", ErrRegistration, err)
	}
	tok, err := r.token(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return r.do(ctx, "update", http.MethodPut, r.clientURL(clientID), []byte(jwt), tok, sig)
}

// Delete deletes the registration of clientID (Revolut answers 204).
func (r *Registrar) Delete(ctx context.Context, clientID string) error {
	tok, err := r.token(ctx, clientID)
	if err != nil {
		return err
	}
	_, err = r.do(ctx, "delete", http.MethodDelete, r.clientURL(clientID), nil, tok, "")
	return err
}

func (r *Registrar) clientURL(clientID string) string {
	return strings.TrimSuffix(r.url, "/") + "/" + url.PathEscape(clientID)
}

// token is a client-credentials token of clientID (scope accounts) from the token URL.
func (r *Registrar) token(ctx context.Context, clientID string) (string, error) {
	if strings.TrimSpace(clientID) == "" {
		return "", fmt.Errorf("%w: give the client ID registration answered", ErrRegistration)
	}
	if r.endpoint == nil {
		return "", config.Problemf(provider, "TokenURL", "REVOLUT_TOKEN_URL", "required to read, update or delete a registration (its client-credentials token), or REVOLUT_ENV=sandbox|production")
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}, "client_id": {clientID}}
	tok, err := r.endpoint.Token(ctx, tokenendpoint.Request{Form: form})
	if err != nil {
		return "", fmt.Errorf("%w: a client-credentials token of %s: %w", ErrRegistration, clientID, err)
	}
	return tok.Value, nil
}

// maxRegistrationAnswer bounds what is read of an answer.
const maxRegistrationAnswer = 1 << 20

func (r *Registrar) do(ctx context.Context, op, method, u string, body []byte, token, jws string) (*Client, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrRegistration, op, redact.URLError(u, err))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/jwt")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if jws != "" {
		req.Header.Set("x-jws-signature", jws)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %s", ErrRegistration, op, redact.URL(u), redact.URLError(u, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRegistrationAnswer))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: reading the answer: %w", ErrRegistration, op, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, registrationError(op, resp.StatusCode, data)
	}
	if method == http.MethodDelete {
		return nil, nil
	}
	var c Client
	if err := json.Unmarshal(data, &c); err != nil || c.ClientID == "" {
		return nil, fmt.Errorf("%w: %s: Revolut answered %d without a client_id in JSON (%d bytes)", ErrRegistration, op, resp.StatusCode, len(data))
	}
	if !plainClientID(c.ClientID) {
		return nil, fmt.Errorf("%w: %s: the client_id answered (%d bytes) is not 1 to %d characters of printable ASCII without spaces: refused, as a hostile or broken endpoint's answer (it is not shown)", ErrRegistration, op, len(c.ClientID), maxClientID)
	}
	c.Raw = data
	return &c, nil
}

// maxClientID bounds a client ID's length.
const maxClientID = 256

// plainClientID reports whether id is printable ASCII without spaces (RFC 6749's VSCHAR
// less the space) of at most maxClientID bytes: what a configuration, a log line or a shell
// can carry without surprise. A newline in a client ID printed as "export ID=..." would be a
// second command for whoever evals it.
func plainClientID(id string) bool {
	if id == "" || len(id) > maxClientID {
		return false
	}
	for i := range len(id) {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// registrationError reads Revolut's reason: OAuth's {"error","error_description"}, or
// Open Banking's {"Code","Message","Errors":[{"ErrorCode","Message"}]}.
func registrationError(op string, status int, data []byte) *RegistrationError {
	e := &RegistrationError{Op: op, Status: status}
	body, ok := parseErrorBody(data)
	if !ok {
		return e
	}
	code := firstNonEmpty(body.Error, body.Code)
	// Built once, in one pass, from at most maxErrorEntries entries: joining them one by
	// one was quadratic (30,000 entries of an 88 KB answer allocated 934 MB).
	var d strings.Builder
	d.WriteString(firstNonEmpty(body.Description, body.Message, body.LowerMessage))
	for i, x := range body.Errors {
		if code == "" {
			code = x.ErrorCode
		}
		entry := strings.TrimSpace(x.ErrorCode + " " + x.Message)
		if entry == "" {
			continue
		}
		if i == maxErrorEntries || d.Len() > 8*maxErrorText {
			d.WriteString("; ...")
			break
		}
		if d.Len() > 0 {
			d.WriteString("; ")
		}
		d.WriteString(entry)
	}
	e.Code, e.Description = shown(code, d.String())
	return e
}

// attributeNames are the short names RFC 4514 and Revolut's DN use, beyond Go's.
var attributeNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "STREET",
	"2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.5": "serialNumber", "2.5.4.97": "organizationIdentifier",
	"0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID", "2.5.4.17": "postalCode",
	"1.2.840.113549.1.9.1": "emailAddress", "2.5.4.4": "SN", "2.5.4.42": "GN", "2.5.4.12": "title",
}

// DistinguishedName is cert's subject DN as Revolut's /distinguished-name gives it for
// tls_client_auth_dn: RFC 4514 order (the last RDN of the certificate first), comma-separated
// without spaces, organizationIdentifier by name, e.g.
// "organizationIdentifier=PSDUK-REVCA-…,CN=2kiXQyo0podjW2somjHo67,OU=001570000113UAvAAM,O=OpenBanking,C=GB".
func DistinguishedName(cert *x509.Certificate) string {
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil {
		return cert.Subject.String()
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			oid := atv.Type.String()
			name, ok := attributeNames[oid]
			if !ok {
				name = oid
			}
			b.WriteString(name)
			b.WriteByte('=')
			s, isString := atv.Value.(string)
			if !isString || !ok {
				der, _ := asn1.Marshal(atv.Value)
				b.WriteString("#" + hex.EncodeToString(der))
				continue
			}
			b.WriteString(escapeDN(s))
		}
	}
	return b.String()
}

// escapeDN escapes an attribute value as RFC 4514 section 2.4 says.
func escapeDN(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case strings.ContainsRune(`,+"\<>;`, r), r == '#' && i == 0, r == ' ' && (i == 0 || i == len(s)-1):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == 0:
			b.WriteString(`\00`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// String describes the registrar without its keys.
func (r *Registrar) String() string {
	return redact.Summary{Name: "revolut.Registrar", Fields: struct {
		URL, KeyID, DN string
	}{r.url, r.signer.KeyID(), r.dn}}.String()
}

// Format keeps every fmt verb on String.
func (r *Registrar) Format(f fmt.State, _ rune) { fmt.Fprint(f, r.String()) }
