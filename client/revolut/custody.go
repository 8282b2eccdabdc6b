package revolut

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/finauth/finauth/internal/telemetry"
	"github.com/finauth/finauth/tokencache"
)

// Custody of a consent's refresh token. A server that rotates refresh tokens retires each one
// on use and takes a second use for theft (OAuth 2.0 Security BCP): it revokes the consent.
// So the refresh token presented must be the newest, and the shared store can be wrong about
// it: Redis replicates asynchronously (a failover loses the last writes), a save can fail, a
// restart without persistence empties it. Each record therefore carries its generation:
// the grant it comes from (when the authorization code was exchanged: a new authorisation
// outranks every renewal of an older one) and how many renewals since. The newest generation
// wins wherever it is found (this process's record, the access token it holds or the store
// holds, which carries its refresh token, and the store's record), and a store found older
// is written back, under the renewal lock, before the token is presented.

// generation orders a consent's refresh tokens.
type generation struct {
	grant int64  // Unix µs of the grant (the code exchange or SetUserToken); 0: from before generations
	n     uint64 // renewals since the grant
}

// after reports whether g is newer than o.
func (g generation) after(o generation) bool {
	return g.grant > o.grant || g.grant == o.grant && g.n > o.n
}

// refreshRecord is a consent's refresh token and what is known of it.
type refreshRecord struct {
	token   string
	expires time.Time // zero: unknown
	gen     generation
	refused bool // the server refused it (invalid_grant): the consent is dead until a new grant
}

// The members a refresh record (in the store) and an access token (its Extra) carry.
const (
	grantKey      = "finauth_refresh_grant"      // generation.grant
	generationKey = "finauth_refresh_generation" // generation.n
	refusedKey    = "finauth_refresh_refused"    // refreshRecord.refused
	// serverKeeps and serverRotates mark a stored record whose renewal showed what the token
	// endpoint does with refresh tokens, for the replicas that have not renewed.
	serverKeeps   = "finauth_server_keeps_refresh_tokens"
	serverRotates = "finauth_server_rotates_refresh_tokens"
)

// ErrRefreshRecordLost is wrapped by the error of a renewal whose consent the shared store
// no longer holds (Redis restarted without persistence, evicted the record, or failed over
// to a replica that had not received it) while the token endpoint is known to rotate refresh
// tokens: this process's own refresh token may be one another replica has already used,
// which the server would take for theft and answer by revoking the consent. The access token
// in use keeps serving until it expires. Run Redis with persistence (appendonly) and no
// eviction (maxmemory-policy noeviction) for consents; after such a loss, the user authorises
// the consent again (ExchangeCode).
var ErrRefreshRecordLost = telemetry.Sentinel("finauth: revolut: the shared store lost the consent's refresh token and the server rotates refresh tokens: presenting this replica's own could reuse one another replica has rotated", "refresh_record_lost")

// stored is the record as the store keeps it: a Token whose Value is the refresh token.
func (r refreshRecord) stored(now time.Time, rotation int32) tokencache.Token {
	keep := r.expires
	if keep.IsZero() {
		keep = now.Add(refreshLifetime)
	}
	st := tokencache.Token{Value: r.token, Type: "refresh", Expiry: keep, Extra: map[string]any{
		grantKey: float64(r.gen.grant), generationKey: float64(r.gen.n)}}
	if !r.expires.IsZero() {
		st.Extra[refreshExpiresAt] = float64(r.expires.Unix())
	}
	if r.refused {
		st.Extra[refusedKey] = true
	}
	switch rotation {
	case rotationKeeps:
		st.Extra[serverKeeps] = true
	case rotationRotates:
		st.Extra[serverRotates] = true
	}
	return st
}

// recordOf reads a record the store kept.
func recordOf(st tokencache.Token) refreshRecord {
	r := refreshRecord{token: st.Value, gen: generationOf(st.Extra)}
	if exp, ok := st.Extra[refreshExpiresAt].(float64); ok && exp > 0 {
		r.expires = time.Unix(int64(exp), 0)
	}
	r.refused, _ = st.Extra[refusedKey].(bool)
	return r
}

