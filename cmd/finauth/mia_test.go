package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finauth/finauth/integration/miamock"
)

// A new user's Mia-Platform session with the CLI alone: keygen (4096-bit RSA, with a
// passphrase), jwk to register, token mia, mint mia, call and a 600-POST load against a
// server revoking every 100th use; then an unregistered key.
func TestCLI_MiaSession(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "private.key"), filepath.Join(dir, "public.key")
	env := map[string]string{"MIA_PRIVATE_KEY_PASSWORD": "correct horse"}
	if r := finauth(t, env, "", "keygen", "--alg", "RS256", "--bits", "4096", "--kid", "mia-k1", "--out", priv, "--pub", pub, "--passphrase-env", "MIA_PRIVATE_KEY_PASSWORD"); r.code != exitOK {
		t.Fatalf("keygen: %+v", r)
	}
	j := finauth(t, nil, "", "jwk", "--kid", "mia-k1", "--alg", "RS256", pub)
	var jwk map[string]any
	if j.code != exitOK || json.Unmarshal([]byte(j.stdout), &jwk) != nil || jwk["use"] != "sig" || jwk["alg"] != "RS256" || jwk["kid"] != "mia-k1" || jwk["kty"] != "RSA" {
		t.Fatalf("jwk: %+v", j)
	}
	m, err := miamock.NewServer(miamock.Config{Issuer: "https://mia.example/issuer"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Register("cli-client", []byte(j.stdout)); err != nil {
		t.Fatal(err)
	}
	env = map[string]string{
		"MIA_TOKEN_URL": m.TokenURL(), "MIA_API_URL": m.URL, "MIA_CLIENT_ID": "cli-client", "MIA_KEY_ID": "mia-k1",
		"MIA_PRIVATE_KEY_FILE": priv, "MIA_PRIVATE_KEY_PASSWORD": "correct horse", "MIA_AUDIENCE": "https://mia.example/issuer",
	}
	tok := finauth(t, env, "", "token", "mia")
	if tok.code != exitOK || !strings.Contains(tok.stdout, `"[redacted: `) || strings.Contains(tok.stdout, "mia_") {
		t.Fatalf("token mia: %+v", tok)
	}
	// The rest with a second, unencrypted key of the same client (every load of an encrypted
	// key costs 600,000 PBKDF2 rounds, seconds under -race).
	plain := filepath.Join(dir, "plain.key")
	finauth(t, nil, "", "keygen", "--alg", "RS256", "--kid", "mia-k2", "--out", plain, "--pub", plain+".pub")
	j2 := finauth(t, nil, "", "jwk", "--kid", "mia-k2", "--alg", "RS256", plain+".pub")
	if err := m.Register("cli-client", []byte(j2.stdout)); err != nil {
		t.Fatal(err)
	}
	env["MIA_PRIVATE_KEY_FILE"], env["MIA_KEY_ID"], env["MIA_PRIVATE_KEY_PASSWORD"] = plain, "mia-k2", ""
	a := finauth(t, env, "", "mint", "mia")
	d := finauth(t, nil, strings.TrimSpace(a.stdout), "decode", "-")
	if a.code != exitOK || d.code != exitOK || !strings.Contains(d.stdout, `"iss": "cli-client"`) || !strings.Contains(d.stdout, `"jti"`) {
		t.Fatalf("mint mia: %+v %+v", a, d)
	}
	// Both keys stay registered: the first still authenticates.
	first := map[string]string{}
	for k, v := range env {
		first[k] = v
	}
	first["MIA_PRIVATE_KEY_FILE"], first["MIA_KEY_ID"], first["MIA_PRIVATE_KEY_PASSWORD"] = priv, "mia-k1", "correct horse"
	if r := finauth(t, first, "", "token", "mia"); r.code != exitOK {
		t.Fatalf("the first key after the second was registered: %+v", r)
	}
	if c := finauth(t, env, "", "call", "--profile", "mia", "-X", "POST", "--data", `{"amount":"1.00"}`, m.URL+"/orders"); c.code != exitOK || !strings.Contains(c.stdout, `"client_id":"cli-client"`) {
		t.Fatalf("call: %+v", c)
	}
	m.RevokeEvery(100)
	before := m.Stats()
	l := finauth(t, env, "", "load", "--profile", "mia", "-n", "600", "-c", "8", "-X", "POST", "--data", `{"amount":"2.00"}`, "--json", m.URL+"/orders")
	var s loadSummary
	if l.code != exitOK || json.Unmarshal([]byte(l.stdout), &s) != nil || s.OK != 600 {
		t.Fatalf("load: %+v", l)
	}
	st := m.Stats()
	revocations := st.Revoked - before.Revoked
	if revocations != 6 || int(s.TokenExchanges) != revocations+1 || st.Rejections[miamock.ReasonReplay] != 0 {
		t.Fatalf("%d revocations, %d token requests, mock %+v", revocations, s.TokenExchanges, st)
	}

	// A key nobody registered: exit 1, the reason, and no JWT, key or token in the output.
	other := filepath.Join(dir, "other.key")
	finauth(t, nil, "", "keygen", "--alg", "RS256", "--out", other, "--pub", other+".pub")
	env["MIA_PRIVATE_KEY_FILE"] = other
	r := finauth(t, env, "", "token", "mia")
	keyText, _ := os.ReadFile(other)
	out := r.stdout + r.stderr
	if r.code != exitFail || !strings.Contains(out, "signature") || strings.Contains(out, "eyJ") || strings.Contains(out, string(keyText[40:80])) {
		t.Fatalf("unregistered key: %+v", r)
	}
}
