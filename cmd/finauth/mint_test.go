package main

import (
	"os"
	"strings"
	"testing"
)

func TestCLI_SignRefusesURLsWithoutSchemeAndHost(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SOLDO_PRIVATE_KEY_FILE": keys + "test-ec-p256-pkcs8.pem", "SOLDO_KEY_ID": "ec-1", "SOLDO_MEMBER_ID": "m:1"}
	env["SOLDO_API_URL"] = "https://api.example.com"
	for _, u := range []string{"not-a-url", "/relative", "ftp://x/y", "https://"} {
		for _, cmd := range [][]string{{"sign", "soldo"}, {"call", "--profile", "soldo"}, {"load", "--profile", "soldo"}} {
			t.Run(strings.Join(cmd, " ")+" "+u, func(t *testing.T) {
				if r := finauth(t, env, "", append(cmd, u)...); r.code != exitUsage || !strings.Contains(r.stderr, "absolute http(s) URL") {
					t.Fatalf("%+v", r)
				}
			})
		}
	}
}

// What sign prints goes straight into decode and verify; keys come from stdin with -.
func TestCLI_SignOutputDecodesAndVerifies(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SOLDO_PRIVATE_KEY_FILE": keys + "test-ec-p256-pkcs8.pem", "SOLDO_KEY_ID": "ec-1", "SOLDO_MEMBER_ID": "m:1"}
	s := finauth(t, env, "", "sign", "soldo", "--attached", "-X", "POST", "--data", `{"a":1}`, "https://api.example.com/x")
	if s.code != exitOK {
		t.Fatalf("%+v", s)
	}
	for _, in := range []string{s.stdout, "Authorization: " + s.stdout} {
		if d := finauth(t, nil, in, "decode", "-"); d.code != exitOK || !strings.Contains(d.stdout, `"mid": "m:1"`) {
			t.Fatalf("decode of %q: %+v", in, d)
		}
	}
	pub, _ := os.ReadFile(keys + "test-ec-p256-public.pem")
	if v := finauth(t, nil, string(pub), "verify", "--key", "-", s.stdout); v.code != exitOK {
		t.Fatalf("verify --key -: %+v", v)
	}
	if j := finauth(t, nil, string(pub), "jwk", "--kid", "k", "-"); j.code != exitOK || !strings.Contains(j.stdout, `"kid": "k"`) {
		t.Fatalf("jwk -: %+v", j)
	}
}

// verify names alg none; a key of the wrong type for a profile is a configuration problem
// (exit 2) naming the variables.
func TestCLI_AlgNoneAndWrongKeyTypes(t *testing.T) {
	t.Parallel()
	none := "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
	if r := finauth(t, nil, "", "verify", "--key", keys+"test-rsa-public.pem", none+"c2ln"); r.code != exitFail || !strings.Contains(r.stderr, `"alg": "none" is never accepted`) {
		t.Fatalf("alg none: %+v", r)
	}
	r := finauth(t, nil, "", "mint", "pismo", "--key", keys+"test-ec-p256-pkcs8.pem", "--iss", "i", "--sub", "s", "--aud", "a", "--tenant", "t", "--group", "g")
	if r.code != exitUsage || !strings.Contains(r.stderr, "PISMO_PRIVATE_KEY_FILE") || !strings.Contains(r.stderr, "an EC P-256 key cannot be used with RS256") {
		t.Fatalf("an EC key for Pismo: %+v", r)
	}
	env := map[string]string{"SOLDO_PRIVATE_KEY_FILE": keys + "test-rsa-pkcs8.pem", "SOLDO_KEY_ID": "k", "SOLDO_MEMBER_ID": "m", "SOLDO_ALG": "ES256"}
	if r := finauth(t, env, "", "sign", "soldo", "https://api.example.com/x"); r.code != exitUsage || !strings.Contains(r.stderr, "SOLDO_ALG") {
		t.Fatalf("an RSA key for ES256: %+v", r)
	}
}