// carried is the record an access token carries: its refresh token and generation.
func carried(tok tokencache.Token) (refreshRecord, bool) {
	if tok.RefreshToken == "" {
		return refreshRecord{}, false
	}
	r := refreshRecord{token: tok.RefreshToken, gen: generationOf(tok.Extra)}
	r.expires, _ = RefreshTokenExpiry(tok)
	return r, true
}

// generationOf reads a generation from a token's Extra (numbers come back from JSON as
// float64: exact below 2^53, which Unix microseconds stay under until 2255; nanoseconds
// would not, and a grant read back rounded up would outrank its own renewals).
func generationOf(extra map[string]any) generation {
	g, _ := extra[grantKey].(float64)
	n, _ := extra[generationKey].(float64)
	return generation{grant: int64(g), n: uint64(n)}
}

// carry puts rec's refresh token and generation on the access token tok.
func carry(tok tokencache.Token, rec refreshRecord) tokencache.Token {
	tok.RefreshToken = rec.token
	tok.Extra = withExtra(tok.Extra, grantKey, float64(rec.gen.grant))
	tok.Extra = withExtra(tok.Extra, generationKey, float64(rec.gen.n))
	if _, ok := RefreshTokenExpiry(tok); !ok && !rec.expires.IsZero() {
		tok.Extra = withExtra(tok.Extra, refreshExpiresAt, float64(rec.expires.Unix()))
	}
	return tok
}

// consentLocks keeps a consent's renewals and new grants apart within the process (the
// store's lock keeps them apart across the fleet): striped, so that it is bounded whatever
// the number of consents.
type consentLocks [64]sync.Mutex

func (l *consentLocks) of(id string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(id))
	return &l[h.Sum32()%uint32(len(l))]
}

// newest is the consent's newest refresh record: this process's, the one its cached access
// token or the access token this renewal replaces carries (tokencache.Previous: one a 401
// dropped, perhaps adopted from the store), the store's record and the one the store's
// access token carries, the newest generation winning. A store found older than what this process holds (a failed save, a
// failover that lost the last write) gets the newest written back. A store that does not
// answer is an error (ErrConsentRenewalNeedsStore) unless the server is known not to rotate;
// a record the store lost while the server is known to rotate is ErrRefreshRecordLost. The
// renewal lock is held.
func (t *Transport) newest(ctx context.Context, id string) (refreshRecord, error) {
	rec := t.localRefresh(id)
	if prev, ok := tokencache.Previous(ctx); ok { // the access token this renewal replaces (a 401 dropped it)
		if c, ok := carried(prev); ok && c.gen.after(rec.gen) {
			rec = c
		}
	}
	if t.store == nil {
		return rec, nil
	}
	st, ok, err := t.store.Load(ctx, refreshKey(id))
	if err != nil {
		if t.rotation.Load() != rotationKeeps {
			return refreshRecord{}, fmt.Errorf("%w (consent %s): %w", ErrConsentRenewalNeedsStore, id, err)
		}
		t.log.Warn("finauth: revolut: the shared store did not answer for a consent's refresh token; renewing with this process's", "error", err)
		return rec, nil
	}
	if shared := t.bearer.Store(); shared != nil {
		if at, ok, err := shared.Load(ctx, consentCacheKey(id)); err == nil && ok {
			if c, ok := carried(at); ok && c.gen.after(rec.gen) {
				rec = c
			}
		}
	}
	if ok && st.Value != "" {
		t.learnRotation(st)
		stored := recordOf(st)
		if !rec.gen.after(stored.gen) {
			t.remember(id, stored)
			return stored, nil
		}
		t.log.Warn("finauth: revolut: the shared store held an older refresh token of a consent than this process has seen (a failed save, or a failover that lost the last write): writing the newest back")
	} else if rec.token != "" && t.rotation.Load() == rotationRotates {
		return refreshRecord{}, fmt.Errorf("%w (consent %s)", ErrRefreshRecordLost, id)
	}
	if rec.token != "" {
		t.save(ctx, id, rec)
	}
	return rec, nil
}

