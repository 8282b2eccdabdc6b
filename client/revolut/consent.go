package revolut

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/internal/telemetry"
	"github.com/finauth/finauth/tokencache"
)

// A consent's user tokens: the access token (cached and shared like every token, under
// "consent:<id>") and its refresh token, kept apart (in this process and, with a shared
// store, under "refresh:<id>") with its expiry, so that a 401 of the access token never takes
// the refresh token with it. A renewal runs once for the fleet (the cache's fleet lock on the
// consent's key), reads the newest refresh token from the store, and stores the new refresh
// token before the new access token is cached and used: a server that rotates refresh
// tokens (Revolut does not say whether it does) never sees one used twice.

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

// maxRefreshTokens bounds the refresh tokens a Transport remembers beside its cache and the
// shared store; past it one is forgotten (without a store, that consent then relies on the
// token its cached access token carries).
const maxRefreshTokens = 10_000

// refreshRecord is a consent's refresh token and when it expires (zero: unknown).
type refreshRecord struct {
	token   string
	expires time.Time
}

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
// consent's newest refresh token. With a shared store it runs under the consent's renewal
// lock, which outlives it (renewalSlack), so that one replica at a time reads the newest
// refresh token, presents it, and stores its successor before the lock goes: a refresh
// token is never presented twice, whichever replica renews and whichever dies mid-way (the
// lock of a dead holder expires; the next one reads the refresh token the dead one did not
// get to replace).
func (t *Transport) renew(ctx context.Context, id string) (tokencache.Token, error) {
	unlock, err := t.lockRenewal(ctx, id)
	if err != nil {
		return tokencache.Token{}, err
	}
	defer unlock()
	rec, err := t.refreshRecord(ctx, id)
	if err != nil {
		return tokencache.Token{}, err
	}
	if rec.token == "" {
		return tokencache.Token{}, ErrNoUserToken
	}
	if !rec.expires.IsZero() && !t.now().Before(rec.expires) {
		return tokencache.Token{}, fmt.Errorf("%w (consent %s, refresh token expired at %s)", ErrConsentExpired, id, rec.expires.UTC().Format(time.RFC3339))
	}
	// Once: a refresh grant whose answer was lost is not sent again with the same token (a
	// server that rotated it would take the second use for theft and revoke the consent).
	req := t.grantRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rec.token}})
	req.Once = true
	tok, err := t.endpoint.Token(ctx, req)
	var te *client.TokenEndpointError
	if errors.As(err, &te) && te.Status == http.StatusBadRequest && te.Code == "invalid_grant" {
		return tokencache.Token{}, fmt.Errorf("%w (consent %s): %w", ErrConsentExpired, id, err)
	}
	if err != nil {
		return tokencache.Token{}, err
	}
	if tok.RefreshToken == "" || tok.RefreshToken == rec.token {
		// Not rotated: the old one still works, and keeps its expiry.
		t.rotation.CompareAndSwap(rotationUnknown, rotationKeeps)
		tok.RefreshToken = rec.token
		if _, ok := RefreshTokenExpiry(tok); !ok && !rec.expires.IsZero() {
			tok.Extra = withExtra(tok.Extra, refreshExpiresAt, float64(rec.expires.Unix()))
		}
	} else {
		t.rotation.Store(rotationRotates)
	}
	// Kept (in the shared store too) before the access token is returned and cached, and
	// before the lock goes: a server that rotates has retired rec.token. The save gets
	// renewalSlack past ctx's deadline: a renewal that got its answer must not lose it.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), renewalSlack+time.Until(deadline(ctx)))
	defer cancel()
	t.keepRefresh(sctx, id, tok)
	return tok, nil
}

// deadline is ctx's deadline, or now.
func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now()
}

