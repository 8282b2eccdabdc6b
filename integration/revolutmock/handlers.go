package revolutmock

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/finauth/finauth/integration/internal/mockhttp"
)

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// RefreshTokenExpiresAt is Unix seconds (Revolut's format is not documented).
	RefreshTokenExpiresAt int64 `json:"refresh_token_expires_at,omitempty"`
	// IDToken answers a code exchange, as OpenID Connect and FAPI 1.0 Advanced have it: it
	// names the consent the authorisation was for (openbanking_intent_id, and sub).
	IDToken string `json:"id_token,omitempty"`
}

// token serves the three grants.
func (m *Mock) token(w http.ResponseWriter, r *http.Request) {
	if status, ra, fail := m.TokenFailure(); fail {
		mockhttp.SetRetryAfter(w, ra)
		m.refuse(w, status, ReasonInjectedToken, "injected token failure")
		return
	}
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		m.refuse(w, http.StatusBadRequest, ReasonBadRequest, "send a form (application/x-www-form-urlencoded)")
		return
	}
	a := m.app(r.PostForm.Get("client_id"))
	if a == nil {
		m.refuse(w, http.StatusUnauthorized, ReasonClientID, "unknown client_id %q", r.PostForm.Get("client_id"))
		return
	}
	if a.dn != "" && a.dn != peerDN(r) {
		m.refuse(w, http.StatusUnauthorized, ReasonDN, "the transport certificate (%s) is not the one registered for %s (%s)", peerDN(r), a.id, a.dn)
		return
	}
	grant := r.PostForm.Get("grant_type")
	if grant == "refresh_token" && !m.awaitRefresh(r) {
		return
	}
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var ans tokenAnswer
	switch grant {
	case "client_credentials":
		scope := r.PostForm.Get("scope")
		if scope != "accounts" && scope != "payments" {
			m.refuse(w, http.StatusBadRequest, ReasonScope, "scope %q: use accounts or payments", scope)
			return
		}
		ans.AccessToken = m.issueLocked(a.id, scope, "", now)
	case "authorization_code":
		c, ok := m.codes[r.PostForm.Get("code")]
		if !ok {
			m.refuse(w, http.StatusBadRequest, ReasonCode, "unknown or used authorization code")
			return
		}
		if !slices.Contains(a.redirectURIs, r.PostForm.Get("redirect_uri")) {
			m.refuse(w, http.StatusBadRequest, ReasonRedirectURI, "redirect_uri %q is not registered", r.PostForm.Get("redirect_uri"))
			return
		}
		delete(m.codes, c.code)
		ans.IDToken = m.idToken(a.id, c.id, now)
		ans.AccessToken = m.issueLocked(a.id, "user", c.id, now)
		ans.RefreshToken, ans.RefreshTokenExpiresAt = m.issueRefreshLocked(c.id, now.Add(m.cfg.RefreshTokenLifetime))
		c.token = ans.AccessToken
	case "refresh_token":
		rt, ok := m.useRefreshLocked(w, r.PostForm.Get("refresh_token"), now)
		if !ok {
			return
		}
		ans.AccessToken = m.issueLocked(a.id, "user", rt.consent, now)
		m.consents[rt.consent].token = ans.AccessToken
		if m.cfg.RotateRefreshTokens {
			rt.retired = true
			ans.RefreshToken, ans.RefreshTokenExpiresAt = m.issueRefreshLocked(rt.consent, rt.expires)
		}
	default:
		m.refuse(w, http.StatusBadRequest, ReasonGrantType, "grant_type %q: use client_credentials, authorization_code or refresh_token", grant)
		return
	}
	m.issued[grant]++
	ans.TokenType, ans.ExpiresIn = "Bearer", int64(m.cfg.TokenLifetime/time.Second)
	mockhttp.WriteJSON(w, http.StatusOK, ans)
}

// awaitRefresh tells OnRefresh and waits RefreshDelay; false when the client went away
// meanwhile (nothing is committed: the grant is abandoned).
func (m *Mock) awaitRefresh(r *http.Request) bool {
	if m.cfg.OnRefresh != nil {
		m.cfg.OnRefresh(r.RemoteAddr)
	}
	if m.cfg.RefreshDelay <= 0 {
		return true
	}
	t := time.NewTimer(m.cfg.RefreshDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		m.mu.Lock()
		m.stats.RefreshAbandoned++
		m.mu.Unlock()
		return false
	}
}

