package signer

import (
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"
)

// A key file asking for more KDF work than real tools write is refused before any of that
// work is done: PBKDF2 above 2,000,000 iterations, bcrypt above 256 rounds.
func TestParseKey_RefusesExcessiveKDFWork(t *testing.T) {
	t.Parallel()
	t.Run("PBKDF2", func(t *testing.T) {
		k, err := GenerateKey(ES256)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := k.MarshalPKCS8PEM([]byte("pw"), WithPBKDF2Iterations(1000))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(enc)
		var info encryptedPrivateKeyInfo
		asn1.Unmarshal(block.Bytes, &info)
		var params pbes2Params
		asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params)
		var kdf pbkdf2Params
		asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf)
		kdf.Iterations = maxPBKDF2Iterations + 1
		params.KDF.Parameters.FullBytes, _ = asn1.Marshal(kdf)
		info.Algorithm.Parameters.FullBytes, _ = asn1.Marshal(params)
		der, _ := asn1.Marshal(info)
		crafted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
		if _, err := ParseKey(crafted, WithPassphrase([]byte("pw"))); err == nil || !strings.Contains(err.Error(), "iteration count") {
			t.Fatalf("%d iterations: %v", kdf.Iterations, err)
		}
	})
	t.Run("bcrypt", func(t *testing.T) {
		data, err := os.ReadFile("testdata/keys/test-ed25519-openssh-encrypted.key")
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(data)
		// magic, cipher name, KDF name, KDF options = string(salt) + uint32 rounds.
		b := block.Bytes[len("openssh-key-v1\x00"):]
		skip := func() { b = b[4+binary.BigEndian.Uint32(b):] }
		skip()
		skip()
		opts := b[4:]
		salt := binary.BigEndian.Uint32(opts)
		binary.BigEndian.PutUint32(opts[4+salt:], maxBcryptRounds+1)
		_, err = ParseKey(pem.EncodeToMemory(block), WithPassphrase([]byte("test-passphrase")))
		if err == nil || !strings.Contains(err.Error(), "rounds") {
			t.Fatalf("%d rounds: %v", maxBcryptRounds+1, err)
		}
	})
}

// Key bytes over 1 MiB are refused like key files, and a file of many empty PEM blocks makes
// a short error, not megabytes of text.
func TestParseKeys_BoundInputAndErrorText(t *testing.T) {
	t.Parallel()
	block := "-----BEGIN X-----\n-----END X-----\n"
	huge := []byte(strings.Repeat(block, 200_000))
	many := []byte(strings.Repeat(block, 20_000))
	for name, parse := range map[string]func([]byte) error{
		"ParseKey":        func(b []byte) error { _, err := ParseKey(b); return err },
		"ParsePublicKeys": func(b []byte) error { _, err := ParsePublicKeys(b); return err },
	} {
		t.Run(name, func(t *testing.T) {
			if err := parse(huge); !errors.Is(err, ErrInvalidKeyData) || !strings.Contains(err.Error(), "more than") {
				t.Fatalf("7 MB of blocks: %v", err)
			}
			if err := parse(many); err == nil || len(err.Error()) > 1024 {
				t.Fatalf("20,000 blocks: %d bytes of error", len(err.Error()))
			}
		})
	}
}