// lockRenewal takes the consent's renewal lock in the shared store (when it is a
// tokencache.FleetStore), waiting for another replica's renewal to end first. The lock
// lasts until renewalSlack*2 past ctx's deadline (the cache's FetchTimeout), after which a
// dead holder's lock is gone. A store that does not answer fails the renewal
// (ErrConsentRenewalNeedsStore) unless the server is known not to rotate.
func (t *Transport) lockRenewal(ctx context.Context, id string) (func(), error) {
	fs, ok := t.store.(tokencache.FleetStore)
	if !ok {
		return func() {}, nil
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
			return rel, nil
		}
		if err == nil {
			err = fs.Await(ctx, renewalKey(id))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("finauth: revolut: waiting for another replica's renewal of consent %s: %w", id, ctx.Err())
		}
		if err != nil {
			if t.rotation.Load() == rotationUnknown {
				// Another replica's renewal may have shown that the server keeps its refresh
				// tokens: the record says so, and loads may work while locks do not.
				lctx, cancel := context.WithTimeout(ctx, time.Second)
				if st, ok, lerr := t.store.Load(lctx, refreshKey(id)); lerr == nil && ok {
					t.learnRotation(st)
				}
				cancel()
			}
			if t.rotation.Load() == rotationKeeps {
				t.log.Warn("finauth: revolut: the shared store did not answer; renewing the consent without its lock (the token endpoint does not rotate refresh tokens)", "error", err)
				return func() {}, nil
			}
			return nil, fmt.Errorf("%w (consent %s): %w", ErrConsentRenewalNeedsStore, id, err)
		}
	}
}

// serverKeeps marks a stored refresh token whose renewal showed that the server does not
// rotate refresh tokens.
const serverKeeps = "finauth_server_keeps_refresh_tokens"

// learnRotation takes up what another replica's renewal showed of the server (a stored
// record marked serverKeeps), unless this process has seen the server rotate.
func (t *Transport) learnRotation(st tokencache.Token) {
	if keeps, _ := st.Extra[serverKeeps].(bool); keeps {
		t.rotation.CompareAndSwap(rotationUnknown, rotationKeeps)
	}
}

// refreshRecord is the consent's newest refresh token: the shared store's (another replica
// may have renewed it since), else this process's, else the one its cached access token
// carries. A store that does not answer is an error (ErrConsentRenewalNeedsStore) unless
// the server is known not to rotate: this process's refresh token may be an old one.
func (t *Transport) refreshRecord(ctx context.Context, id string) (refreshRecord, error) {
	if t.store != nil {
		st, ok, err := t.store.Load(ctx, refreshKey(id))
		if err == nil && ok && st.Value != "" {
			t.learnRotation(st)
			rec := refreshRecord{token: st.Value}
			if exp, ok := st.Extra[refreshExpiresAt].(float64); ok {
				rec.expires = time.Unix(int64(exp), 0)
			}
			return rec, nil
		}
		if err != nil {
			if t.rotation.Load() != rotationKeeps {
				return refreshRecord{}, fmt.Errorf("%w (consent %s): %w", ErrConsentRenewalNeedsStore, id, err)
			}
			t.log.Warn("finauth: revolut: the shared store did not answer for a consent's refresh token; renewing with this process's", "error", err)
		}
	}
	return t.localRefresh(id), nil
}

// localRefresh is this process's refresh token of the consent: the one it kept, else the one
// its cached access token carries.
func (t *Transport) localRefresh(id string) refreshRecord {
	t.mu.Lock()
	rec, ok := t.refresh[id]
	t.mu.Unlock()
	if !ok {
		if cur, ok := t.bearer.Cache().Peek(consentCacheKey(id)); ok && cur.RefreshToken != "" {
			rec = refreshRecord{token: cur.RefreshToken}
			rec.expires, _ = RefreshTokenExpiry(cur)
		}
	}
	return rec
}

