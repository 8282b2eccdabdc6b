// Package kmstest runs a local AWS KMS (github.com/nsmithuk/local-kms, installed by
// .ci/run) for tests, seeded with the repository's test keys: keys whose public halves the
// mocks already know. A test that needs it skips when local-kms is not installed, and fails
// under CI=true.
//
// It is one of finauth's test kits (testkit/), for the project's own tests: importable,
// but not part of the API, and changed without notice.
package kmstest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/finauth/finauth/signer"
)

// The seeded keys: their IDs and aliases.
const (
	RSAKeyID  = "5f0e2c2a-7d1b-4f5e-9a8b-000000000001" // signer/testdata/keys/test-rsa-pkcs8.pem
	ECKeyID   = "5f0e2c2a-7d1b-4f5e-9a8b-000000000002" // signer/testdata/keys/test-ec-p256-sec1.pem (the same key as -pkcs8)
	RSAAlias  = "alias/finauth-rsa"
	ECAlias   = "alias/finauth-ec"
	Region    = "eu-west-2"
	AccountID = "111122223333"
)

// KMS is a running local KMS.
type KMS struct {
	Endpoint string
	// Env is what the AWS SDK needs to use it: the endpoint, a region and dummy credentials.
	Env map[string]string
}

// ARN is the ARN of a seeded key.
func (k *KMS) ARN(keyID string) string {
	return "arn:aws:kms:" + Region + ":" + AccountID + ":key/" + keyID
}

var (
	once   sync.Once
	shared *KMS
	err    error
)

// binary finds local-kms on the PATH or in GOBIN/GOPATH's bin.
func binary() string {
	if p, err := exec.LookPath("local-kms"); err == nil {
		return p
	}
	for _, dir := range []string{os.Getenv("GOBIN"), filepath.Join(os.Getenv("HOME"), "go", "bin")} {
		if dir == "" {
			continue
		}
		if p := filepath.Join(dir, "local-kms"); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Shared starts the local KMS once for the test process (it is killed when the process
// ends: SIGKILL as its parent's death signal) and sets
// its environment in this process too. keysDir is signer/testdata/keys.
func Shared(t testing.TB, keysDir string) *KMS {
	t.Helper()
	bin := binary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("local-kms is not installed: CI must go install github.com/nsmithuk/local-kms")
		}
		t.Skip("local-kms is not installed (go install github.com/nsmithuk/local-kms@latest)")
	}
	once.Do(func() { shared, err = start(bin, keysDir) })
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range shared.Env {
		os.Setenv(k, v)
	}
	return shared
}

func indent(pemFile string) (string, error) {
	b, err := os.ReadFile(pemFile)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, "kid:") {
			continue
		}
		out.WriteString("          " + l + "\n")
	}
	return out.String(), nil
}

func start(bin, keysDir string) (*KMS, error) {
	dir, err := os.MkdirTemp("", "finauth-local-kms-")
	if err != nil {
		return nil, err
	}
	rsaPEM, err := indent(filepath.Join(keysDir, "test-rsa-pkcs8.pem"))
	if err != nil {
		return nil, err
	}
	ecPEM, err := indent(filepath.Join(keysDir, "test-ec-p256-sec1.pem")) // local-kms reads EC keys as SEC 1
	if err != nil {
		return nil, err
	}
	seed := "Keys:\n  Asymmetric:\n    Rsa:\n      - Metadata:\n          KeyId: " + RSAKeyID + "\n          KeyUsage: SIGN_VERIFY\n        PrivateKeyPem: |\n" + rsaPEM +
		"    Ecc:\n      - Metadata:\n          KeyId: " + ECKeyID + "\n          KeyUsage: SIGN_VERIFY\n        PrivateKeyPem: |\n" + ecPEM +
		"Aliases:\n  - AliasName: " + RSAAlias + "\n    TargetKeyId: " + RSAKeyID + "\n  - AliasName: " + ECAlias + "\n    TargetKeyId: " + ECKeyID + "\n"
	seedFile := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seedFile, []byte(seed), 0o600); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "KMS_REGION="+Region, "KMS_ACCOUNT_ID="+AccountID,
		"KMS_SEED_PATH="+seedFile, "KMS_DATA_PATH="+filepath.Join(dir, "data"))
	// It dies with the test process: nothing else would stop it (a test's cleanup ends
	// with its test, and the server is shared by the process's tests).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, _ := os.Create(filepath.Join(dir, "local-kms.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(endpoint)
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			log, _ := os.ReadFile(filepath.Join(dir, "local-kms.log"))
			return nil, fmt.Errorf("local-kms did not start: %s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &KMS{Endpoint: endpoint, Env: map[string]string{
		"AWS_ENDPOINT_URL_KMS": endpoint, "AWS_REGION": Region, "AWS_ACCESS_KEY_ID": "AKIDFINAUTHTEST", "AWS_SECRET_ACCESS_KEY": "finauth-test-secret-key",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
	}}, nil
}

