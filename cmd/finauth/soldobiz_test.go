package main

import (
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	"github.com/finauth/finauth/integration/soldobizmock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/testkit/redistest"
)

func soldoBusinessSetup(t *testing.T) (*soldobizmock.Server, map[string]string) {
	t.Helper()
	pub, err := signer.LoadPublicKeysFile("../../signer/testdata/keys/test-rsa-public.pem")
	if err != nil {
		t.Fatal(err)
	}
	m, err := soldobizmock.NewServer(soldobizmock.Config{ClientID: "cli-biz", ClientSecret: "cli-biz-secret", InternalToken: "cli-biz-internal",
		PublicKey: pub.Keys()[0].Key().(*rsa.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, map[string]string{"SOLDO_BUSINESS_API_URL": m.URL, "SOLDO_BUSINESS_CLIENT_ID": "cli-biz", "SOLDO_BUSINESS_CLIENT_SECRET": "cli-biz-secret",
		"SOLDO_BUSINESS_INTERNAL_TOKEN": "cli-biz-internal", "SOLDO_BUSINESS_PRIVATE_KEY_FILE": "../../signer/testdata/keys/test-rsa-pkcs8.pem"}
}

// The soldo-business profile from the CLI: token, standard and advanced calls, a transfer
// with a body, an order given on the command line, a load whose tokens are revoked (one
// token request per revocation), and the failures said before anything is sent.
func TestCLI_SoldoBusiness(t *testing.T) {
	t.Parallel()
	m, env := soldoBusinessSetup(t)
	if r := finauth(t, env, "", "token", "soldo-business"); r.code != exitOK || !strings.Contains(r.stdout, `"[redacted: `) || !strings.Contains(r.stdout, `"expires_in": 7`) {
		t.Fatalf("token: %+v", r)
	}
	for _, args := range [][]string{
		{m.URL + "/business/v2/ping/whoami"},
		{m.URL + "/business/v2/transactions?type=company&fromDate=2026-01-01&toDate=2026-01-31&status=Settled&text=a+b"},
		{"-X", "PUT", "-H", "Content-Type: application/x-www-form-urlencoded", "--data", "amount=10.25&currencyCode=EUR", m.URL + "/business/v2/wallets/internalTransfer/w1/w2"},
		{"-X", "PUT", "-H", "Content-Type: application/x-www-form-urlencoded", "--data", "amount=1&currencyCode=EUR", "--fingerprint-order", "amount,currencyCode,fromWalletId,toWalletId,token", m.URL + "/business/v2/wallets/internalTransfer/w1/w3"},
	} {
		if r := finauth(t, env, "", append([]string{"call", "--profile", "soldo-business"}, args...)...); r.code != exitOK {
			t.Fatalf("call %v: %+v", args, r)
		}
	}
	if st := m.Stats(); st.Verified != 3 || st.Transfers != 2 || len(st.APIDenials) != 0 {
		t.Fatalf("mock: %+v", st)
	}
	// an unknown write: said before anything is sent, with the CLI's way out
	before := m.Stats().APICalls
	r := finauth(t, env, "", "call", "--profile", "soldo-business", "-X", "POST", "--data", "{}", m.URL+"/business/v2/rockets")
	if r.code == exitOK || !strings.Contains(r.stderr, "fingerprint order is unknown") || !strings.Contains(r.stderr, "--fingerprint-order") {
		t.Fatalf("unknown write: %+v", r)
	}
	if after := m.Stats().APICalls; after[404] != before[404] {
		t.Fatalf("the unknown write was sent")
	}
	if r := finauth(t, env, "", "call", "--profile", "soldo-business", "--fingerprint-order", "a,token", "--standard-auth", m.URL+"/business/v2/wallets"); r.code != exitUsage {
		t.Fatalf("both flags: %+v", r)
	}
	// a missing internal token is named before anything is sent
	delete(env, "SOLDO_BUSINESS_INTERNAL_TOKEN")
	if r := finauth(t, env, "", "call", "--profile", "soldo-business", m.URL+"/business/v2/wallets"); r.code != exitUsage || !strings.Contains(r.stderr, "SOLDO_BUSINESS_INTERNAL_TOKEN: required") {
		t.Fatalf("no internal token: %+v", r)
	}
	env["SOLDO_BUSINESS_INTERNAL_TOKEN"] = "cli-biz-internal"
	// load with a token revoked every 40 uses: one token request per revocation, nothing fails
	m.RevokeEvery(40)
	tokensBefore := m.Stats().Tokens
	l := finauth(t, env, "", "load", "--profile", "soldo-business", "-n", "300", "-c", "4", "--json", m.URL+"/business/v2/transactions/tx-9")
	var sum loadSummary
	if l.code != exitOK || json.Unmarshal([]byte(l.stdout), &sum) != nil || sum.OK != 300 {
		t.Fatalf("load: %+v", l)
	}
	st := m.Stats()
	if st.Revoked == 0 || st.Tokens-tokensBefore != st.Revoked+1 { // the process's first, and one per revocation
		t.Fatalf("load: %d revocations cost %d token requests (want the first and one each)", st.Revoked, st.Tokens-tokensBefore)
	}
	for _, out := range []string{l.stdout, l.stderr, r.stderr} {
		if strings.Contains(out, "cli-biz-secret") || strings.Contains(out, "cli-biz-internal") {
			t.Fatalf("a secret in the output: %s", out)
		}
	}
}

// Two soldo-business processes one after the other, sharing Redis: one token request.
func TestCLI_SoldoBusinessSharesItsTokenThroughRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	m, env := soldoBusinessSetup(t)
	env["FINAUTH_REDIS_URL"] = srv.URL()
	env["FINAUTH_CACHE_KEY"] = cacheKey
	env["FINAUTH_REDIS_TIMEOUT"] = "5s" // the test counts sharing, not speed (a busy machine)
	env["FINAUTH_REDIS_SLOW_REPLY"] = "off"
	for range 2 {
		if r := finauth(t, env, "", "load", "--profile", "soldo-business", "-n", "20", "--json", m.URL+"/business/v2/transactions/tx-1"); r.code != exitOK {
			t.Fatalf("%+v", r)
		}
	}
	if n := m.Stats().Tokens; n != 1 {
		t.Fatalf("%d token requests for two processes sharing Redis, want 1", n)
	}
}
