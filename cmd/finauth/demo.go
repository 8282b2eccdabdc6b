package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/integration/miamock"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/signer"
)

// demoResult is what finauth demo --json prints.
type demoResult struct {
	DurationS float64 `json:"duration_s"`
	Pismo     struct {
		Requests           int `json:"requests"`
		OK                 int `json:"ok"`
		Exchanges          int `json:"token_exchanges"`
		RefreshedAhead     int `json:"refreshed_ahead"`
		Revoked            int `json:"tokens_revoked"`
		RejectedByAPI      int `json:"api_401"`
		Replays            int `json:"replayed_after_401"`
		AccountsWithTokens int `json:"account_tokens"`
		Waited             int `json:"callers_waited_for_a_token"`
	} `json:"pismo"`
	Soldo struct {
		Requests int `json:"requests"`
		OK       int `json:"ok"`
		Verified int `json:"signatures_verified"`
		Refused  int `json:"signatures_refused"`
	} `json:"soldo"`
	Mia struct {
		Requests      int `json:"requests"`
		OK            int `json:"ok"`
		TokenRequests int `json:"token_requests"`
		Revoked       int `json:"tokens_revoked"`
		Replays       int `json:"replayed_after_401"`
		Refused       int `json:"assertions_refused"`
	} `json:"mia"`
	Revolut  revolutDemo `json:"revolut"`
	Failures []string    `json:"failures"`
	AllOK    bool        `json:"all_ok"`
}

// demoTokenLifetime is how long the Pismo mock's tokens live in the demo: short, so that
// refreshes ahead of expiry happen while it runs.
const demoTokenLifetime = 3 * time.Second

// demoAccounts is how many Pismo accounts the demo's traffic uses.
const demoAccounts = 3

// demoMiaRevokeEvery: the Mia-Platform mock revokes the token of every this-many API uses.
const demoMiaRevokeEvery = 200

func (a *app) demo(args []string) error {
	fs := a.newFlags("demo", "demo [--json] [--duration 8s]")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	duration := fs.Duration("duration", 8*time.Second, "how long to run the traffic (at most 25s)")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	if *duration <= 0 || *duration > 25*time.Second {
		return usagef("--duration must be in (0, 25s]")
	}
	say := func(format string, args ...any) {
		if !*asJSON {
			fmt.Fprintf(a.stdout, format+"\n", args...)
		}
	}
	start := time.Now()
	say("finauth demo: strict Pismo, Soldo, Mia-Platform and Revolut mocks on loopback, throwaway keys, %v of traffic.", *duration)
	d, err := startDemo()
	if err != nil {
		return err
	}
	defer d.close()
	say("  Pismo mock %s: verifies every JWT (RS256, claims, expiry), issues tokens living %v.", d.pm.URL, demoTokenLifetime)
	say("  Soldo mock %s: verifies a detached ES256 signature over method, host, path, query and body.", d.sm.URL)
	say("  Mia-Platform mock %s: verifies every RS256 client assertion (iss, sub, aud, kid, exp, a jti never seen before) and revokes a token every %d uses.", d.mm.URL, demoMiaRevokeEvery)
	say("  Running 8 workers; at %v every Pismo token will be revoked.", *duration/2)
	res := d.run(*duration)
	say("  Then Revolut Open Banking over mutual TLS: a payment consent, its authorisation, the code exchange, %d payments.", demoRevolutPayments)
	res.Revolut = runRevolutDemo()
	if res.Revolut.Error != "" {
		res.Failures = append(res.Failures, "revolut: "+res.Revolut.Error)
		res.AllOK = false
	}
	res.DurationS = time.Since(start).Seconds()
	if *asJSON {
		if err := a.printJSON(res); err != nil {
			return err
		}
	} else {
		reportDemo(say, res)
	}
	if !res.AllOK {
		return &failure{"the demo saw failed requests"}
	}
	return nil
}

// demoRun is the demo's mocks and clients, and what its traffic saw.
type demoRun struct {
	pm                *pismomock.Server
	sm                *soldomock.Server
	mm                *miamock.Server
	pt                *pismo.Transport
	mt                *clientcredentials.Transport
	pismo, soldo, mia *http.Client

	mu                              sync.Mutex
	failures                        []string
	pReq, pOK, sReq, sOK, mReq, mOK atomic.Int64
}

