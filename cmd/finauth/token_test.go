package main

import (
	"strings"
	"testing"
)

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