// StartAWSLike serves the two KMS operations finauth calls (GetPublicKey and Sign, AWS's
// JSON 1.1 protocol) for one RSA key, signing RSASSA-PSS with a salt as long as the hash as
// AWS KMS documents ("a 256-bit salt" for RSASSA_PSS_SHA_256), which local-kms does not (it
// takes the largest salt). It is for the one flow local-kms cannot show: PS256 (Revolut)
// through the CLI and the real SDK. keyFile is the RSA private key it holds as keyID.
func StartAWSLike(t testing.TB, keyFile, keyID string) *KMS {
	t.Helper()
	key, err := signer.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := key.Signer().(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("%s is not an RSA key", keyFile)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	arn := "arn:aws:kms:" + Region + ":" + AccountID + ":key/" + keyID
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			KeyID            string `json:"KeyId"`
			Message          []byte
			MessageType      string
			SigningAlgorithm string
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fail := func(typ, msg string) {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
		}
		if err := json.Unmarshal(body, &in); err != nil {
			fail("ValidationException", err.Error())
			return
		}
		if in.KeyID != keyID && in.KeyID != arn {
			fail("NotFoundException", "Key '"+in.KeyID+"' does not exist")
			return
		}
		switch r.Header.Get("X-Amz-Target") {
		case "TrentService.GetPublicKey":
			json.NewEncoder(w).Encode(map[string]any{"KeyId": arn, "PublicKey": pubDER, "KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY",
				"SigningAlgorithms": []string{"RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256"}})
		case "TrentService.Sign":
			if in.MessageType != "DIGEST" || len(in.Message) != 32 {
				fail("ValidationException", "this stub signs SHA-256 digests")
				return
			}
			var sig []byte
			switch in.SigningAlgorithm {
			case "RSASSA_PSS_SHA_256":
				sig, err = rsa.SignPSS(rand.Reader, priv, crypto.SHA256, in.Message, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			case "RSASSA_PKCS1_V1_5_SHA_256":
				sig, err = rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, in.Message)
			default:
				fail("UnsupportedOperationException", in.SigningAlgorithm)
				return
			}
			if err != nil {
				fail("KMSInternalException", err.Error())
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"KeyId": arn, "Signature": sig, "SigningAlgorithm": in.SigningAlgorithm})
		default:
			fail("UnknownOperationException", r.Header.Get("X-Amz-Target"))
		}
	}))
	t.Cleanup(srv.Close)
	return &KMS{Endpoint: srv.URL, Env: map[string]string{
		"AWS_ENDPOINT_URL_KMS": srv.URL, "AWS_REGION": Region, "AWS_ACCESS_KEY_ID": "AKIDFINAUTHTEST", "AWS_SECRET_ACCESS_KEY": "finauth-test-secret-key",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	}}
}
