package pismomock

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/finauth/finauth/integration/internal/mockhttp"
)

// Pismo's other two ways to authenticate: OAuth 2.0 client credentials, and the legacy
// server-to-server login.

// OAuth2Path is Pismo's OAuth 2.0 token endpoint (RFC 6749 client credentials).
const OAuth2Path = "/passport/v2/oauth/token"

// BasicPath is where the mock takes the legacy server_key/secret_key login (Pismo's
// documents name the endpoint without its path).
const BasicPath = "/passport/v1/auth/server"

// Refusal reasons of the two endpoints and of scoped tokens.
const (
	ReasonInvalidClient      = "invalid_client"       // unknown client or server key, or a wrong secret
	ReasonSecretParameter    = "client_secret_string" // client_secret sent: Pismo reads client_secret_string
	ReasonInvalidScope       = "invalid_scope"        // a scope missing or unknown
	ReasonUnknownAccount     = "unknown_account"      // uid or account_id of no known account
	ReasonGrantType          = "unsupported_grant_type"
	ReasonInsufficientScope  = "insufficient_scope" // an OAuth 2.0 token used outside its permission groups
	ReasonBadLogin           = "bad_login"          // the legacy login body is not what Pismo reads
	basicTokenSecret         = "pismomock legacy token signing key"
	maxTokenRequest          = 64 << 10
	contentTypeForm          = "application/x-www-form-urlencoded"
	contentTypeJSON          = "application/json"
	permissionGroupSeparator = ":"
)

// oauth2 issues a client-credentials token: form-encoded (RFC 6749) or JSON.
func (m *Mock) oauth2(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		m.rejections.Refuse(w, http.StatusMethodNotAllowed, ReasonBadRequest, "POST only")
		return
	}
	if status, ra, fail := m.TokenFailure(); fail {
		mockhttp.SetRetryAfter(w, ra)
		m.rejections.Refuse(w, status, ReasonInjectedFailure, "injected failure")
		return
	}
	p, ok := params(r)
	if !ok {
		m.rejections.Refuse(w, http.StatusBadRequest, ReasonBadRequest, "the body must be a form (application/x-www-form-urlencoded) or a JSON object")
		return
	}
	secret, known := m.cfg.Clients[p["client_id"]]
	switch {
	case p["grant_type"] != "client_credentials":
		m.rejections.Refuse(w, http.StatusBadRequest, ReasonGrantType, "grant_type must be client_credentials")
	case p["client_secret"] != "" && p["client_secret_string"] == "":
		m.rejections.Refuse(w, http.StatusBadRequest, ReasonSecretParameter, "send the secret as client_secret_string (not client_secret)")
	case !known || p["client_secret_string"] != secret:
		m.rejections.Refuse(w, http.StatusUnauthorized, ReasonInvalidClient, "unknown client_id or wrong client_secret_string")
	case strings.TrimSpace(p["scope"]) == "":
		m.rejections.Refuse(w, http.StatusBadRequest, ReasonInvalidScope, "scope is required: the permission groups of the token, space-separated")
	default:
		scopes := strings.Fields(p["scope"])
		for _, s := range scopes {
			if !slices.Contains(m.cfg.Scopes, s) {
				m.rejections.Refuse(w, http.StatusBadRequest, ReasonInvalidScope, fmt.Sprintf("unknown permission group %q", s))
				return
			}
		}
		if uid := p["uid"]; uid != "" && !m.knownAccount(uid) {
			m.rejections.Refuse(w, http.StatusBadRequest, ReasonUnknownAccount, "uid names no account of this tenant")
			return
		}
		tok := newOpaque()
		m.issue(tok, &issued{tenant: m.cfg.TenantID, uid: p["uid"], scopes: scopes})
		mockhttp.WriteJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(m.cfg.TokenLifetime / time.Second), "scope": strings.Join(scopes, " ")})
	}
}

