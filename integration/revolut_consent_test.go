package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/testwait"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/tokencache"
)

// authorisedAccounts creates an accounts consent with tr, has the user authorise it, and
// exchanges the code with tr: the consent's ID, its user tokens held by tr (and its store).
func authorisedAccounts(t *testing.T, m *revolutmock.Server, tr *revolut.Transport) string {
	t.Helper()
	ctx := context.Background()
	_, ans := postJSON(t, ctx, &http.Client{Transport: tr}, m.URL+revolutmock.AccountConsentsPath, map[string]any{"Data": map[string]any{"Permissions": []string{"ReadAccountsBasic"}}})
	id := consentID(t, ans)
	link, err := tr.Signer().AuthorizationURL(id, "accounts", "")
	if err != nil {
		t.Fatal(err)
	}
	back, err := m.PKI.Authorise(link)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ExchangeCode(ctx, id, back.Query().Get("code")); err != nil {
		t.Fatal(err)
	}
	return id
}

// readAccounts reads the consent's account data: nil when the API answered 200.
func readAccounts(ctx context.Context, tr http.RoundTripper, base, consent string) error {
	req, _ := http.NewRequestWithContext(revolut.WithConsent(ctx, consent), http.MethodGet, base+revolutmock.AccountsPath, nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /accounts: %d", resp.StatusCode)
	}
	return nil
}

