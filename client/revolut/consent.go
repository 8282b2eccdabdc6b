package revolut

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/internal/telemetry"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// A consent's user tokens: the access token (cached and shared like every token, under
// "consent:<id>") and its refresh token, kept apart (in this process and, with a shared
// store, under "refresh:<id>") with its expiry and generation (custody.go), so that a 401 of
// the access token never takes the refresh token with it. A renewal runs once for the fleet
// (the consent's renewal lock), presents the newest refresh token wherever it is found, and
// stores its successor before the lock goes and before the new access token is used: a
// server that rotates refresh tokens (Revolut does not say whether it does) never sees one
// used twice.

type consentKey struct{}

// WithConsent makes the requests made with ctx use the user's access token of consentID
// (from ExchangeCode, renewed with its refresh token): payments and account data.
func WithConsent(ctx context.Context, consentID string) context.Context {
	return context.WithValue(ctx, consentKey{}, consentID)
}

func consentCacheKey(id string) string { return "consent:" + id }

// refreshKey is the store key of a consent's refresh token: apart from its access token,
// which a 401 deletes.
func refreshKey(id string) string { return "refresh:" + id }

// ErrNoUserToken is returned for a request WithConsent whose consent has no user token (nor
// refresh token) here or in the shared store: exchange the authorization code first
// (ExchangeCode).
var ErrNoUserToken = telemetry.Sentinel("finauth: revolut: no user token for this consent: exchange the authorization code of its authorisation first (Transport.ExchangeCode)", "no_user_token")

// ErrConsentExpired is wrapped by the error of a consent whose refresh token has expired
// (or that Revolut refuses to renew, invalid_grant): the user must authorise the consent
// again. ConsentExpiry says when it will, in time to ask them.
var ErrConsentExpired = telemetry.Sentinel("finauth: revolut: the consent can no longer be renewed (its refresh token has expired or was refused): the user must authorise it again", "consent_expired")

// DefaultConsentExpiryWarning is how long before a consent's refresh token expires a
// warning is logged (once per consent).
const DefaultConsentExpiryWarning = 7 * 24 * time.Hour

// refreshLifetime is how long a refresh token is kept when the server says nothing of its
// expiry (Revolut's last 90 or 180 days, longer in the UK).
const refreshLifetime = 365 * 24 * time.Hour

// ErrConsentRenewalNeedsStore is wrapped by the error of a renewal that the shared store
// could not guard (it did not answer): renewing without its fleet lock could present a
// refresh token another replica has already rotated, which a server detecting reuse answers
// by revoking the consent. The access token in use keeps serving until it expires; the
// renewal is tried again, and goes ahead without the store once the server is known not to
// rotate its refresh tokens.
var ErrConsentRenewalNeedsStore = telemetry.Sentinel("finauth: revolut: the shared store did not answer, and renewing the consent without its lock could reuse a refresh token another replica has rotated", "store_unavailable")

// renewalSlack is how long a renewal's fleet lock outlives the renewal's deadline: the
// renewal's token request ends at the deadline and its save of the new refresh token gets
// renewalSlack of its own, so the lock never goes while a renewal is still running.
const renewalSlack = 500 * time.Millisecond

// rotation is what the token endpoint has shown of its refresh tokens.
const (
	rotationUnknown int32 = iota
	rotationRotates       // a renewal answered a new refresh token
	rotationKeeps         // a renewal answered none, or the same
)

func renewalKey(id string) string { return "renewal:" + id }

