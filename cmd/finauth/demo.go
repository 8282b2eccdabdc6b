package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/integration/pismomock"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
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
	Failures []string `json:"failures"`
	AllOK    bool     `json:"all_ok"`
}

func (a *app) demo(args []string) error {
	fs := a.newFlags("demo", "demo [--json] [--duration 8s]")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	duration := fs.Duration("duration", 8*time.Second, "how long to run the traffic (at most 25s)")
	if _, err := parse(fs, args); err != nil {
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
	say("finauth demo: a strict Pismo mock and a strict Soldo mock on loopback, throwaway keys, %v of traffic.", *duration)

	pismoKey, err := signer.GenerateRSAKey(signer.RS256, 2048)
	if err != nil {
		return err
	}
	soldoKey, err := signer.GenerateKey(signer.ES256)
	if err != nil {
		return err
	}
	const lifetime = 3 * time.Second
	pm, err := pismomock.NewServer(pismomock.Config{
		Keys: signer.NewKeySet(pismoKey.Public()), Issuer: "demo@tenant", Subject: "demo@tenant",
		Audience: "https://sandbox.pismolabs.io", TenantID: "demo-tenant", Group: "pismo-v2:demo:rw", TokenLifetime: lifetime,
	})
	if err != nil {
		return err
	}
	defer pm.Close()
	sm, err := soldomock.NewServer(soldomock.Config{Members: map[string][]*signer.PublicKey{"m:demo": {soldoKey.Public().WithKeyID("demo-key")}}})
	if err != nil {
		return err
	}
	defer sm.Close()
	say("  Pismo mock %s: verifies every JWT (RS256, claims, expiry), issues tokens living %v.", pm.URL, lifetime)
	say("  Soldo mock %s: verifies a detached ES256 signature over method, host, path, query and body.", sm.URL)

	pt, err := client.NewPismoTransport(client.PismoConfig{
		TokenURL: pm.TokenURL(), Key: pismoKey, Issuer: "demo@tenant", Subject: "demo@tenant",
		Audience: "https://sandbox.pismolabs.io", TenantID: "demo-tenant", Group: "pismo-v2:demo:rw",
	}, client.WithCacheOptions(tokencache.Options{}))
	if err != nil {
		return err
	}
	defer pt.Close()
	st, err := client.NewSoldoTransport(client.SoldoConfig{APIURLs: []string{sm.URL}, Key: soldoKey, KeyID: "demo-key", MemberID: "m:demo"})
	if err != nil {
		return err
	}
	pismo, soldo := &http.Client{Transport: pt}, &http.Client{Transport: st}

	var res demoResult
	var mu sync.Mutex
	fail := func(format string, args ...any) {
		mu.Lock()
		if len(res.Failures) < 20 {
			res.Failures = append(res.Failures, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	var pReq, pOK, sReq, sOK atomic.Int64
	do := func(hc *http.Client, req *http.Request, reqs, oks *atomic.Int64) {
		reqs.Add(1)
		resp, err := hc.Do(req)
		if err != nil {
			fail("%s %s: %v", req.Method, req.URL.Path, err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			fail("%s %s: %s", req.Method, req.URL.Path, resp.Status)
			return
		}
		oks.Add(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	revokeAt := *duration / 2
	revoked := make(chan int, 1)
	go func() {
		select {
		case <-time.After(revokeAt):
			revoked <- pm.RevokeAll()
		case <-ctx.Done():
			revoked <- 0
		}
	}()
	say("  Running 8 workers; at %v every Pismo token will be revoked.", revokeAt)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				body := []byte(fmt.Sprintf(`{"worker": %d, "n": %d, "amount": "10.00"}`, w, i))
				var req *http.Request
				switch (w + i) % 4 {
				case 0:
					req, _ = http.NewRequest(http.MethodGet, pm.URL+"/cards/v1/cards", nil)
					do(pismo, req, &pReq, &pOK)
				case 1:
					id := fmt.Sprintf("acct-%d", i%3)
					req, _ = http.NewRequestWithContext(client.WithAccount(context.Background(), id), http.MethodGet, pm.URL+"/accounts/"+id+"/balance", nil)
					do(pismo, req, &pReq, &pOK)
				case 2:
					req, _ = http.NewRequest(http.MethodPost, pm.URL+"/payments/v1/payments", bytes.NewReader(body))
					do(pismo, req, &pReq, &pOK)
				default:
					req, _ = http.NewRequest(http.MethodPost, sm.URL+fmt.Sprintf("/banks/iron/consents?ref=%d-%d", w, i), bytes.NewReader(body))
					do(soldo, req, &sReq, &sOK)
				}
				time.Sleep(2 * time.Millisecond) // pacing: a service's traffic, not a flood
			}
		}()
	}
	wg.Wait()
	res.Pismo.Revoked = <-revoked
	res.DurationS = time.Since(start).Seconds()
	ps, cs, ss := pm.Stats(), pt.Stats(), sm.Stats()
	res.Pismo.Requests, res.Pismo.OK = int(pReq.Load()), int(pOK.Load())
	res.Pismo.Exchanges = ps.Exchanges
	res.Pismo.RefreshedAhead = int(cs.BackgroundRefreshes)
	res.Pismo.RejectedByAPI = ps.APICalls[401]
	res.Pismo.Replays = int(pt.Replays())
	res.Pismo.AccountsWithTokens = 3
	res.Pismo.Waited = int(cs.Misses)
	res.Soldo.Requests, res.Soldo.OK = int(sReq.Load()), int(sOK.Load())
	res.Soldo.Verified = ss.Verified
	for _, n := range ss.Rejections {
		res.Soldo.Refused += n
	}
	res.AllOK = len(res.Failures) == 0 && res.Pismo.OK == res.Pismo.Requests && res.Soldo.OK == res.Soldo.Requests
	if *asJSON {
		if err := a.printJSON(res); err != nil {
			return err
		}
	} else {
		say("")
		say("Pismo (bearer tokens):")
		say("  %d requests, %d answered 200.", res.Pismo.Requests, res.Pismo.OK)
		say("  %d token exchanges for %d keys (the tenant token and %d account tokens), each an RS256 JWT exchanged at the mock.", res.Pismo.Exchanges, res.Pismo.AccountsWithTokens+1, res.Pismo.AccountsWithTokens)
		say("  %d of them were refreshes ahead of expiry, in the background: only %d requests ever waited for a token (the first ones, and those whose token was revoked).", res.Pismo.RefreshedAhead, res.Pismo.Waited)
		say("  %d live tokens were revoked mid-run; the API answered 401 %d times, and each of those requests was replayed once with a fresh token (%d replays, one exchange per key shared by all).", res.Pismo.Revoked, res.Pismo.RejectedByAPI, res.Pismo.Replays)
		say("Soldo (signed requests):")
		say("  %d requests, %d signatures verified by the mock, %d refused.", res.Soldo.Requests, res.Soldo.Verified, res.Soldo.Refused)
		if res.AllOK {
			say("Every request succeeded, in %.1f s.", res.DurationS)
		} else {
			say("Some requests failed:")
			for _, f := range res.Failures {
				say("  %s", f)
			}
		}
	}
	if !res.AllOK {
		return &failure{"the demo saw failed requests"}
	}
	return nil
}
