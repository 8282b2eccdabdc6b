package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/tokencache"
)

// Issue 31 (2): a replica never presents a refresh token the server already rotated, whatever
// the shared store does: a save that fails, a failover that loses the last write, a restart
// that empties it. Each test drives the renewals one at a time (a 401 aimed at one replica's
// request) against the strict mock with rotation on, which counts a retired refresh token
// presented again (RefreshReuses) and then revokes the consent, as a server detecting reuse
// does.

// faultyStore is a shared store that can fail the saves of refresh records, roll back to a
// snapshot (a failover to a replica that missed the last writes) and restart empty.
type faultyStore struct {
	mu        sync.Mutex
	s         *tokencache.MemoryStore
	failSaves int // the next saves of refresh records to fail
	snapshot  map[string]tokencache.Token
	keys      map[string]bool
}

func newFaultyStore() *faultyStore {
	return &faultyStore{s: tokencache.NewMemoryStore(nil, 0), keys: map[string]bool{}}
}

func (f *faultyStore) store() *tokencache.MemoryStore {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

func (f *faultyStore) Load(ctx context.Context, key string) (tokencache.Token, bool, error) {
	return f.store().Load(ctx, key)
}

func (f *faultyStore) Save(ctx context.Context, key string, tok tokencache.Token) error {
	f.mu.Lock()
	f.keys[key] = true
	if f.failSaves > 0 && strings.Contains(key, "refresh:") {
		f.failSaves--
		f.mu.Unlock()
		return errors.New("i/o timeout (test)")
	}
	f.mu.Unlock()
	return f.store().Save(ctx, key, tok)
}

func (f *faultyStore) Delete(ctx context.Context, key, rejected string) error {
	return f.store().Delete(ctx, key, rejected)
}

func (f *faultyStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	return f.store().Lock(ctx, key, ttl)
}

func (f *faultyStore) Await(ctx context.Context, key string) error { return f.store().Await(ctx, key) }

func (f *faultyStore) failNextRefreshSaves(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failSaves = n
}

// snap remembers every value; rollBack puts them back, as a replica promoted before it got
// the writes since.
func (f *faultyStore) snap() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snapshot = map[string]tokencache.Token{}
	for k := range f.keys {
		if tok, ok, _ := f.s.Load(context.Background(), k); ok {
			f.snapshot[k] = tok
		}
	}
}

func (f *faultyStore) rollBack() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.s = tokencache.NewMemoryStore(nil, 0)
	for k, tok := range f.snapshot {
		f.s.Save(context.Background(), k, tok)
	}
}

// restartEmpty empties the store, as Redis restarted without persistence.
func (f *faultyStore) restartEmpty() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.s = tokencache.NewMemoryStore(nil, 0)
}

// custodySetup is the rotating mock, a faulty store and n replicas over it whose every 401
// refreshes (no refresh interval), and an authorised consent.
type custody struct {
	m     *revolutmock.Server
	cfg   revolut.Config
	store *faultyStore
	r     []*revolut.Transport
	id    string
}

func custodySetup(t *testing.T, n int) custody {
	t.Helper()
	m, cfg := revolutSetupWith(t, func(c *revolutmock.Config) { c.RotateRefreshTokens = true })
	store := newFaultyStore()
	replicas := revolutReplicas(t, cfg, store, n, revolut.WithRefreshInterval(-1))
	return custody{m, cfg, store, replicas, authorisedAccounts(t, m, replicas[0])}
}

// replica starts one more replica over the store.
func (c custody) replica(t *testing.T) *revolut.Transport {
	return revolutReplicas(t, c.cfg, c.store, 1, revolut.WithRefreshInterval(-1))[0]
}

// renewBy makes tr's next request be refused with a 401, so that tr renews the consent.
func renewBy(t *testing.T, m *revolutmock.Server, tr *revolut.Transport, id string) error {
	t.Helper()
	if err := readAccounts(context.Background(), tr, m.URL, id); err != nil { // its token, cached
		return fmt.Errorf("before the 401: %w", err)
	}
	m.Fail401(1)
	return readAccounts(context.Background(), tr, m.URL, id)
}

func noReuse(t *testing.T, m *revolutmock.Server, what string) {
	t.Helper()
	if st := m.Stats(); st.RefreshReuses != 0 {
		t.Fatalf("%s: %d refresh tokens presented after the server rotated them (the consent is revoked): %+v", what, st.RefreshReuses, st)
	}
}