// issueRefreshLocked issues a refresh token of consent, valid until expires.
func (m *Mock) issueRefreshLocked(consent string, expires time.Time) (string, int64) {
	v := randomID("rt_")
	m.refresh[v] = &refreshToken{consent: consent, expires: expires}
	return v, expires.Unix()
}

// useRefreshLocked checks a presented refresh token: unknown, expired and reused ones are
// refused with invalid_grant, as RFC 6749 section 5.2 says; a reuse revokes the consent's
// refresh tokens.
func (m *Mock) useRefreshLocked(w http.ResponseWriter, v string, now time.Time) (*refreshToken, bool) {
	rt, ok := m.refresh[v]
	switch {
	case !ok:
		m.refuseGrant(w, ReasonRefreshToken, "unknown or revoked refresh token")
	case rt.retired:
		m.stats.RefreshReuses++
		for k, other := range m.refresh {
			if other.consent == rt.consent {
				delete(m.refresh, k)
			}
		}
		m.refuseGrant(w, ReasonRefreshReused, "refresh token already used: it was rotated; every refresh token of the consent is revoked")
	case !now.Before(rt.expires):
		m.refuseGrant(w, ReasonRefreshExpired, "refresh token expired: the user must authorise the consent again")
	default:
		return rt, true
	}
	return nil, false
}

// refuseGrant refuses a token request with RFC 6749's invalid_grant, counted under reason.
func (m *Mock) refuseGrant(w http.ResponseWriter, reason, message string) {
	m.rejects.Count(reason, message)
	mockhttp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": message})
}

func (m *Mock) issueLocked(client, scope, consentID string, now time.Time) string {
	v := randomID("oa_")
	m.tokens[v] = &token{client: client, scope: scope, consent: consentID, expires: now.Add(m.cfg.TokenLifetime)}
	return v
}

// bearer checks the API call's token (and the injected faults and the financial ID).
func (m *Mock) bearer(w http.ResponseWriter, r *http.Request) (*token, bool) {
	m.mu.Lock()
	if m.fail503 > 0 {
		m.fail503--
		m.mu.Unlock()
		m.refuse(w, http.StatusServiceUnavailable, ReasonInjected503, "injected 503")
		return nil, false
	}
	m.mu.Unlock()
	if m.Take401For(r) {
		m.refuse(w, http.StatusUnauthorized, ReasonInjected401, "injected 401")
		return nil, false
	}
	if m.cfg.FinancialID != "" && r.Header.Get("x-fapi-financial-id") != m.cfg.FinancialID {
		m.refuse(w, http.StatusBadRequest, ReasonFinancialID, "x-fapi-financial-id must be %s", m.cfg.FinancialID)
		return nil, false
	}
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || v == "" {
		m.refuse(w, http.StatusUnauthorized, ReasonNoToken, "send Authorization: Bearer <access token>")
		return nil, false
	}
	m.mu.Lock()
	t, ok := m.tokens[v]
	m.mu.Unlock()
	if !ok || !m.cfg.Now().Before(t.expires) {
		m.refuse(w, http.StatusUnauthorized, ReasonInvalidToken, "unknown or expired access token")
		return nil, false
	}
	return t, true
}

// body reads a JSON body and checks x-jws-signature over its exact bytes when signed.
func (m *Mock) body(w http.ResponseWriter, r *http.Request, t *token, signed bool) ([]byte, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || !json.Valid(b) {
		m.refuse(w, http.StatusBadRequest, ReasonBadRequest, "the body is not JSON")
		return nil, false
	}
	if signed {
		if reason := m.verifyJWSFor(m.app(t.client), r.Header.Get("x-jws-signature"), b); reason != "" {
			m.refuse(w, http.StatusBadRequest, ReasonJWS, "%s", reason)
			return nil, false
		}
	}
	return b, true
}

// VerifyJWS checks an x-jws-signature of the configured application over body: a detached
// compact JWS, PS256 with a registered kid, typ JOSE, the tan in crit with the configured
// value. It returns what is wrong, or "".
func (m *Mock) VerifyJWS(jws string, body []byte) string {
	return m.verifyJWSFor(m.app(m.cfg.ClientID), jws, body)
}