// startDemo makes throwaway keys, starts both mocks and builds both clients.
func startDemo() (*demoRun, error) {
	pismoKey, err := signer.GenerateRSAKey(signer.RS256, 2048)
	if err != nil {
		return nil, err
	}
	soldoKey, err := signer.GenerateKey(signer.ES256)
	if err != nil {
		return nil, err
	}
	claims := pismo.Config{Issuer: "demo@tenant", Subject: "demo@tenant", Audience: "https://sandbox.pismolabs.io", TenantID: "demo-tenant", Group: "pismo-v2:demo:rw"}
	d := &demoRun{}
	d.pm, err = pismomock.NewServer(pismomock.Config{
		Keys: signer.NewKeySet(pismoKey.Public()), Issuer: claims.Issuer, Subject: claims.Subject,
		Audience: claims.Audience, TenantID: claims.TenantID, Group: claims.Group, TokenLifetime: demoTokenLifetime,
	})
	if err != nil {
		return nil, err
	}
	d.sm, err = soldomock.NewServer(soldomock.Config{Members: map[string][]*signer.PublicKey{"m:demo": {soldoKey.Public().WithKeyID("demo-key")}}})
	if err != nil {
		d.close()
		return nil, err
	}
	claims.TokenURL, claims.Key = d.pm.TokenURL(), pismoKey
	if d.pt, err = pismo.NewTransport(claims); err != nil {
		d.close()
		return nil, err
	}
	st, err := soldo.NewTransport(soldo.Config{APIURLs: []string{d.sm.URL}, Key: soldoKey, KeyID: "demo-key", MemberID: "m:demo"})
	if err != nil {
		d.close()
		return nil, err
	}
	d.pismo, d.soldo = &http.Client{Transport: d.pt}, &http.Client{Transport: st}
	if err := d.startMia(pismoKey); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// startMia starts the Mia-Platform mock with the demo's RSA key registered (as its public
// JWK) and builds the client-credentials client.
func (d *demoRun) startMia(key *signer.Key) error {
	const issuer, clientID, kid = "https://mia.example/issuer", "demo-service", "demo-mia-key"
	var err error
	if d.mm, err = miamock.NewServer(miamock.Config{Issuer: issuer}); err != nil {
		return err
	}
	jwk, err := json.Marshal(key.Public().WithKeyID(kid))
	if err != nil {
		return err
	}
	if err := d.mm.Register(clientID, jwk); err != nil {
		return err
	}
	d.mm.RevokeEvery(demoMiaRevokeEvery)
	if d.mt, err = clientcredentials.NewTransport(clientcredentials.Config{TokenURL: d.mm.TokenURL(), APIURLs: []string{d.mm.URL},
		ClientID: clientID, Key: key, KeyID: kid, Audience: issuer}); err != nil {
		return err
	}
	d.mia = &http.Client{Transport: d.mt}
	return nil
}

func (d *demoRun) close() {
	if d.pt != nil {
		d.pt.Close()
	}
	if d.mt != nil {
		d.mt.Close()
	}
	if d.mm != nil {
		d.mm.Close()
	}
	if d.sm != nil {
		d.sm.Close()
	}
	d.pm.Close()
}

// run sends the demo's traffic for duration with 8 workers, revoking every Pismo token
// half way, and returns what happened.
func (d *demoRun) run(duration time.Duration) demoResult {
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var g errgroup.Group
	var revoked int
	g.Go(func() error {
		select {
		case <-time.After(duration / 2):
			revoked = d.pm.RevokeAll()
		case <-ctx.Done():
		}
		return nil
	})
	for w := range 8 {
		g.Go(func() error {
			for i := 0; ctx.Err() == nil; i++ {
				d.request(w, i)
				time.Sleep(2 * time.Millisecond) // pacing: a service's traffic, not a flood
			}
			return nil
		})
	}
	g.Wait()
	return d.result(revoked)
}

// request sends worker w's i-th request: in turn a tenant-token GET, an account-token GET,
// a tenant-token POST, a signed Soldo POST and a Mia-Platform POST.
func (d *demoRun) request(w, i int) {
	body := []byte(fmt.Sprintf(`{"worker": %d, "n": %d, "amount": "10.00"}`, w, i))
	var req *http.Request
	switch (w + i) % 5 {
	case 0:
		req, _ = http.NewRequest(http.MethodGet, d.pm.URL+"/cards/v1/cards", nil)
		d.do(d.pismo, req, &d.pReq, &d.pOK)
	case 1:
		id := fmt.Sprintf("acct-%d", i%demoAccounts)
		req, _ = http.NewRequestWithContext(pismo.WithAccount(context.Background(), id), http.MethodGet, d.pm.URL+"/accounts/"+id+"/balance", nil)
		d.do(d.pismo, req, &d.pReq, &d.pOK)
	case 2:
		req, _ = http.NewRequest(http.MethodPost, d.pm.URL+"/payments/v1/payments", bytes.NewReader(body))
		d.do(d.pismo, req, &d.pReq, &d.pOK)
	case 3:
		req, _ = http.NewRequest(http.MethodPost, d.sm.URL+fmt.Sprintf("/banks/iron/consents?ref=%d-%d", w, i), bytes.NewReader(body))
		d.do(d.soldo, req, &d.sReq, &d.sOK)
	default:
		req, _ = http.NewRequest(http.MethodPost, d.mm.URL+"/orders", bytes.NewReader(body))
		d.do(d.mia, req, &d.mReq, &d.mOK)
	}
}

func (d *demoRun) do(hc *http.Client, req *http.Request, reqs, oks *atomic.Int64) {
	reqs.Add(1)
	resp, err := hc.Do(req)
	if err != nil {
		d.fail("%s %s: %v", req.Method, req.URL.Path, err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		d.fail("%s %s: %s", req.Method, req.URL.Path, resp.Status)
		return
	}
	oks.Add(1)
}

func (d *demoRun) fail(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.failures) < 20 {
		d.failures = append(d.failures, fmt.Sprintf(format, args...))
	}
}

// result gathers the counters of both mocks and of the Pismo client.
func (d *demoRun) result(revoked int) demoResult {
	var res demoResult
	ps, cs, ss := d.pm.Stats(), d.pt.Stats(), d.sm.Stats()
	res.Pismo.Revoked = revoked
	res.Pismo.Requests, res.Pismo.OK = int(d.pReq.Load()), int(d.pOK.Load())
	res.Pismo.Exchanges = ps.Exchanges
	res.Pismo.RefreshedAhead = int(cs.BackgroundRefreshes)
	res.Pismo.RejectedByAPI = ps.APICalls[401]
	res.Pismo.Replays = int(d.pt.Replays())
	res.Pismo.AccountsWithTokens = demoAccounts
	res.Pismo.Waited = int(cs.Misses)
	res.Soldo.Requests, res.Soldo.OK = int(d.sReq.Load()), int(d.sOK.Load())
	res.Soldo.Verified = ss.Verified
	for _, n := range ss.Rejections {
		res.Soldo.Refused += n
	}
	ms := d.mm.Stats()
	res.Mia.Requests, res.Mia.OK = int(d.mReq.Load()), int(d.mOK.Load())
	res.Mia.TokenRequests, res.Mia.Revoked, res.Mia.Replays = ms.Tokens, ms.Revoked, int(d.mt.Replays())
	for _, n := range ms.Rejections {
		res.Mia.Refused += n
	}
	d.mu.Lock()
	res.Failures = append([]string{}, d.failures...)
	d.mu.Unlock()
	res.AllOK = len(res.Failures) == 0 && res.Pismo.OK == res.Pismo.Requests && res.Soldo.OK == res.Soldo.Requests && res.Mia.OK == res.Mia.Requests
	return res
}

// reportDemo says what the demo saw, in words.
func reportDemo(say func(string, ...any), res demoResult) {
	say("")
	say("Pismo (bearer tokens):")
	say("  %d requests, %d answered 200.", res.Pismo.Requests, res.Pismo.OK)
	say("  %d token exchanges for %d keys (the tenant token and %d account tokens), each an RS256 JWT exchanged at the mock.", res.Pismo.Exchanges, res.Pismo.AccountsWithTokens+1, res.Pismo.AccountsWithTokens)
	say("  %d of them were refreshes ahead of expiry, in the background: only %d requests ever waited for a token (the first ones, and those whose token was revoked).", res.Pismo.RefreshedAhead, res.Pismo.Waited)
	say("  %d live tokens were revoked mid-run; the API answered 401 %d times, and each of those requests was replayed once with a fresh token (%d replays, one exchange per key shared by all).", res.Pismo.Revoked, res.Pismo.RejectedByAPI, res.Pismo.Replays)
	say("Soldo (signed requests):")
	say("  %d requests, %d signatures verified by the mock, %d refused.", res.Soldo.Requests, res.Soldo.Verified, res.Soldo.Refused)
	say("Mia-Platform (client credentials, private_key_jwt):")
	say("  %d requests, %d answered 200; %d token requests, each with a fresh assertion (%d refused): the first, and one per revoked token (%d revoked, %d requests replayed).", res.Mia.Requests, res.Mia.OK, res.Mia.TokenRequests, res.Mia.Refused, res.Mia.Revoked, res.Mia.Replays)
	r := res.Revolut
	say("Revolut Open Banking (mutual TLS, x-jws-signature, idempotency keys), mock %s:", r.URL)
	say("  %d payment consent created with a client-credentials token, %d authorised through a PS256 request object, %d payments made with the user's token from the code exchange; %d token requests, %d refusals.", r.Consents, r.Authorised, r.Payments, r.TokenRequests, r.Refused)
	if res.AllOK {
		say("Every request succeeded, in %.1f s.", res.DurationS)
		return
	}
	say("Some requests failed:")
	for _, f := range res.Failures {
		say("  %s", f)
	}
}