// (a) The save of a rotated refresh token fails (a Redis timeout, only logged): the replica
// that renewed holds a newer generation than the store, and every replica's next renewal
// finds it (the renewer's own record, the access token the store holds), never the retired
// one the store kept. A single failure is retried under the lock before it is released.
func TestRevolut_ARefreshTokenWhoseSaveFailedIsNotPresentedRetired(t *testing.T) {
	t.Parallel()
	t.Run("every attempt fails", func(t *testing.T) {
		t.Parallel()
		c := custodySetup(t, 2)
		m, store, r, id := c.m, c.store, c.r, c.id
		store.failNextRefreshSaves(100)
		if err := renewBy(t, m, r[0], id); err != nil {
			t.Fatal(err)
		}
		store.failNextRefreshSaves(0)
		for i, tr := range []*revolut.Transport{r[1], r[0], r[1]} {
			if err := renewBy(t, m, tr, id); err != nil {
				t.Fatalf("renewal %d: %v", i+2, err)
			}
		}
		noReuse(t, m, "after a refresh token's save failed")
		if n := m.Stats().Tokens["refresh_token"]; n < 3 {
			t.Fatalf("%d renewals, want at least 3", n)
		}
	})
	t.Run("one attempt fails", func(t *testing.T) {
		t.Parallel()
		c := custodySetup(t, 2)
		m, store, r, id := c.m, c.store, c.r, c.id
		store.failNextRefreshSaves(1)
		if err := renewBy(t, m, r[0], id); err != nil {
			t.Fatal(err)
		}
		store.mu.Lock()
		left := store.failSaves
		store.mu.Unlock()
		if left != 0 {
			t.Fatal("the failing save was not tried")
		}
		// A replica started now has nothing but the store: the save was tried again.
		fresh := c.replica(t)
		if err := renewBy(t, m, fresh, id); err != nil {
			t.Fatal(err)
		}
		noReuse(t, m, "after one failed save")
	})
}

// (b) A failover loses the last write: the store's record rolls back to a refresh token the
// server has rotated. The replica that renewed holds the newer generation and writes it back.
func TestRevolut_AStoreRolledBackByAFailoverIsWrittenBackNotBelieved(t *testing.T) {
	t.Parallel()
	c := custodySetup(t, 1)
	m, store, r, id := c.m, c.store, c.r, c.id
	store.snap()
	if err := renewBy(t, m, r[0], id); err != nil {
		t.Fatal(err)
	}
	store.rollBack() // the record and the access token as they were before that renewal
	for i := range 2 {
		if err := renewBy(t, m, r[0], id); err != nil {
			t.Fatalf("renewal %d after the rollback: %v", i+1, err)
		}
	}
	noReuse(t, m, "after the store rolled back")
	// The store has the newest again: a replica started now renews with it.
	fresh := c.replica(t)
	if err := renewBy(t, m, fresh, id); err != nil {
		t.Fatal(err)
	}
	noReuse(t, m, "a replica started after the write-back")
}

// (c) Redis restarts empty: a replica that has seen the server rotate does not present its
// own refresh token, which another replica may have used since: it refuses the renewal with
// revolut.ErrRefreshRecordLost and presents nothing.
func TestRevolut_AStoreRestartedEmptyIsNoReasonToGuess(t *testing.T) {
	t.Parallel()
	c := custodySetup(t, 2)
	m, store, r, id := c.m, c.store, c.r, c.id
	if err := renewBy(t, m, r[1], id); err != nil { // r1 renews: RT0 -> RT1; it has seen rotation
		t.Fatal(err)
	}
	if err := renewBy(t, m, r[0], id); err != nil { // r0 adopts r1's access token, and on its 401 renews: RT1 -> RT2
		t.Fatal(err)
	}
	if err := renewBy(t, m, r[0], id); err != nil {
		t.Fatal(err)
	}
	before := m.Stats().Tokens["refresh_token"]
	store.restartEmpty()
	err := renewBy(t, m, r[1], id) // r1 holds RT1, retired twice over
	if !errors.Is(err, revolut.ErrRefreshRecordLost) {
		t.Fatalf("r1's renewal after the store lost the record: %v, want ErrRefreshRecordLost", err)
	}
	noReuse(t, m, "after the store restarted empty")
	if after := m.Stats().Tokens["refresh_token"]; after != before {
		t.Fatalf("%d renewals after the restart, want none", after-before)
	}
}

// Issue 31 (9): a consent the server refuses to renew (invalid_grant) is remembered dead, in
// the store and in the process: no replica presents its refresh token again, every request
// says so at once, until a new grant arrives.
func TestRevolut_ADeadConsentIsNotPresentedAgain(t *testing.T) {
	t.Parallel()
	c := custodySetup(t, 2)
	m, r, id := c.m, c.r, c.id
	m.RevokeRefreshTokens(id)
	if err := renewBy(t, m, r[0], id); !errors.Is(err, revolut.ErrConsentExpired) {
		t.Fatalf("the first renewal of a revoked consent: %v", err)
	}
	refused := m.Stats().Rejections[revolutmock.ReasonRefreshToken]
	for _, tr := range []*revolut.Transport{r[0], r[1], r[0], r[1]} {
		m.Fail401(1)
		if err := readAccounts(context.Background(), tr, m.URL, id); !errors.Is(err, revolut.ErrConsentExpired) {
			t.Fatalf("a request of the dead consent: %v", err)
		}
		time.Sleep(1100 * time.Millisecond) // past the cache's negative TTL: each one asks anew
	}
	if n := m.Stats().Rejections[revolutmock.ReasonRefreshToken]; n != refused || refused != 1 {
		t.Fatalf("the dead consent's refresh token was presented %d times, want once", n)
	}
}

