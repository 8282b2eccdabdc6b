// Package hsmtest makes a SoftHSM2 token for tests: a fresh token in a temporary directory,
// with keys generated inside it (pkcs11-tool --keypairgen) and keys imported into it. A test
// that needs SoftHSM2 skips when it is not installed, and fails under CI=true (which must
// install softhsm2 and opensc).
//
// It is one of finauth's test kits (testkit/), for the project's own tests: importable,
// but not part of the API, and changed without notice.
package hsmtest

import (
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/finauth/finauth/signer"
)

// Module is SoftHSM2's PKCS#11 module as Debian installs it.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// Token is a SoftHSM2 token made for a test process.
type Token struct {
	Label, PIN string
	Conf       string // SOFTHSM2_CONF for the processes that use it
	PINFile    string // a file holding the PIN, for pin-source
}

var (
	once   sync.Once
	shared *Token
	err    error
)

// Need skips the test (fails it under CI=true) when SoftHSM2 or pkcs11-tool is missing.
func Need(t testing.TB) {
	t.Helper()
	_, e1 := os.Stat(Module)
	_, e2 := exec.LookPath("softhsm2-util")
	_, e3 := exec.LookPath("pkcs11-tool")
	if e1 == nil && e2 == nil && e3 == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("SoftHSM2 is not installed (%s, softhsm2-util, pkcs11-tool): CI must install softhsm2 and opensc", Module)
	}
	t.Skip("SoftHSM2 is not installed (apt-get install softhsm2 opensc)")
}

// Shared returns the test process's token, made on first use in a temporary directory; it
// sets SOFTHSM2_CONF in this process (SoftHSM2 reads it when the module is loaded).
func Shared(t testing.TB) *Token {
	t.Helper()
	Need(t)
	once.Do(func() {
		var dir string
		if dir, err = os.MkdirTemp("", "finauth-softhsm-"); err != nil {
			return
		}
		tokens := filepath.Join(dir, "tokens")
		os.Mkdir(tokens, 0o700)
		conf := filepath.Join(dir, "softhsm2.conf")
		os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
		tok := &Token{Label: "finauth", PIN: "1234-test", Conf: conf, PINFile: filepath.Join(dir, "pin")}
		os.WriteFile(tok.PINFile, []byte(tok.PIN+"\n"), 0o600)
		os.Setenv("SOFTHSM2_CONF", conf)
		if out, e := exec.Command("softhsm2-util", "--init-token", "--free", "--label", tok.Label, "--so-pin", "5678-test", "--pin", tok.PIN).CombinedOutput(); e != nil {
			err = fmt.Errorf("softhsm2-util --init-token: %v: %s", e, out)
			return
		}
		shared = tok
	})
	if err != nil {
		t.Fatal(err)
	}
	return shared
}

// tool runs pkcs11-tool on the token.
func (tk *Token) tool(args ...string) error {
	cmd := exec.Command("pkcs11-tool", append([]string{"--module", Module, "--token-label", tk.Label, "--login", "--pin", tk.PIN}, args...)...)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+tk.Conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pkcs11-tool %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

var (
	genMu sync.Mutex
	made  = map[string]bool{}
	ids   = 0
)

// Generate makes a key pair inside the token (keyType as pkcs11-tool says it: rsa:2048,
// EC:prime256v1, EC:secp384r1, EC:secp521r1) under label, once per process.
func (tk *Token) Generate(t testing.TB, label, keyType string) {
	t.Helper()
	genMu.Lock()
	defer genMu.Unlock()
	if made[label] {
		return
	}
	ids++
	if err := tk.tool("--keypairgen", "--key-type", keyType, "--label", label, "--id", fmt.Sprintf("%04x", ids)); err != nil {
		t.Fatal(err)
	}
	made[label] = true
}

// Import writes the private key in keyFile (any format signer reads) and its public key
// into the token under label, once per process: a key that exists outside the HSM, as a
// provider's registered key does.
func (tk *Token) Import(t testing.TB, label, keyFile string) {
	t.Helper()
	genMu.Lock()
	defer genMu.Unlock()
	if made[label] {
		return
	}
	key, err := signer.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key.Signer())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Signer().Public())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	privFile, pubFile := filepath.Join(dir, "priv.der"), filepath.Join(dir, "pub.der")
	os.WriteFile(privFile, priv, 0o600)
	os.WriteFile(pubFile, pub, 0o600)
	ids++
	id := fmt.Sprintf("%04x", ids)
	if err := tk.tool("--write-object", privFile, "--type", "privkey", "--label", label, "--id", id, "--usage-sign"); err != nil {
		t.Fatal(err)
	}
	if err := tk.tool("--write-object", pubFile, "--type", "pubkey", "--label", label, "--id", id); err != nil {
		t.Fatal(err)
	}
	made[label] = true
}

// URI is the pkcs11: URI of the key under label, the PIN read from PINFile.
func (tk *Token) URI(label string) string {
	return "pkcs11:token=" + tk.Label + ";object=" + label + "?module-path=" + Module + "&pin-source=file:" + tk.PINFile
}