// params reads a form or a JSON object of strings.
func params(r *http.Request) (map[string]string, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTokenRequest))
	if err != nil {
		return nil, false
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	out := map[string]string{}
	switch ct {
	case contentTypeForm:
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, false
		}
		for k := range v {
			out[k] = v.Get(k)
		}
	case contentTypeJSON:
		var raw map[string]any
		if json.Unmarshal(body, &raw) != nil || raw == nil {
			return nil, false
		}
		for k, v := range raw {
			switch v := v.(type) {
			case string:
				out[k] = v
			case float64:
				out[k] = strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
	default:
		return nil, false
	}
	return out, true
}

// basic answers the legacy login: {"server_key", "secret_key" (or BasicSecretField),
// "account_id"} (or
// "external_account_id") gives {"token": <JWT>, "tenant", "roles", ...}, the expiry only in
// the JWT's exp.
func (m *Mock) basic(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		m.rejections.Refuse(w, http.StatusMethodNotAllowed, ReasonBadRequest, "POST only")
		return
	}
	if status, ra, fail := m.TokenFailure(); fail {
		mockhttp.SetRetryAfter(w, ra)
		m.rejections.Refuse(w, status, ReasonInjectedFailure, "injected failure")
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxTokenRequest))
	field := m.cfg.BasicSecretField
	if field == "" {
		field = "secret_key"
	}
	var req struct {
		ServerKey         string          `json:"server_key"`
		AccountID         json.RawMessage `json:"account_id"`
		ExternalAccountID string          `json:"external_account_id"`
	}
	var members map[string]json.RawMessage
	if ct != contentTypeJSON || json.Unmarshal(body, &req) != nil || json.Unmarshal(body, &members) != nil {
		m.rejections.Refuse(w, http.StatusBadRequest, ReasonBadLogin, `the body must be the JSON {"server_key", "`+field+`", "account_id"}`)
		return
	}
	var secretKey string
	if raw, ok := members[field]; !ok || json.Unmarshal(raw, &secretKey) != nil {
		m.rejections.Refuse(w, http.StatusBadRequest, ReasonBadLogin, `no "`+field+`" in the login: the secret key goes there`)
		return
	}
	secret, known := m.cfg.ServerKeys[req.ServerKey]
	if !known || secretKey != secret {
		m.rejections.Refuse(w, http.StatusUnauthorized, ReasonInvalidClient, "unknown server_key or wrong secret_key")
		return
	}
	account := strings.Trim(string(req.AccountID), `"`)
	if account != "" && account != "null" && !m.knownAccount(account) {
		m.rejections.Refuse(w, http.StatusBadRequest, ReasonUnknownAccount, "account_id names no account of this tenant")
		return
	}
	if account == "null" {
		account = ""
	}
	now := m.cfg.Now()
	// A jti keeps two logins within one second apart: identical token values could not be
	// told apart by any client (a late 401 of the first would reject the second).
	jwt := hs512(map[string]any{"iss": "Passport", "sub": "AUTH-" + req.ServerKey, "iat": now.Unix(), "exp": now.Add(m.cfg.TokenLifetime).Unix(), "account_id": account, "jti": newOpaque()})
	m.issue(jwt, &issued{tenant: m.cfg.TenantID, uid: account, external: req.ExternalAccountID})
	mockhttp.WriteJSON(w, http.StatusOK, map[string]any{"server_key": req.ServerKey, "tenant": m.cfg.TenantID, "program_ids": []int{}, "roles": []string{"account-server", "crm-server"}, "token": jwt})
}

// issue records a token living TokenLifetime.
func (m *Mock) issue(tok string, t *issued) {
	t.Expires = m.cfg.Now().Add(m.cfg.TokenLifetime)
	m.mu.Lock()
	m.tokens[tok] = t
	m.stats.Exchanges++
	m.mu.Unlock()
}

func (m *Mock) knownAccount(id string) bool {
	return m.cfg.Accounts == nil || slices.Contains(m.cfg.Accounts, id)
}

// hs512 is a JWT signed with the mock's own HMAC key, as Pismo's legacy tokens are.
func hs512(claims map[string]any) string {
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(claims)
	input := enc.EncodeToString([]byte(`{"alg":"HS512"}`)) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha512.New, []byte(basicTokenSecret))
	mac.Write([]byte(input))
	return input + "." + enc.EncodeToString(mac.Sum(nil))
}

// covers reports whether a scoped token's permission groups reach path: a group
// pismo-v1:accounts:rw reaches the paths of the accounts resource (/accounts/..., or
// /<service>/v1/accounts/...).
func covers(scopes []string, path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for _, s := range scopes {
		fields := strings.Split(s, permissionGroupSeparator)
		if len(fields) < 2 {
			continue
		}
		if slices.Contains(parts, fields[1]) {
			return true
		}
	}
	return false
}