// renew is the token cache's fetch of a consent's user token: the refresh grant with the
// consent's newest refresh token. It runs under the consent's renewal lock (this process's
// and, with a shared store, the fleet's), which outlives it (renewalSlack), so that one
// renewal at a time finds the newest refresh token, presents it, and stores its successor
// before the lock goes: a refresh token is never presented twice, whichever replica renews
// and whichever dies mid-way (the lock of a dead holder expires; the next one reads the
// refresh token the dead one did not get to replace).
func (t *Transport) renew(ctx context.Context, id string) (tokencache.Token, error) {
	unlock, err := t.lockRenewal(ctx, id)
	if err != nil {
		return tokencache.Token{}, err
	}
	defer unlock()
	rec, err := t.newest(ctx, id)
	switch {
	case err != nil:
		return tokencache.Token{}, err
	case rec.token == "":
		return tokencache.Token{}, ErrNoUserToken
	case rec.refused:
		// Refused before (by this replica or another): presenting it again is no use, and
		// every replica would do it every second. A new grant clears it.
		return tokencache.Token{}, fmt.Errorf("%w (consent %s, its refresh token was refused)", ErrConsentExpired, id)
	case !rec.expires.IsZero() && !t.now().Before(rec.expires):
		return tokencache.Token{}, fmt.Errorf("%w (consent %s, refresh token expired at %s)", ErrConsentExpired, id, rec.expires.UTC().Format(time.RFC3339))
	}
	// The save of what comes back gets renewalSlack past ctx's deadline: a renewal that got
	// its answer must not lose it.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), renewalSlack+time.Until(deadline(ctx)))
	defer cancel()
	// Once: a refresh grant whose answer was lost is not sent again with the same token (a
	// server that rotated it would take the second use for theft and revoke the consent).
	req := t.grantRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rec.token}})
	req.Once = true
	tok, err := t.endpoint.Token(ctx, req)
	var te *client.TokenEndpointError
	if errors.As(err, &te) && te.Status == http.StatusBadRequest && te.Code == "invalid_grant" {
		rec.refused = true
		t.keep(sctx, id, rec)
		return tokencache.Token{}, fmt.Errorf("%w (consent %s): %w", ErrConsentExpired, id, err)
	}
	if err != nil {
		return tokencache.Token{}, err
	}
	next := refreshRecord{token: tok.RefreshToken, gen: generation{grant: rec.gen.grant, n: rec.gen.n + 1}}
	next.expires, _ = RefreshTokenExpiry(tok)
	if tok.RefreshToken == "" || tok.RefreshToken == rec.token {
		// Not rotated: the old one still works, and keeps its expiry.
		t.rotation.CompareAndSwap(rotationUnknown, rotationKeeps)
		next.token = rec.token
		if next.expires.IsZero() {
			next.expires = rec.expires
		}
	} else {
		t.rotation.Store(rotationRotates)
	}
	// Kept (in the shared store too) before the access token is returned and cached, and
	// before the lock goes: a server that rotates has retired rec.token.
	t.keep(sctx, id, next)
	return carry(tok, next), nil
}

// deadline is ctx's deadline, or now.
func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now()
}

// lockRenewal takes the consent's renewal lock: this process's, then the shared store's
// (when it is a tokencache.FleetStore), waiting for another replica's renewal to end first.
// The store's lock lasts until renewalSlack*2 past ctx's deadline (the cache's FetchTimeout),
// after which a dead holder's lock is gone. A store that does not answer fails the renewal
// (ErrConsentRenewalNeedsStore) unless the server is known not to rotate.
func (t *Transport) lockRenewal(ctx context.Context, id string) (func(), error) {
	local := t.locks.of(id)
	local.Lock()
	fs, ok := t.store.(tokencache.FleetStore)
	if !ok {
		return local.Unlock, nil
	}
	ttl := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		ttl = time.Until(d) + 2*renewalSlack
	}
	for {
		// Held for the whole ttl, not as a lease: a renewer cut off from Redis for a
		// moment must not lose the lock to another while it uses the refresh token.
		rel, got, err := fs.Lock(tokencache.LockForWholeTTL(ctx), renewalKey(id), ttl)
		if err == nil && got {
			return func() { rel(); local.Unlock() }, nil
		}
		if err == nil {
			err = fs.Await(ctx, renewalKey(id))
		}
		if ctx.Err() != nil {
			local.Unlock()
			return nil, fmt.Errorf("finauth: revolut: waiting for another replica's renewal of consent %s: %w", id, ctx.Err())
		}
		if err != nil {
			if t.rotation.Load() == rotationUnknown {
				// Another replica's renewal may have shown what the server does: the record
				// says so, and loads may work while locks do not.
				lctx, cancel := context.WithTimeout(ctx, time.Second)
				if st, ok, lerr := t.store.Load(lctx, refreshKey(id)); lerr == nil && ok {
					t.learnRotation(st)
				}
				cancel()
			}
			if t.rotation.Load() == rotationKeeps {
				t.log.Warn("finauth: revolut: the shared store did not answer; renewing the consent without its lock (the token endpoint does not rotate refresh tokens)", "error", err)
				return local.Unlock, nil
			}
			local.Unlock()
			return nil, fmt.Errorf("%w (consent %s): %w", ErrConsentRenewalNeedsStore, id, err)
		}
	}
}

// learnRotation takes up what another replica's renewal showed of the server (a stored
// record marked serverKeeps or serverRotates): rotation, once seen, is never unlearnt.
func (t *Transport) learnRotation(st tokencache.Token) {
	if rotates, _ := st.Extra[serverRotates].(bool); rotates {
		t.rotation.Store(rotationRotates)
	} else if keeps, _ := st.Extra[serverKeeps].(bool); keeps {
		t.rotation.CompareAndSwap(rotationUnknown, rotationKeeps)
	}
}