// verifyJWSFor is VerifyJWS with application a's keys (for a DCR-registered one, its JWKS
// as fetched and kept).
func (m *Mock) verifyJWSFor(a *app, jws string, body []byte) string {
	if a == nil {
		return "the token's application is not registered any more"
	}
	if jws == "" {
		return "x-jws-signature is missing"
	}
	if parts := strings.Split(jws, "."); len(parts) != 3 || parts[1] != "" {
		return "x-jws-signature must be a detached compact JWS (header..signature)"
	}
	_, verifier, problem := m.verifiers(a)
	if problem != "" {
		return "the application's JWKS: " + problem
	}
	v, err := verifier.VerifyDetached(jws, body)
	if err != nil {
		return "x-jws-signature does not verify over the body: " + err.Error()
	}
	if typ, _ := v.HeaderString("typ"); typ != "JOSE" {
		return `x-jws-signature's typ must be "JOSE"`
	}
	if tan, _ := v.HeaderString(TANHeader); tan != m.cfg.TAN {
		return "x-jws-signature's " + TANHeader + " must be " + m.cfg.TAN
	}
	var crit []string
	if json.Unmarshal(v.Header["crit"], &crit) != nil || !slices.Contains(crit, TANHeader) {
		return `x-jws-signature's "crit" must list ` + TANHeader
	}
	return ""
}

// idempotent answers a repeat of key with the first answer, refuses the key with another
// body, or runs create and remembers its answer.
func (m *Mock) idempotent(w http.ResponseWriter, r *http.Request, body []byte, create func() (int, any, string)) {
	key := r.Header.Get("x-idempotency-key")
	if key == "" || len(key) > maxIdempotencyKeyLen {
		m.refuse(w, http.StatusBadRequest, ReasonIdempotencyKey, "x-idempotency-key is required, at most %d characters", maxIdempotencyKeyLen)
		return
	}
	sum := sha256.Sum256(body)
	bodySHA := hex.EncodeToString(sum[:])
	m.mu.Lock()
	defer m.mu.Unlock()
	if prev, ok := m.idem[key]; ok {
		if prev.bodySHA != bodySHA {
			m.refuse(w, http.StatusBadRequest, ReasonIdempotencyReuse, "x-idempotency-key %s was used with another body", key)
			return
		}
		m.stats.Repeats++
		mockhttp.WriteJSON(w, prev.status, prev.answer)
		return
	}
	status, answer, reason := create()
	if reason != "" {
		m.refuse(w, status, reason, "%v", answer)
		return
	}
	m.idem[key] = &idem{bodySHA: bodySHA, status: status, answer: answer}
	mockhttp.WriteJSON(w, status, answer)
}

type consentAnswer struct {
	Data struct {
		ConsentID string `json:"ConsentId"`
		Status    string `json:"Status"`
	} `json:"Data"`
	Risk struct{} `json:"Risk"`
}

// createConsent needs a client-credentials token of the kind's scope; payment consents are
// signed.
func (m *Mock) createConsent(w http.ResponseWriter, r *http.Request, kind string) {
	t, ok := m.bearer(w, r)
	if !ok {
		return
	}
	if t.scope != kind {
		m.refuse(w, http.StatusForbidden, ReasonScope, "a %s consent needs a client-credentials token of scope %s", kind, kind)
		return
	}
	body, ok := m.body(w, r, t, kind == "payments")
	if !ok {
		return
	}
	m.idempotent(w, r, body, func() (int, any, string) {
		c := &consent{id: randomID("consent-"), kind: kind, status: "AwaitingAuthorisation"}
		m.consents[c.id] = c
		m.stats.Consents++
		var a consentAnswer
		a.Data.ConsentID, a.Data.Status = c.id, c.status
		return http.StatusCreated, a, ""
	})
}

// createPayment needs the user token of the consent the body names, authorised.
func (m *Mock) createPayment(w http.ResponseWriter, r *http.Request) {
	t, ok := m.bearer(w, r)
	if !ok {
		return
	}
	body, ok := m.body(w, r, t, true)
	if !ok {
		return
	}
	var p struct {
		Data struct {
			ConsentID string `json:"ConsentId"`
		} `json:"Data"`
	}
	json.Unmarshal(body, &p)
	m.mu.Lock()
	c, found := m.consents[p.Data.ConsentID]
	m.mu.Unlock()
	switch {
	case !found || c.kind != "payments" || c.status != "Authorised":
		m.refuse(w, http.StatusBadRequest, ReasonConsent, "Data.ConsentId must name an authorised payment consent")
		return
	case t.scope != "user" || t.consent != c.id:
		m.refuse(w, http.StatusForbidden, ReasonWrongToken, "a payment needs the user's access token of its consent (the authorization-code exchange)")
		return
	}
	m.idempotent(w, r, body, func() (int, any, string) {
		m.stats.Payments++
		return http.StatusCreated, map[string]any{"Data": map[string]any{"DomesticPaymentId": randomID("pmt-"), "ConsentId": c.id, "Status": "Pending"}}, ""
	})
}

