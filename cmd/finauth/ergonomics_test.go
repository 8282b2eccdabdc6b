package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestCLI_VersionAndSubcommandHelp(t *testing.T) {
	t.Parallel()
	if r := finauth(t, nil, "", "--version"); r.code != exitOK || !strings.HasPrefix(r.stdout, "finauth ") {
		t.Fatalf("--version: %+v", r)
	}
	for cmd, subs := range map[string][]string{"mint": {"pismo", "mia"}, "token": {"pismo", "mia"}, "sign": {"soldo"}} {
		t.Run(cmd, func(t *testing.T) {
			r := finauth(t, nil, "", cmd, "--help")
			if r.code != exitOK {
				t.Fatalf("%s --help: %+v", cmd, r)
			}
			for _, s := range subs {
				if !strings.Contains(r.stderr, s) {
					t.Fatalf("%s --help does not list %s: %s", cmd, s, r.stderr)
				}
			}
			if r := finauth(t, nil, "", cmd); r.code != exitUsage || !strings.Contains(r.stderr, subs[0]) {
				t.Fatalf("%s alone: %+v", cmd, r)
			}
		})
	}
}

// A wrong flag is reported once, with a short usage line, not the whole flag list twice.
func TestCLI_AnUnknownFlagIsReportedOnce(t *testing.T) {
	t.Parallel()
	r := finauth(t, nil, "", "jwk", "--nope", "x")
	if r.code != exitUsage || strings.Count(r.stderr, "flag provided but not defined") != 1 || !strings.Contains(r.stderr, "usage: finauth jwk") || strings.Contains(r.stderr, "flags:") {
		t.Fatalf("%+v", r)
	}
}

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

func TestCLI_TokenOutputsAndPassphraseErrors(t *testing.T) {
	t.Parallel()
	m := newPismoMock(t)
	env := pismoEnv(m)
	for output, want := range map[string]string{"bare": "[redacted: ", "header": "Authorization: Bearer [redacted: "} {
		if r := finauth(t, env, "", "token", "pismo", "--output", output); r.code != exitOK || !strings.HasPrefix(r.stdout, want) {
			t.Fatalf("--output %s: %+v", output, r)
		}
	}
	if r := finauth(t, env, "", "token", "pismo", "--output", "bare", "--show-token"); r.code != exitOK || !strings.HasPrefix(r.stdout, "pismo_") {
		t.Fatalf("--output bare --show-token: %+v", r)
	}
	if r := finauth(t, env, "", "token", "pismo", "--output", "yaml"); r.code != exitUsage || m.Stats().Exchanges != 3 {
		t.Fatalf("--output yaml: %+v (exchanges %d)", r, m.Stats().Exchanges)
	}
	env["PISMO_PRIVATE_KEY_FILE"] = keys + "test-rsa-pkcs8-encrypted.pem"
	r := finauth(t, env, "", "token", "pismo")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--passphrase-env VAR / PISMO_PRIVATE_KEY_PASSWORD") || strings.Contains(r.stderr, "signer.WithPassphrase") {
		t.Fatalf("encrypted key without passphrase: %+v", r)
	}
}

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

// A kid chosen at keygen reaches jwk, jwk --set and sign without retyping, and openssl still
// reads both files.
func TestCLI_KeygenKidTravelsWithTheFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv, pub := dir+"/k.pem", dir+"/k.pub.pem"
	if r := finauth(t, nil, "", "keygen", "--alg", "ES256", "--kid", "chosen-kid", "--out", priv, "--pub", pub); r.code != exitOK {
		t.Fatalf("%+v", r)
	}
	for _, args := range [][]string{{"jwk", pub}, {"jwk", "--set", pub}, {"jwk", priv}} {
		if r := finauth(t, nil, "", args...); r.code != exitOK || !strings.Contains(r.stdout, `"kid": "chosen-kid"`) {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	s := finauth(t, map[string]string{"SOLDO_MEMBER_ID": "m"}, "", "sign", "soldo", "--key", priv, "-X", "POST", "--data", "body", "https://api.example.com/x")
	jwks := dir + "/set.json"
	j := finauth(t, nil, "", "jwk", "--set", pub)
	os.WriteFile(jwks, []byte(j.stdout), 0o600)
	if v := finauth(t, nil, "", "verify", "--jwks", jwks, "--payload", "body", s.stdout); s.code != exitOK || v.code != exitOK || !strings.Contains(v.stdout, `"kid": "chosen-kid"`) {
		t.Fatalf("sign %+v, verify --jwks %+v", s, v)
	}
	for _, args := range [][]string{{"pkey", "-in", priv, "-noout"}, {"pkey", "-pubin", "-in", pub, "-noout"}} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
}

func TestCLI_CompletionScripts(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := finauth(t, nil, "", "completion", shell)
		if r.code != exitOK || !strings.Contains(r.stdout, "keygen") || !strings.Contains(r.stdout, "pismo mia") {
			t.Fatalf("%s: %+v", shell, r)
		}
		if shell == "bash" {
			cmd := exec.Command("bash", "-n")
			cmd.Stdin = strings.NewReader(r.stdout)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("bash -n: %v\n%s", err, out)
			}
		}
	}
	if r := finauth(t, nil, "", "completion", "tcsh"); r.code != exitUsage {
		t.Fatalf("%+v", r)
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