// warnNearExpiry logs, once per consent, that its refresh token expires within the warning
// period: the user will have to authorise it again.
func (t *Transport) warnNearExpiry(id string, expires time.Time) {
	if expires.IsZero() || t.warnIn <= 0 || expires.Sub(t.now()) > t.warnIn {
		return
	}
	if _, dup := t.warned.LoadOrStore(id, true); dup {
		return
	}
	t.log.Warn("finauth: revolut: a consent's refresh token expires soon: ask the user to authorise the consent again before then (logged once)",
		"expires_at", expires.UTC().Format(time.RFC3339), "expires_in", expires.Sub(t.now()).Round(time.Minute))
}

// ConsentExpiry returns when consentID's refresh token expires (after which the user must
// authorise the consent again), as the token endpoint said (refresh_token_expires_at); ok is
// false when it is not known.
func (t *Transport) ConsentExpiry(ctx context.Context, consentID string) (time.Time, bool) {
	rec := t.localRefresh(consentID)
	if t.store != nil {
		if st, ok, err := t.store.Load(ctx, refreshKey(consentID)); err == nil && ok {
			if stored := recordOf(st); !rec.gen.after(stored.gen) {
				rec = stored
			}
		}
	}
	return rec.expires, rec.token != "" && !rec.expires.IsZero()
}

// refreshExpiresAt is the token answer's member with the refresh token's expiry.
const refreshExpiresAt = "refresh_token_expires_at"

// RefreshTokenExpiry reads a token answer's refresh_token_expires_at (in tok.Extra, as
// ExchangeCode returns it): when the refresh token expires, after which the user must
// authorise the consent again. Revolut does not document the format: Unix seconds (or
// milliseconds), as a number or a string of digits, and RFC 3339 times are read. A number
// too small to be a time after 2001 (7776000) is a lifetime, not a date in 1970: it is
// counted in seconds from when the token was issued (tok.Issued; unknown without it), so
// that a consent is never declared dead by a misread number.
func RefreshTokenExpiry(tok tokencache.Token) (time.Time, bool) {
	var n int64
	switch v := tok.Extra[refreshExpiresAt].(type) {
	case float64:
		if v <= 0 || v >= maxUnixMilli {
			return time.Time{}, false
		}
		n = int64(v)
	case int64:
		n = v
	case json.Number:
		var err error
		if n, err = v.Int64(); err != nil {
			return time.Time{}, false
		}
	case string:
		if t, err := time.Parse(time.RFC3339, v); err == nil && t.After(time.Unix(minUnixDate, 0)) {
			return t, true
		}
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	switch {
	case n <= 0 || n >= maxUnixMilli:
		return time.Time{}, false
	case n < minUnixDate: // a lifetime in seconds
		if tok.Issued.IsZero() {
			return time.Time{}, false
		}
		return tok.Issued.Add(time.Duration(n) * time.Second), true
	case n > 1e11: // milliseconds; below 2001 in them (and past 5138 in seconds), neither
		if n < minUnixDate*1000 {
			return time.Time{}, false
		}
		return time.UnixMilli(n), true
	}
	return time.Unix(n, 0), true
}

// maxUnixMilli bounds the numbers read as a time: milliseconds up to the year 5138.
const maxUnixMilli = 1e14

// minUnixDate is the least number read as a date (2001-09-09); below it, a lifetime.
const minUnixDate = 1e9

func withExtra(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for key, val := range m {
		if key != k {
			out[key] = val
		}
	}
	return out
}

// ExchangeCode exchanges the authorization code of consentID's authorisation (the code the
// redirect URI received) for the user's access and refresh token; requests WithConsent then
// use it, renewed ahead of expiry with the refresh token (with a shared store, by whichever
// replica). With consentID empty the token is only returned (the CLI prints it). The returned
// Token holds the refresh token: never log its Value or RefreshToken (its String hides both).
//
// consentID must come from your server-side state (the consent you created and sent the user
// to authorise, found by the state parameter), never from the redirect: a code from another
// user's authorisation filed under your consent would give its tokens to the wrong party.
// The id_token the token endpoint returns names the consent the authorisation was for
// (openbanking_intent_id): a code for another consent is refused with ErrConsentMismatch,
// and nothing is filed.
func (t *Transport) ExchangeCode(ctx context.Context, consentID, code string) (tokencache.Token, error) {
	if code == "" {
		return tokencache.Token{}, fmt.Errorf("finauth: revolut: ExchangeCode needs the authorization code the redirect URI received")
	}
	// Not a fetch of the cache: counted and traced here as one.
	ctx, span := t.rec.Tracer().Start(ctx, telemetry.SpanFetch, trace.WithAttributes(telemetry.AttrProvider.String(t.rec.Provider()), telemetry.AttrBackground.Bool(false)))
	start := time.Now()
	// Once: an authorization code is good for one use (RFC 6749 section 4.1.2: a second use
	// may revoke the tokens the first one got).
	req := t.grantRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {t.cfg.RedirectURI}})
	req.Once = true
	tok, err := t.endpoint.Token(ctx, req)
	t.rec.Fetched(ctx, time.Since(start), telemetry.ReasonOf(err))
	if err == nil {
		span.SetAttributes(telemetry.AttrSource.String("endpoint"))
	}
	telemetry.EndSpan(span, err)
	if err != nil || consentID == "" {
		return tok, err
	}
	if err := t.checkIntent(consentID, tok); err != nil {
		return tokencache.Token{}, err
	}
	if err := t.setUserToken(ctx, consentID, tok); err != nil {
		return tokencache.Token{}, err
	}
	return tok, nil
}

