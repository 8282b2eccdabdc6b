package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// verify checks exp and nbf (with --leeway) and the claims asked for, and says why it refuses.
func TestCLI_VerifyChecksTimesAndClaims(t *testing.T) {
	t.Parallel()
	mint := func(ttl string) string {
		r := finauth(t, nil, "", "mint", "pismo", "--key", keys+"test-rsa-pkcs8.pem", "--iss", "i", "--sub", "s", "--aud", "a", "--tenant", "t", "--group", "g", "--ttl", ttl)
		if r.code != exitOK {
			t.Fatalf("%+v", r)
		}
		return strings.TrimSpace(r.stdout)
	}
	jwt := mint("10m")
	pub := keys + "test-rsa-public.pem"
	if r := finauth(t, nil, "", "verify", "--key", pub, "--iss", "i", "--aud", "a", "--sub", "s", jwt); r.code != exitOK {
		t.Fatalf("valid: %+v", r)
	}
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"wrong iss": {[]string{"--iss", "x"}, `iss is "i"`},
		"wrong aud": {[]string{"--aud", "x"}, `does not include "x"`},
		"wrong sub": {[]string{"--sub", "x"}, `sub is "s"`},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"verify", "--key", pub}, append(c.args, jwt)...)
			if r := finauth(t, nil, "", args...); r.code != exitFail || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("%+v", r)
			}
		})
	}
	// An expired token: verify runs with a clock an hour ahead.
	r := finauthAt(t, time.Now().Add(time.Hour), "verify", "--key", pub, jwt)
	if r.code != exitFail || !strings.Contains(r.stderr, "the token expired at") {
		t.Fatalf("expired: %+v", r)
	}
	if r := finauthAt(t, time.Now().Add(time.Hour), "verify", "--key", pub, "--leeway", "2h", jwt); r.code != exitOK {
		t.Fatalf("within --leeway: %+v", r)
	}
	// A detached JWS without --payload says so.
	env := map[string]string{"SOLDO_PRIVATE_KEY_FILE": keys + "test-ec-p256-pkcs8.pem", "SOLDO_KEY_ID": "ec-1", "SOLDO_MEMBER_ID": "m:1"}
	s := finauth(t, env, "", "sign", "soldo", "https://api.example.com/x")
	if r := finauth(t, nil, "", "verify", "--key", keys+"test-ec-p256-public.pem", s.stdout); r.code != exitFail || !strings.Contains(r.stderr, "detached JWS") {
		t.Fatalf("detached without payload: %+v", r)
	}
}

// finauthAt runs the CLI with its clock at now.
func finauthAt(t *testing.T, now time.Time, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, now: func() time.Time { return now },
		lookup: func(string) (string, bool) { return "", false }}
	return result{a.run(args), out.String(), errb.String()}
}