// keepRefresh remembers the consent's refresh token (a renewal may rotate it) and its
// expiry, in this process and in the shared store, where no 401 of an access token can take
// it, and warns once when the consent is near its end. A store that fails is logged, never a
// failed request: this process still holds the token.
func (t *Transport) keepRefresh(ctx context.Context, id string, tok tokencache.Token) {
	if tok.RefreshToken == "" {
		return
	}
	rec := refreshRecord{token: tok.RefreshToken}
	rec.expires, _ = RefreshTokenExpiry(tok)
	t.mu.Lock()
	if _, ok := t.refresh[id]; !ok && len(t.refresh) >= maxRefreshTokens {
		for k := range t.refresh { // any one: map iteration starts at random
			delete(t.refresh, k)
			break
		}
	}
	t.refresh[id] = rec
	t.mu.Unlock()
	t.warnNearExpiry(id, rec.expires)
	if t.store == nil {
		return
	}
	keep := rec.expires
	if keep.IsZero() {
		keep = t.now().Add(refreshLifetime)
	}
	st := tokencache.Token{Value: rec.token, Type: "refresh", Expiry: keep, Extra: map[string]any{}}
	if !rec.expires.IsZero() {
		st.Extra[refreshExpiresAt] = float64(rec.expires.Unix())
	}
	if t.rotation.Load() == rotationKeeps {
		st.Extra[serverKeeps] = true // what this renewal showed, for the replicas that have not renewed
	}
	if err := t.store.Save(ctx, refreshKey(id), st); err != nil {
		t.log.Error("finauth: revolut: the shared store did not keep a consent's refresh token: this process holds it, the other replicas do not (a server that rotates refresh tokens will refuse theirs)", "error", err)
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
	rec, err := t.refreshRecord(ctx, consentID)
	if err != nil {
		rec = t.localRefresh(consentID)
	}
	return rec.expires, rec.token != "" && !rec.expires.IsZero()
}

// refreshExpiresAt is the token answer's member with the refresh token's expiry.
const refreshExpiresAt = "refresh_token_expires_at"

// RefreshTokenExpiry reads a token answer's refresh_token_expires_at (in tok.Extra, as
// ExchangeCode returns it): when the refresh token expires, after which the user must
// authorise the consent again. Revolut does not document the format: Unix seconds (or
// milliseconds), as a number or a string of digits, and RFC 3339 times are read.
func RefreshTokenExpiry(tok tokencache.Token) (time.Time, bool) {
	switch v := tok.Extra[refreshExpiresAt].(type) {
	case float64:
		if v > 0 && v < maxUnixMilli {
			return unixTime(int64(v))
		}
	case int64:
		return unixTime(v)
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return unixTime(n)
		}
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return unixTime(n)
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil && t.After(time.Unix(0, 0)) {
			return t, true
		}
	}
	return time.Time{}, false
}

// maxUnixMilli bounds the numbers read as a time: milliseconds up to the year 5138.
const maxUnixMilli = 1e14

// unixTime reads Unix seconds, or milliseconds when the number is too large to be seconds
// (after the year 5138); not positive or beyond maxUnixMilli is not a time.
func unixTime(n int64) (time.Time, bool) {
	switch {
	case n <= 0 || n >= maxUnixMilli:
		return time.Time{}, false
	case n > 1e11:
		return time.UnixMilli(n), true
	}
	return time.Unix(n, 0), true
}

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
func (t *Transport) ExchangeCode(ctx context.Context, consentID, code string) (tokencache.Token, error) {
	if code == "" {
		return tokencache.Token{}, fmt.Errorf("finauth: revolut: ExchangeCode needs the authorization code the redirect URI received")
	}
	// Not a fetch of the cache: counted and traced here as one.
	ctx, span := t.rec.Tracer().Start(ctx, telemetry.SpanFetch, trace.WithAttributes(telemetry.AttrProvider.String(t.rec.Provider()), telemetry.AttrBackground.Bool(false)))
	start := time.Now()
	// Once: an authorization code is good for one use.
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
	if err := t.SetUserToken(consentID, tok); err != nil {
		return tokencache.Token{}, err
	}
	return tok, nil
}

// SetUserToken makes tok the user's access token of consentID, for a token obtained
// elsewhere (another process, an environment variable): requests WithConsent use it until
// it expires, then renew it when its RefreshToken (or an earlier one of the consent) is
// known.
func (t *Transport) SetUserToken(consentID string, tok tokencache.Token) error {
	if consentID == "" {
		return fmt.Errorf("finauth: revolut: SetUserToken needs the consent ID")
	}
	t.keepRefresh(context.Background(), consentID, tok)
	return t.bearer.Cache().Put(consentCacheKey(consentID), tok)
}