// localRefresh is this process's newest record of the consent: the one it kept, or the one
// its cached access token carries, whichever is newer.
func (t *Transport) localRefresh(id string) refreshRecord {
	t.mu.Lock()
	rec, ok := t.refresh[id]
	t.mu.Unlock()
	if cur, found := t.bearer.Cache().Peek(consentCacheKey(id)); found {
		if c, has := carried(cur); has && (!ok || c.gen.after(rec.gen)) {
			rec = c
		}
	}
	return rec
}

// keep makes rec the consent's record, in this process and in the shared store, where no
// 401 of an access token can take it; the renewal lock is held.
func (t *Transport) keep(ctx context.Context, id string, rec refreshRecord) {
	t.remember(id, rec)
	t.warnNearExpiry(id, rec.expires)
	t.save(ctx, id, rec)
}

// remember keeps rec in this process unless it holds a newer one. Every consent's record is
// kept (a Transport without a store holds the only copy of each: none is ever dropped);
// ForgetConsent drops one.
func (t *Transport) remember(id string, rec refreshRecord) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.refresh[id]; ok && old.gen.after(rec.gen) {
		return
	}
	if _, ok := t.refresh[id]; !ok && len(t.refresh) == manyConsents && t.store == nil {
		t.log.Warn("finauth: revolut: this process holds the only copy of many consents' refresh tokens (no shared store): a restart loses them all; use a shared store (redisstore) and ForgetConsent for consents you are done with", "consents", manyConsents)
	}
	t.refresh[id] = rec
}

// manyConsents is the count of consents held without a store past which a warning is logged
// (once): their refresh tokens are kept all the same.
const manyConsents = 10_000

// saveAttempts bounds the saves of a record: the renewal lock is held meanwhile, so that a
// rotated refresh token reaches the store before another replica may renew.
const saveAttempts = 3

// save writes rec to the shared store, tried again (within ctx) when it fails: a record the
// store lacks makes the other replicas renew with an older refresh token. A save that keeps
// failing is logged; this process still holds the token, and writes it back at its next
// renewal.
func (t *Transport) save(ctx context.Context, id string, rec refreshRecord) {
	if t.store == nil {
		return
	}
	var err error
	for attempt := range saveAttempts {
		if err = t.store.Save(ctx, refreshKey(id), rec.stored(t.now(), t.rotation.Load())); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			attempt = saveAttempts
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
	t.log.Error("finauth: revolut: the shared store did not keep a consent's refresh token: this process holds it, and writes it back at its next renewal", "error", err)
}

// ForgetConsent drops everything this Transport and the shared store hold of consentID:
// its refresh token and its access token. For consents you are done with (the user withdrew
// it, or it was authorised again under a new ID): refresh tokens are otherwise kept for as
// long as they live.
func (t *Transport) ForgetConsent(ctx context.Context, consentID string) error {
	l := t.locks.of(consentID)
	l.Lock()
	defer l.Unlock()
	t.mu.Lock()
	delete(t.refresh, consentID)
	t.mu.Unlock()
	var errs []error
	if cur, ok := t.bearer.Cache().Peek(consentCacheKey(consentID)); ok {
		t.bearer.Cache().Invalidate(consentCacheKey(consentID), cur.Value)
		if shared := t.bearer.Store(); shared != nil {
			errs = append(errs, shared.Delete(ctx, consentCacheKey(consentID), cur.Value))
		}
	}
	if t.store != nil {
		// The store deletes a value it is shown (compare and delete): read it first.
		st, ok, err := t.store.Load(ctx, refreshKey(consentID))
		errs = append(errs, err)
		if ok {
			errs = append(errs, t.store.Delete(ctx, refreshKey(consentID), st.Value))
		}
	}
	return errors.Join(errs...)
}