// SetUserToken makes tok the user's access token of consentID, for a token obtained
// elsewhere (another process, an environment variable): requests WithConsent use it until
// it expires, then renew it with its RefreshToken. It is a new grant: its refresh token
// outranks every one the consent had before, here and in the shared store.
func (t *Transport) SetUserToken(consentID string, tok tokencache.Token) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return t.setUserToken(ctx, consentID, tok)
}

// setUserToken files a new grant under the consent's renewal lock, so that a renewal in
// flight (here or on another replica) ends first: its successor record is older than the
// grant's, whatever order the two reach the store in.
func (t *Transport) setUserToken(ctx context.Context, consentID string, tok tokencache.Token) error {
	if consentID == "" {
		return fmt.Errorf("finauth: revolut: SetUserToken needs the consent ID")
	}
	if tok.RefreshToken != "" {
		unlock, err := t.lockRenewal(ctx, consentID)
		if err != nil {
			// A new grant's refresh token was never presented: filing it without the fleet's
			// lock risks no reuse (its generation outranks any renewal still in flight).
			t.log.Warn("finauth: revolut: filing a new grant without the renewal lock", "error", err)
			unlock = func() {}
		}
		defer unlock()
		rec := refreshRecord{token: tok.RefreshToken, gen: generation{grant: t.grantTime()}}
		rec.expires, _ = RefreshTokenExpiry(tok)
		t.keep(ctx, consentID, rec)
		tok = carry(tok, rec)
	}
	return t.bearer.Cache().Put(consentCacheKey(consentID), tok)
}

// grantTime is a new grant's generation: now, in Unix µs, and later than every grant this
// process has filed (two grants within a clock tick stay ordered).
func (t *Transport) grantTime() int64 {
	for {
		last := t.lastGrant.Load()
		g := max(t.now().UnixMicro(), last+1)
		if t.lastGrant.CompareAndSwap(last, g) {
			return g
		}
	}
}

// ErrConsentMismatch is wrapped by the error of ExchangeCode when the authorization code is
// for another consent than the one given (the id_token's openbanking_intent_id), or for
// another client (its aud): nothing is filed. The consent ID must come from your
// server-side state, never from the redirect.
var ErrConsentMismatch = telemetry.Sentinel("finauth: revolut: the authorization code was not issued for this consent", "consent_mismatch")

// checkIntent compares the id_token of a code exchange's answer with the consent it is to be
// filed under: its openbanking_intent_id must be consentID, and its aud this client. The
// id_token came straight from the token endpoint over TLS whose server certificate was
// verified, which OpenID Connect Core (3.1.3.7, 6) accepts in place of its signature. An
// answer without an id_token, or an id_token without the claim, cannot be checked: logged
// once.
func (t *Transport) checkIntent(consentID string, tok tokencache.Token) error {
	raw, _ := tok.Extra["id_token"].(string)
	var claims struct {
		Intent string          `json:"openbanking_intent_id"`
		Aud    json.RawMessage `json:"aud"`
	}
	if raw != "" {
		u, err := signer.DecodeUnverified(raw)
		if err != nil || json.Unmarshal(u.Payload, &claims) != nil {
			return fmt.Errorf("%w: the id_token of the token answer does not decode", ErrConsentMismatch)
		}
	}
	if claims.Intent == "" {
		t.noIDToken.Do(func() {
			t.log.Warn("finauth: revolut: a code exchange's answer names no consent (no id_token with openbanking_intent_id): the consent ID given could not be checked; it must come from your server-side state (logged once)")
		})
		return nil
	}
	if claims.Intent != consentID {
		return fmt.Errorf("%w: the code is for consent %.64q, not %s", ErrConsentMismatch, claims.Intent, consentID)
	}
	if len(claims.Aud) > 0 && !audienceHas(claims.Aud, t.cfg.ClientID) {
		return fmt.Errorf("%w: the id_token's aud is not this client (%s)", ErrConsentMismatch, t.cfg.ClientID)
	}
	return nil
}

// audienceHas reports whether a JWT's aud (a string or a list) holds id.
func audienceHas(aud json.RawMessage, id string) bool {
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return one == id
	}
	var many []string
	return json.Unmarshal(aud, &many) == nil && slices.Contains(many, id)
}