// Issue 31 (7): an authorization code of another consent (an attacker's authorisation, or a
// mix-up of state) is not filed under the consent given: the id_token's openbanking_intent_id
// names the consent the code is for, and a mismatch is ErrConsentMismatch.
func TestRevolut_ACodeForAnotherConsentIsRefused(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetup(t)
	tr, hc := newRevolut(t, cfg)
	ctx := context.Background()
	victim := consentID(t, mustPost(t, ctx, hc, m.URL+revolutmock.AccountConsentsPath))
	attacker := consentID(t, mustPost(t, ctx, hc, m.URL+revolutmock.AccountConsentsPath))
	link, _ := tr.Signer().AuthorizationURL(attacker, "accounts", "")
	back, err := m.PKI.Authorise(link)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.ExchangeCode(ctx, victim, back.Query().Get("code"))
	if !errors.Is(err, revolut.ErrConsentMismatch) || !strings.Contains(err.Error(), attacker) {
		t.Fatalf("a code of consent %s filed under %s: %v", attacker, victim, err)
	}
	if err := readAccounts(ctx, tr, m.URL, victim); !errors.Is(err, revolut.ErrNoUserToken) {
		t.Fatalf("the victim's consent after the refused exchange: %v, want no user token", err)
	}
}

func mustPost(t *testing.T, ctx context.Context, hc *http.Client, u string) map[string]any {
	t.Helper()
	status, ans := postJSON(t, ctx, hc, u, map[string]any{"Data": map[string]any{"Permissions": []string{"ReadAccountsBasic"}}})
	if status != http.StatusCreated {
		t.Fatalf("POST %s: %d %v", u, status, ans)
	}
	return ans
}

// Issue 31 (8): without a shared store, a Transport holds the only copy of each consent's
// refresh token: past 10,000 consents none is dropped (67 of the 600 oldest of 10,500 could
// no longer renew, with a misleading "exchange the authorization code first").
func TestRevolut_NoRefreshTokenIsDroppedWithoutAStore(t *testing.T) {
	t.Parallel()
	m, cfg := revolutSetupWith(t, func(c *revolutmock.Config) { c.RotateRefreshTokens = true })
	tr, _ := newRevolut(t, cfg)
	first := authorisedAccounts(t, m, tr) // the oldest: renewable at the mock
	until := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10_500 {
		tok := tokencache.Token{Value: fmt.Sprintf("at-%d", i), RefreshToken: fmt.Sprintf("rt-%d", i), Expiry: time.Now().Add(time.Hour),
			Extra: map[string]any{"refresh_token_expires_at": float64(until.Unix())}}
		if err := tr.SetUserToken(fmt.Sprintf("consent-%05d", i), tok); err != nil {
			t.Fatal(err)
		}
	}
	lost := 0
	for i := range 600 {
		if exp, ok := tr.ConsentExpiry(context.Background(), fmt.Sprintf("consent-%05d", i)); !ok || !exp.Equal(until) {
			lost++
		}
	}
	if lost != 0 {
		t.Fatalf("%d of the 600 oldest consents' refresh tokens are gone", lost)
	}
	if err := renewBy(t, m, tr, first); err != nil {
		t.Fatalf("the oldest consent, behind 10,500 others: %v", err)
	}
	noReuse(t, m, "the oldest consent")
}

// A new grant filed while a renewal of the consent is in flight (here or on another replica)
// waits for it: the renewal's successor record, of the older grant, never overwrites the new
// one, whatever order the two finish in.
func TestRevolut_ANewGrantDuringARenewalWins(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	m, cfg := revolutSetupWith(t, func(c *revolutmock.Config) {
		c.RotateRefreshTokens, c.RefreshDelay = true, 300*time.Millisecond
		c.OnRefresh = func(string) {
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
	})
	store := tokencache.NewMemoryStore(nil, 0)
	r := revolutReplicas(t, cfg, store, 2, revolut.WithRefreshInterval(-1))
	id := authorisedAccounts(t, m, r[0])
	renewed := make(chan error, 1)
	go func() { renewed <- renewBy(t, m, r[0], id) }()
	<-arrived // r0's refresh grant is at the server
	until := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	fresh := tokencache.Token{Value: "at-new-grant", RefreshToken: "rt-new-grant", Expiry: time.Now().Add(time.Hour),
		Extra: map[string]any{"refresh_token_expires_at": float64(until.Unix())}}
	if err := r[1].SetUserToken(id, fresh); err != nil { // another replica files a new grant
		t.Fatal(err)
	}
	if err := <-renewed; err != nil {
		t.Fatal(err)
	}
	for i, tr := range append(r, revolutReplicas(t, cfg, store, 1)...) {
		if exp, ok := tr.ConsentExpiry(context.Background(), id); !ok || !exp.Equal(until) {
			t.Errorf("replica %d: the consent's refresh token expires %v (%v): the renewal of the older grant overwrote the new one", i, exp, ok)
		}
	}
}