// replicas returns n transports sharing store.
func revolutReplicas(t *testing.T, cfg revolut.Config, store tokencache.Store, n int, opts ...revolut.Option) []*revolut.Transport {
	t.Helper()
	out := make([]*revolut.Transport, n)
	for i := range out {
		tr, err := revolut.NewTransport(cfg, append([]revolut.Option{revolut.WithTokenStore(store), revolut.WithRetries(3, time.Millisecond, 10*time.Millisecond)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		out[i] = tr
	}
	return out
}

// hammer has every replica read the consent's accounts for d (at most 2,000 reads each) and
// returns the reads and the failed ones' first error.
func hammer(replicas []*revolut.Transport, base, consent string, d time.Duration) (reads, failed int64, first error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var nReads, nFailed atomic.Int64
	end := time.Now().Add(d)
	for _, tr := range replicas {
		for range 2 {
			wg.Go(func() {
				for i := 0; i < 1000 && time.Now().Before(end); i++ {
					nReads.Add(1)
					if err := readAccounts(context.Background(), tr, base, consent); err != nil {
						nFailed.Add(1)
						mu.Lock()
						if first == nil {
							first = err
						}
						mu.Unlock()
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
		}
	}
	wg.Wait()
	return nReads.Load(), nFailed.Load(), first
}

// Six replicas share a store and read one consent's accounts for 6 s while its access token
// lives 2 s: one replica at a time renews the consent, each renewal's refresh token stored
// before anyone uses its access token, so that a server rotating refresh tokens (which
// revokes the consent when one is presented twice) and one that does not alike see each
// refresh token once, and no read fails.
func TestRevolut_ReplicasRenewAConsentOneAtATime(t *testing.T) {
	t.Parallel()
	for _, rotate := range []bool{true, false} {
		t.Run(fmt.Sprintf("rotating=%v", rotate), func(t *testing.T) {
			t.Parallel()
			m, cfg := revolutSetupWith(t, func(c *revolutmock.Config) {
				c.RotateRefreshTokens, c.RefreshDelay, c.TokenLifetime = rotate, 100*time.Millisecond, 2*time.Second
			})
			store := tokencache.NewMemoryStore(nil, 0)
			replicas := revolutReplicas(t, cfg, store, 6)
			id := authorisedAccounts(t, m, replicas[0])
			const d = 6 * time.Second
			reads, failed, first := hammer(replicas, m.URL, id, d)
			st := m.Stats()
			t.Logf("%d reads, %d failed; %d renewals for 6 replicas over %v of 2 s tokens; %d refresh tokens reused", reads, failed, st.Tokens["refresh_token"], d, st.RefreshReuses)
			if failed != 0 {
				t.Fatalf("%d of %d reads failed, the first: %v", failed, reads, first)
			}
			if st.RefreshReuses != 0 {
				t.Fatalf("%d refresh tokens presented twice", st.RefreshReuses)
			}
			// A 2 s token turns stale (renewed ahead) 0.6 s to 0.64 s after it is issued: about
			// 9 renewals in 6 s for the fleet, where the replicas renewing on their own would
			// make 54.
			if n := st.Tokens["refresh_token"]; n < 2 || n > 12 {
				t.Fatalf("%d renewals in %v: want the fleet's one per stale token, about 9", n, d)
			}
			if err := readAccounts(context.Background(), revolutReplicas(t, cfg, store, 1)[0], m.URL, id); err != nil {
				t.Fatalf("a replica started afterwards: %v", err)
			}
		})
	}
}

// lockless is a shared store whose locks fail while down is set (the store answers loads
// and saves, but its lock commands time out): no replica can know whether another is
// renewing.
type lockless struct {
	tokencache.FleetStore
	down atomic.Bool
	// keeps is set once a saved refresh record says the server does not rotate refresh
	// tokens (what a replica that has not renewed learns from).
	keeps atomic.Bool
}

func (s *lockless) Save(ctx context.Context, key string, tok tokencache.Token) error {
	err := s.FleetStore.Save(ctx, key, tok)
	if k, _ := tok.Extra["finauth_server_keeps_refresh_tokens"].(bool); k && err == nil {
		s.keeps.Store(true)
	}
	return err
}

var errLockTimeout = errors.New("i/o timeout (test)")

func (s *lockless) Lock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	if s.down.Load() {
		return nil, false, errLockTimeout
	}
	return s.FleetStore.Lock(ctx, key, ttl)
}

func (s *lockless) Await(ctx context.Context, key string) error {
	if s.down.Load() {
		return errLockTimeout
	}
	return s.FleetStore.Await(ctx, key)
}

// A store whose locks fail leaves no replica sure that it renews alone. Against a server
// that rotates refresh tokens the replicas then do not renew (the reads fail with
// revolut.ErrConsentRenewalNeedsStore once the access token has expired, rather than burn the
// consent by presenting one refresh token twice) and renew again once the store answers;
// against a server known not to rotate, they renew without the lock and every read works.
func TestRevolut_ReplicasDoNotRenewARotatingConsentWithoutTheStoresLock(t *testing.T) {
	t.Parallel()
	for _, rotate := range []bool{true, false} {
		t.Run(fmt.Sprintf("rotating=%v", rotate), func(t *testing.T) {
			t.Parallel()
			m, cfg := revolutSetupWith(t, func(c *revolutmock.Config) {
				c.RotateRefreshTokens, c.RefreshDelay, c.TokenLifetime = rotate, 100*time.Millisecond, 2*time.Second
			})
			store := &lockless{FleetStore: tokencache.NewMemoryStore(nil, 0)}
			replicas := revolutReplicas(t, cfg, store, 4)
			id := authorisedAccounts(t, m, replicas[0])
			// One renewal with the store up: the replicas learn whether the server rotates.
			testwaitReads(t, replicas, m, id, 1)
			store.down.Store(true)
			reads, failed, first := hammer(replicas, m.URL, id, 4*time.Second)
			st := m.Stats()
			t.Logf("locks down: %d reads, %d failed (%v); %d renewals, %d reuses", reads, failed, first, st.Tokens["refresh_token"], st.RefreshReuses)
			if st.RefreshReuses != 0 {
				t.Fatalf("%d refresh tokens presented twice while the store's locks failed", st.RefreshReuses)
			}
			if rotate {
				if failed == 0 || !errors.Is(first, revolut.ErrConsentRenewalNeedsStore) {
					t.Fatalf("%d reads failed, the first with %v: want revolut.ErrConsentRenewalNeedsStore once the 2 s token expired", failed, first)
				}
			} else if failed != 0 {
				t.Fatalf("%d reads failed against a server that does not rotate, the first: %v", failed, first)
			}
			store.down.Store(false)
			for i, tr := range replicas {
				waitRead(t, tr, m.URL, id, fmt.Sprintf("replica %d once the store answers", i))
			}
			if st := m.Stats(); st.RefreshReuses != 0 {
				t.Fatalf("%d refresh tokens presented twice", st.RefreshReuses)
			}
		})
	}
}

// testwaitReads reads until the mock has made n renewals (bounded).
func testwaitReads(t *testing.T, replicas []*revolut.Transport, m *revolutmock.Server, id string, n int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); m.Stats().Tokens["refresh_token"] < n; {
		if time.Now().After(end) {
			t.Fatalf("no renewal in 10 s: %+v", m.Stats())
		}
		for _, tr := range replicas {
			if err := readAccounts(context.Background(), tr, m.URL, id); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRead reads until a read succeeds (the cache retries a failed renewal after a backoff),
// for at most 10 s.
func waitRead(t *testing.T, tr *revolut.Transport, base, id, who string) {
	t.Helper()
	var err error
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if err = readAccounts(context.Background(), tr, base, id); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", who, err)
}

// A consent whose refresh token has expired, or that the user withdrew (invalid_grant), fails
// with revolut.ErrConsentExpired, saying the user must authorise it again; one whose refresh
// token expires within the warning period is logged once, and its expiry is known.
func TestRevolut_AConsentNearItsEndIsWarnedAndAnExpiredOneSaysAuthoriseAgain(t *testing.T) {
	t.Parallel()
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		m, cfg := revolutSetupWith(t, func(c *revolutmock.Config) { c.RefreshTokenLifetime = 2 * time.Second })
		tr, _ := newRevolut(t, cfg)
		id := authorisedAccounts(t, m, tr)
		exp, ok := tr.ConsentExpiry(context.Background(), id)
		if !ok || time.Until(exp) > 3*time.Second {
			t.Fatalf("ConsentExpiry = %v, %v: want about 2 s from now", exp, ok)
		}
		time.Sleep(time.Until(exp) + 100*time.Millisecond)
		m.Fail401(1) // the access token (valid for an hour) is rejected: a renewal is needed
		err := readAccounts(context.Background(), tr, m.URL, id)
		if !errors.Is(err, revolut.ErrConsentExpired) || !strings.Contains(err.Error(), "authorise it again") {
			t.Fatalf("renewal past the refresh token's expiry: %v", err)
		}
		if n := m.Stats().Tokens["refresh_token"]; n != 0 {
			t.Fatalf("%d renewals with an expired refresh token: want none sent", n)
		}
	})
	t.Run("withdrawn", func(t *testing.T) {
		t.Parallel()
		m, cfg := revolutSetup(t)
		tr, _ := newRevolut(t, cfg)
		id := authorisedAccounts(t, m, tr)
		m.RevokeRefreshTokens(id)
		m.Fail401(1)
		err := readAccounts(context.Background(), tr, m.URL, id)
		var te *client.TokenEndpointError
		if !errors.Is(err, revolut.ErrConsentExpired) || !errors.As(err, &te) || te.Code != "invalid_grant" {
			t.Fatalf("renewal refused with invalid_grant: %v", err)
		}
	})
	t.Run("near its end", func(t *testing.T) {
		t.Parallel()
		m, cfg := revolutSetupWith(t, func(c *revolutmock.Config) {
			c.RefreshTokenLifetime, c.TokenLifetime = 3*24*time.Hour, 2*time.Second
		})
		var logs syncBuffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		tr, err := revolut.NewTransport(cfg, revolut.WithLogger(log), revolut.WithRetries(3, time.Millisecond, 10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		id := authorisedAccounts(t, m, tr)
		testwaitReads(t, []*revolut.Transport{tr}, m, id, 2) // renewed twice: warned once
		if n := strings.Count(logs.String(), "expires soon"); n != 1 {
			t.Fatalf("warned %d times: want once\n%s", n, logs.String())
		}
		if exp, ok := tr.ConsentExpiry(context.Background(), id); !ok || time.Until(exp) < 71*time.Hour || time.Until(exp) > 72*time.Hour {
			t.Fatalf("ConsentExpiry = %v, %v: want 3 days from the authorisation", exp, ok)
		}
		if strings.Contains(logs.String(), "rt_") || strings.Contains(logs.String(), "oa_") {
			t.Fatalf("a token in the log:\n%s", logs.String())
		}
		// A shorter warning period: nothing logged.
		var quiet syncBuffer
		tr2, err := revolut.NewTransport(cfg, revolut.WithLogger(slog.New(slog.NewTextHandler(&quiet, nil))), revolut.WithConsentExpiryWarning(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr2.Close() })
		authorisedAccounts(t, m, tr2)
		if strings.Contains(quiet.String(), "expires soon") {
			t.Fatalf("warned 3 days ahead with a 1-day warning period:\n%s", quiet.String())
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A replica that has never renewed the consent itself learns from the stored refresh token
// that another replica's renewal showed the server does not rotate: with the store's locks
// failing it then renews without the lock instead of refusing (it refused before, and
// TestRevolut_ReplicasDoNotRenewARotatingConsentWithoutTheStoresLock/rotating=false failed
// whenever such a replica's token expired first).
func TestRevolut_AReplicaLearnsFromTheStoreThatTheServerDoesNotRotate(t *testing.T) {
	t.Parallel()
	// Tokens of 3 s (2 s before: on a loaded machine a renewal once took longer than the
	// token lived, "the fetch returned a token that has already expired").
	m, cfg := revolutSetupWith(t, func(c *revolutmock.Config) {
		c.RotateRefreshTokens, c.RefreshDelay, c.TokenLifetime = false, 100*time.Millisecond, 3*time.Second
	})
	store := &lockless{FleetStore: tokencache.NewMemoryStore(nil, 0)}
	replicas := revolutReplicas(t, cfg, store, 2)
	id := authorisedAccounts(t, m, replicas[0])
	testwaitReads(t, replicas[:1], m, id, 1) // replica 0 renews: it knows
	// The mock counts the renewal when it answers; replica 0 stores what it learnt a moment
	// later. Taking the locks away before that left replica 1 nothing to learn from (seen
	// once in a full run: 74 of 80 reads failed with ErrConsentRenewalNeedsStore).
	testwait.Eventually(t, "replica 0 stores the record marked: the server keeps refresh tokens", store.keeps.Load)
	store.down.Store(true)
	reads, failed, first := hammer(replicas[1:], m.URL, id, 4*time.Second) // replica 1's token expires meanwhile
	if st := m.Stats(); failed != 0 || st.RefreshReuses != 0 || st.Tokens["refresh_token"] < 2 {
		t.Fatalf("%d of %d reads failed, the first: %v; %d renewals, %d reuses", failed, reads, first, st.Tokens["refresh_token"], st.RefreshReuses)
	}
}