// accounts needs the user token of an authorised accounts consent.
func (m *Mock) accounts(w http.ResponseWriter, r *http.Request) {
	t, ok := m.bearer(w, r)
	if !ok {
		return
	}
	m.mu.Lock()
	c := m.consents[t.consent]
	m.mu.Unlock()
	if t.scope != "user" || c == nil || c.kind != "accounts" || c.status != "Authorised" {
		m.refuse(w, http.StatusForbidden, ReasonWrongToken, "account data needs the user's access token of an authorised accounts consent")
		return
	}
	mockhttp.WriteJSON(w, http.StatusOK, map[string]any{"Data": map[string]any{"Account": []map[string]any{{"AccountId": "acc-1", "Currency": "GBP"}}}})
}

// authorize verifies the request object and that the query agrees with it, authorises the
// consent and redirects to the redirect URI with a code and the state.
func (m *Mock) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, reason := m.checkRequestObject(q)
	if reason != "" {
		m.refuse(w, http.StatusBadRequest, ReasonRequestObject, "%s", reason)
		return
	}
	m.mu.Lock()
	c.status, c.code = "Authorised", randomID("code-")
	m.codes[c.code] = c
	m.stats.Authorised++
	m.mu.Unlock()
	to, _ := url.Parse(q.Get("redirect_uri"))
	rq := to.Query()
	rq.Set("code", c.code)
	if s := q.Get("state"); s != "" {
		rq.Set("state", s)
	}
	to.RawQuery = rq.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

// checkRequestObject applies every rule of the request object; it returns the consent, or
// what is wrong.
func (m *Mock) checkRequestObject(q url.Values) (*consent, string) {
	if q.Get("response_type") != "code id_token" {
		return nil, `response_type must be "code id_token"`
	}
	a := m.app(q.Get("client_id"))
	if a == nil {
		return nil, "client_id must be a registered client"
	}
	verifier, _, problem := m.verifiers(a)
	if problem != "" {
		return nil, "the application's JWKS: " + problem
	}
	v, err := verifier.Verify(q.Get("request"))
	if err != nil {
		return nil, "the request object does not verify: " + err.Error()
	}
	var c struct {
		ResponseType string `json:"response_type"`
		ClientID     string `json:"client_id"`
		RedirectURI  string `json:"redirect_uri"`
		Aud          any    `json:"aud"`
		Scope        string `json:"scope"`
		State        string `json:"state"`
		Nbf, Exp     *int64
		Claims       struct {
			IDToken struct {
				Intent struct {
					Value string `json:"value"`
				} `json:"openbanking_intent_id"`
			} `json:"id_token"`
		} `json:"claims"`
	}
	if err := v.Claims(&c); err != nil {
		return nil, "the request object's claims are not a JSON object"
	}
	now := m.cfg.Now().Unix()
	switch {
	case c.ResponseType != "code id_token":
		return nil, `the request object's response_type must be "code id_token"`
	case c.ClientID != a.id || q.Get("client_id") != c.ClientID:
		return nil, "client_id must be the registered client, in the query and the request object alike"
	case !slices.Contains(a.redirectURIs, c.RedirectURI) || q.Get("redirect_uri") != c.RedirectURI:
		return nil, "redirect_uri must be registered, in the query and the request object alike"
	case c.Aud != m.cfg.Audience && c.Aud != m.cfg.LegacyAudience:
		return nil, "aud must be " + m.cfg.Audience + " (or, during Revolut's change of issuer, " + m.cfg.LegacyAudience + ")"
	case c.Scope == "" || q.Get("scope") != c.Scope:
		return nil, "scope must be given, in the query and the request object alike"
	case q.Get("state") != c.State:
		return nil, "state must be the same in the query and the request object"
	case c.Nbf == nil || c.Exp == nil:
		return nil, "nbf and exp are required"
	case *c.Nbf > now:
		return nil, "nbf is in the future"
	case *c.Nbf < now-3600:
		return nil, "nbf is more than 60 minutes in the past"
	case *c.Exp <= now:
		return nil, "the request object has expired"
	case *c.Exp-*c.Nbf > 3600:
		return nil, "exp is more than 60 minutes after nbf"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cs, ok := m.consents[c.Claims.IDToken.Intent.Value]
	switch {
	case !ok:
		return nil, "claims.id_token.openbanking_intent_id.value names no consent"
	case cs.status != "AwaitingAuthorisation":
		return nil, "the consent is " + cs.status + ", not AwaitingAuthorisation"
	case cs.kind != c.Scope:
		return nil, "the scope must be the consent's: " + cs.kind
	}
	return cs, ""
}
