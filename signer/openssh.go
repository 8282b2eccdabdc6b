package signer

import (
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// maxBcryptRounds bounds the bcrypt_pbkdf work of an encrypted OpenSSH key, so that a hostile
// key file cannot pin a core: ssh-keygen's default is 16 rounds and -a 64 or 100 are the
// values guides give; 256 rounds cost about 2 s here, 1,024 about 9.5 s.
const maxBcryptRounds = 256

// parseOpenSSH reads an "OPENSSH PRIVATE KEY" block (ssh-keygen's default format) with
// golang.org/x/crypto/ssh, after checking the KDF work factor it asks for.
func parseOpenSSH(block *pem.Block, passphrase []byte) (crypto.Signer, error) {
	rounds, encrypted, err := opensshKDF(block.Bytes)
	if err != nil {
		return nil, err
	}
	if rounds > maxBcryptRounds {
		return nil, fmt.Errorf("bcrypt KDF rounds %d exceed %d", rounds, maxBcryptRounds)
	}
	data := pem.EncodeToMemory(block)
	var raw any
	switch {
	case encrypted && len(passphrase) == 0:
		return nil, ErrPassphraseRequired
	case encrypted:
		raw, err = ssh.ParseRawPrivateKeyWithPassphrase(data, passphrase)
	default:
		raw, err = ssh.ParseRawPrivateKey(data)
	}
	if err != nil {
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			return nil, ErrPassphraseRequired
		case errors.Is(err, x509.IncorrectPasswordError):
			return nil, ErrWrongPassphrase
		case encrypted:
			// x/crypto/ssh checks two random words after decryption; anything else
			// failing after a decryption means the plaintext was garbage.
			return nil, ErrWrongPassphrase
		}
		return nil, errors.New("malformed or unsupported OpenSSH key")
	}
	s, ok := raw.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("an OpenSSH %T key cannot sign JWS", raw)
	}
	return s, nil
}

// opensshKDF reads the header of the openssh-key-v1 format (PROTOCOL.key in OpenSSH):
// magic, cipher name, KDF name, KDF options (salt, rounds).
func opensshKDF(b []byte) (rounds uint32, encrypted bool, err error) {
	const magic = "openssh-key-v1\x00"
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		return 0, false, errors.New("not an openssh-key-v1 key")
	}
	b = b[len(magic):]
	next := func() ([]byte, bool) {
		if len(b) < 4 {
			return nil, false
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, false
		}
		s := b[4 : 4+n]
		b = b[4+n:]
		return s, true
	}
	cipherName, ok1 := next()
	kdfName, ok2 := next()
	kdfOpts, ok3 := next()
	if !ok1 || !ok2 || !ok3 {
		return 0, false, errors.New("truncated OpenSSH key header")
	}
	encrypted = string(cipherName) != "none"
	if string(kdfName) != "bcrypt" {
		return 0, encrypted, nil
	}
	b = kdfOpts
	if _, ok := next(); !ok || len(b) < 4 {
		return 0, encrypted, errors.New("malformed bcrypt KDF options")
	}
	return binary.BigEndian.Uint32(b), encrypted, nil
}
