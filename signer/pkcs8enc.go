package signer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// Encrypted PKCS#8 (RFC 5208 EncryptedPrivateKeyInfo) with PBES2 (RFC 8018): the format of
// "ENCRYPTED PRIVATE KEY" blocks that `openssl genpkey -aes256` and `openssl pkcs8 -topk8`
// write. The standard library reads only unencrypted PKCS#8, so this file decodes (and, for
// GenerateKey output, encodes) the PBES2 envelope: PBKDF2 with an HMAC-SHA PRF, then
// AES-CBC or DES-EDE3-CBC.

var (
	oidPBES2       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC  = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidPBEWithSHA1 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1} // PKCS#12 PBE arc (legacy)
)

// defaultPBKDF2Iterations is what MarshalPKCS8PEM uses: OWASP's 2023 figure for
// PBKDF2-HMAC-SHA256, about a quarter of a second to open the key on these machines.
const defaultPBKDF2Iterations = 600_000

// minPBKDF2Iterations is RFC 8018's recommended minimum.
const minPBKDF2Iterations = 1000

// maxPBKDF2Iterations bounds the work a crafted file can ask for: openssl writes 2,048
// iterations by default, OWASP's 2023 figures are 600,000 (SHA-256) and 1,300,000 (SHA-1);
// 2,000,000 covers them all and costs about 5 s at worst, where 10,000,000 cost 24 s.
const maxPBKDF2Iterations = 2_000_000

type encryptedPrivateKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type pbes2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Scheme pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

func prfFor(oid asn1.ObjectIdentifier) func() hash.Hash {
	switch {
	case len(oid) == 0, oid.Equal(oidHMACSHA1):
		return sha1.New // the RFC 8018 default when the PRF is omitted
	case oid.Equal(oidHMACSHA224):
		return sha256.New224
	case oid.Equal(oidHMACSHA256):
		return sha256.New
	case oid.Equal(oidHMACSHA384):
		return sha512.New384
	case oid.Equal(oidHMACSHA512):
		return sha512.New
	}
	return nil
}

func cipherFor(oid asn1.ObjectIdentifier) (keyLen int, newCipher func([]byte) (cipher.Block, error)) {
	switch {
	case oid.Equal(oidAES128CBC):
		return 16, aes.NewCipher
	case oid.Equal(oidAES192CBC):
		return 24, aes.NewCipher
	case oid.Equal(oidAES256CBC):
		return 32, aes.NewCipher
	case oid.Equal(oidDESEDE3CBC):
		return 24, des.NewTripleDESCipher
	}
	return 0, nil
}

// decryptPKCS8 opens an EncryptedPrivateKeyInfo and returns the PKCS#8 DER inside.
func decryptPKCS8(der []byte, passphrase []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return nil, errors.New("malformed EncryptedPrivateKeyInfo")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		if len(info.Algorithm.Algorithm) > len(oidPBEWithSHA1) && info.Algorithm.Algorithm[:len(oidPBEWithSHA1)].Equal(oidPBEWithSHA1) {
			return nil, errors.New("legacy PKCS#12 encryption is not supported; re-encrypt with `openssl pkcs8 -topk8 -v2 aes-256-cbc`")
		}
		return nil, fmt.Errorf("encryption scheme %s is not supported; re-encrypt with `openssl pkcs8 -topk8 -v2 aes-256-cbc`", info.Algorithm.Algorithm)
	}
	var params pbes2Params
	if rest, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil || len(rest) != 0 {
		return nil, errors.New("malformed PBES2 parameters")
	}
	if !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("key derivation %s is not supported (only PBKDF2); re-encrypt with `openssl pkcs8 -topk8 -v2 aes-256-cbc`", params.KDF.Algorithm)
	}
	var kdf pbkdf2Params
	if rest, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil || len(rest) != 0 {
		return nil, errors.New("malformed PBKDF2 parameters")
	}
	if kdf.Iterations < 1 || kdf.Iterations > maxPBKDF2Iterations {
		return nil, fmt.Errorf("PBKDF2 iteration count %d is outside 1..%d", kdf.Iterations, maxPBKDF2Iterations)
	}
	prf := prfFor(kdf.PRF.Algorithm)
	if prf == nil {
		return nil, fmt.Errorf("PBKDF2 PRF %s is not supported", kdf.PRF.Algorithm)
	}
	keyLen, newCipher := cipherFor(params.Scheme.Algorithm)
	if newCipher == nil {
		return nil, fmt.Errorf("cipher %s is not supported (AES-CBC or DES-EDE3-CBC)", params.Scheme.Algorithm)
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, errors.New("PBKDF2 key length does not match the cipher")
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(params.Scheme.Parameters.FullBytes, &iv); err != nil || len(rest) != 0 {
		return nil, errors.New("malformed cipher IV")
	}
	if len(passphrase) == 0 {
		return nil, ErrPassphraseRequired
	}
	key, err := pbkdf2.Key(prf, string(passphrase), kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, fmt.Errorf("PBKDF2: %w", err)
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	return cbcDecrypt(block, iv, info.Data)
}

// cbcDecrypt decrypts and strips PKCS#7 padding. Bad padding means the key was wrong.
func cbcDecrypt(block cipher.Block, iv, data []byte) ([]byte, error) {
	bs := block.BlockSize()
	if len(iv) != bs {
		return nil, errors.New("the cipher IV has the wrong length")
	}
	if len(data) == 0 || len(data)%bs != 0 {
		return nil, errors.New("the encrypted data is not a whole number of cipher blocks")
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > bs {
		return nil, ErrWrongPassphrase
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, ErrWrongPassphrase
		}
	}
	return out[:len(out)-pad], nil
}

// encryptPKCS8 wraps PKCS#8 DER as PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC).
func encryptPKCS8(der, passphrase []byte, iterations int) ([]byte, error) {
	salt := make([]byte, 16)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(sha256.New, string(passphrase), salt, iterations, 32)
	if err != nil {
		return nil, fmt.Errorf("finauth: signer: PBKDF2: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(der)%aes.BlockSize
	plain := make([]byte, len(der)+pad)
	copy(plain, der)
	for i := len(der); i < len(plain); i++ {
		plain[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(plain, plain)

	nullParams := asn1.RawValue{Tag: asn1.TagNull}
	kdfParams, err := asn1.Marshal(pbkdf2Params{Salt: salt, Iterations: iterations, PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACSHA256, Parameters: nullParams}})
	if err != nil {
		return nil, err
	}
	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return nil, err
	}
	schemeParams, err := asn1.Marshal(pbes2Params{
		KDF:    pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdfParams}},
		Scheme: pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: schemeParams}},
		Data:      plain,
	})
}
