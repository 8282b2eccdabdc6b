package signer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/md5"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// decryptLegacyPEM opens an OpenSSL "traditional" encrypted PEM block (RFC 1421 headers
// "Proc-Type: 4,ENCRYPTED" and "DEK-Info: AES-128-CBC,<iv hex>"), as `ssh-keygen -m PEM -N`
// and `openssl rsa -aes256` write. The key is OpenSSL's EVP_BytesToKey with MD5, one
// iteration, salted with the first 8 bytes of the IV. The standard library's
// x509.DecryptPEMBlock does the same but is deprecated and cannot tell a wrong passphrase
// apart reliably; here a wrong one always ends in ErrWrongPassphrase (bad padding or
// undecodable DER).
func decryptLegacyPEM(block *pem.Block, passphrase []byte) ([]byte, error) {
	if block.Headers["Proc-Type"] != "4,ENCRYPTED" {
		return nil, fmt.Errorf("unsupported Proc-Type %q", block.Headers["Proc-Type"])
	}
	name, ivHex, ok := strings.Cut(block.Headers["DEK-Info"], ",")
	if !ok {
		return nil, errors.New("the DEK-Info header is missing or malformed")
	}
	var keyLen int
	var newCipher func([]byte) (cipher.Block, error)
	switch strings.ToUpper(name) {
	case "AES-128-CBC":
		keyLen, newCipher = 16, aes.NewCipher
	case "AES-192-CBC":
		keyLen, newCipher = 24, aes.NewCipher
	case "AES-256-CBC":
		keyLen, newCipher = 32, aes.NewCipher
	case "DES-EDE3-CBC":
		keyLen, newCipher = 24, des.NewTripleDESCipher
	case "DES-CBC":
		keyLen, newCipher = 8, des.NewCipher
	default:
		return nil, fmt.Errorf("cipher %q is not supported; re-encrypt with `openssl pkcs8 -topk8 -v2 aes-256-cbc`", name)
	}
	iv, err := hex.DecodeString(ivHex)
	if err != nil || len(iv) < 8 {
		return nil, errors.New("the DEK-Info IV is malformed")
	}
	if len(passphrase) == 0 {
		return nil, ErrPassphraseRequired
	}
	block2, err := newCipher(bytesToKey(passphrase, iv[:8], keyLen))
	if err != nil {
		return nil, err
	}
	return cbcDecrypt(block2, iv, block.Bytes)
}

// bytesToKey is OpenSSL's EVP_BytesToKey(MD5, count 1), key part only.
func bytesToKey(passphrase, salt []byte, keyLen int) []byte {
	var key, prev []byte
	for len(key) < keyLen {
		h := md5.New()
		h.Write(prev)
		h.Write(passphrase)
		h.Write(salt)
		prev = h.Sum(nil)
		key = append(key, prev...)
	}
	return key[:keyLen]
}
