package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// maxKeyFileSize bounds what LoadKeyFile and LoadPublicKeysFile read: key files are small,
// a JWKS of many keys is still far below this.
const maxKeyFileSize = 1 << 20

// LoadKeyFile reads a private key from a file in any format ParseKey accepts, or opens the
// key a "pkcs11:" or "awskms:" URI addresses (with the opener its package registered; see
// RegisterKeyScheme).
func LoadKeyFile(path string, opts ...LoadOption) (*Key, error) {
	if scheme := KeyURIScheme(path); scheme != "" {
		return openKeyURI(scheme, path, opts...)
	}
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	return ParseKey(data, append(opts, withSource(path))...)
}

// LoadPublicKeysFile reads public keys from a file in any format ParsePublicKeys accepts,
// or the public key of the key a "pkcs11:" or "awskms:" URI addresses.
func LoadPublicKeysFile(path string, opts ...LoadOption) (*KeySet, error) {
	if scheme := KeyURIScheme(path); scheme != "" {
		k, err := openKeyURI(scheme, path, opts...)
		if err != nil {
			return nil, err
		}
		return NewKeySet(k.Public()), nil
	}
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePublicKeys(data, append(opts, withSource(path))...)
}

func withSource(name string) LoadOption { return func(o *loadOptions) { o.source = name } }

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &KeyDataError{Source: path, Reason: "cannot open the key file", Err: errors.Unwrap(err)}
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, &KeyDataError{Source: path, Reason: "cannot read the key file", Err: errors.Unwrap(err)}
	}
	if n > maxKeyFileSize {
		return nil, &KeyDataError{Source: path, Reason: fmt.Sprintf("the file is larger than %d bytes; it is not a key file", maxKeyFileSize)}
	}
	return buf.Bytes(), nil
}

// ParseKey reads a private key from:
//   - PEM: PKCS#1 "RSA PRIVATE KEY"; PKCS#8 "PRIVATE KEY" (RSA, EC P-256/P-384/P-521,
//     Ed25519); SEC1 "EC PRIVATE KEY" (an "EC PARAMETERS" block before it is skipped);
//     "ENCRYPTED PRIVATE KEY" (PKCS#8 PBES2 with PBKDF2 and AES-CBC or 3DES, as
//     `openssl genpkey -aes256` writes it); legacy encrypted PEM ("Proc-Type: 4,ENCRYPTED",
//     as `ssh-keygen -m PEM -N pass` writes it); "OPENSSH PRIVATE KEY" (with or without a
//     passphrase);
//   - DER: PKCS#8, PKCS#1 or SEC1;
//   - JSON: a private JWK, a JWKS holding one private key (or the one WithKeyID names),
//     or a Google service-account file ("private_key", with "private_key_id" as key ID).
//
// An encrypted key without WithPassphrase fails with ErrPassphraseRequired, a wrong
// passphrase with ErrWrongPassphrase. Errors never contain key material.
func ParseKey(data []byte, opts ...LoadOption) (*Key, error) {
	o := collect(opts)
	if err := checkSize(data, &o); err != nil {
		return nil, err
	}
	s, kid, alg, err := parsePrivate(data, &o)
	if err != nil {
		return nil, err
	}
	if kid == "" {
		kid = preambleKeyID(data)
	}
	if o.keyID != "" {
		kid = o.keyID
	}
	if o.alg != "" {
		alg = o.alg
	}
	return finishKey(s, kid, alg, o.source)
}

// KeyIDPreamble is the line a PEM file may carry before its first block to name its key ID
// ("kid: my-key-1"): explanatory text, which RFC 7468 allows and openssl, ssh-keygen and Go
// skip, so that a kid chosen when the key was made travels with its files.
const KeyIDPreamble = "kid: "

// preambleKeyID reads the key ID of a "kid: ..." line before the first PEM block.
func preambleKeyID(data []byte) string {
	i := bytes.Index(data, []byte("-----BEGIN "))
	if i <= 0 {
		return ""
	}
	for _, line := range strings.Split(string(data[:i]), "\n") {
		if kid, ok := strings.CutPrefix(strings.TrimSpace(line), KeyIDPreamble); ok {
			return strings.TrimSpace(kid)
		}
	}
	return ""
}

// WithKeyIDPreamble puts a "kid: ..." line before PEM data (see KeyIDPreamble).
func WithKeyIDPreamble(kid string, pemData []byte) []byte {
	if kid == "" {
		return pemData
	}
	return append([]byte(KeyIDPreamble+kid+"\n"), pemData...)
}

// checkSize refuses key data over maxKeyFileSize, as the file loaders do: no key, JWK or
// certificate chain a user has comes near it.
func checkSize(data []byte, o *loadOptions) error {
	if len(data) > maxKeyFileSize {
		return &KeyDataError{Source: o.source, Reason: fmt.Sprintf("the key data is %d bytes, more than the %d a key file can be", len(data), maxKeyFileSize)}
	}
	return nil
}

// blockList names the PEM block types seen, at most the first 8 (and how many more), so
// that a file of thousands of blocks does not make a megabyte of error text.
func blockList(types []string) string {
	const shown = 8
	if len(types) <= shown {
		return strings.Join(types, ", ")
	}
	return strings.Join(types[:shown], ", ") + fmt.Sprintf(" and %d more blocks", len(types)-shown)
}

func finishKey(s crypto.Signer, kid string, alg Algorithm, source string) (*Key, error) {
	s = normalizeSigner(s)
	if s == nil {
		return nil, &KeyDataError{Source: source, Reason: "the key is empty"}
	}
	pub := s.Public()
	def, err := DefaultAlgorithm(pub)
	if err != nil {
		return nil, err
	}
	if alg == "" {
		alg = def
	}
	if err := alg.CheckKey(pub); err != nil {
		return nil, err
	}
	if k, ok := s.(*rsa.PrivateKey); ok {
		// Validate catches inconsistent CRT values that would otherwise produce wrong
		// signatures; CheckKey above bounded the size, so this is cheap enough.
		if err := k.Validate(); err != nil {
			return nil, &KeyDataError{Source: source, Reason: "the RSA private key is inconsistent", Err: err}
		}
	}
	if err := selfTest(s, alg); err != nil {
		return nil, &KeyDataError{Source: source, Reason: "the private key does not match its own public key (the file is corrupt or was edited)"}
	}
	return &Key{signer: s, keyID: kid, alg: algIfSet(alg, def)}, nil
}

// selfTest signs a probe and verifies it with the key's public half. Key files carry the
// public key next to the private one (OpenSSH Ed25519, JWK x/y next to d) and parsers take
// it as given; a mismatch would otherwise sign every request with a signature nobody can
// verify.
func selfTest(key crypto.Signer, alg Algorithm) error {
	s := &Signer{key: key, alg: alg, rand: rand.Reader}
	input := []byte("finauth key self-test")
	sig, err := s.signInput(input, nil, 0)
	if err != nil {
		return err
	}
	return verifySignature(alg, key.Public(), input, sig)
}

// algIfSet keeps an explicit algorithm and drops one that is only the key type's default,
// so that Key.Algorithm keeps following the key.
func algIfSet(alg, def Algorithm) Algorithm {
	if alg == def {
		return ""
	}
	return alg
}

func normalizeSigner(s crypto.Signer) crypto.Signer {
	switch k := s.(type) {
	case *ed25519.PrivateKey:
		if k == nil {
			return nil
		}
		return *k
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil
		}
	case *rsa.PrivateKey:
		if k == nil {
			return nil
		}
	case *ecdsa.PrivateKey:
		if k == nil {
			return nil
		}
	}
	return s
}

func parsePrivate(data []byte, o *loadOptions) (crypto.Signer, string, Algorithm, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, "", "", &KeyDataError{Source: o.source, Reason: "the key data is empty"}
	}
	if trimmed[0] == '{' {
		return parsePrivateJSON(trimmed, o)
	}
	if bytes.Contains(trimmed, []byte("-----BEGIN ")) {
		s, err := parsePrivatePEM(trimmed, o)
		return s, "", "", err
	}
	if s, err := parsePrivateDER(trimmed); err == nil {
		return s, "", "", nil
	}
	return nil, "", "", &KeyDataError{Source: o.source, Reason: "not a private key: expected PEM (-----BEGIN ... PRIVATE KEY-----), DER, a JWK, a JWKS or a service-account JSON file"}
}

// pemBlocks yields the PEM blocks of data in order, leaving out the EC PARAMETERS block that
// openssl ecparam -genkey writes before the key.
func pemBlocks(data []byte) iter.Seq[*pem.Block] {
	return func(yield func(*pem.Block) bool) {
		for rest := data; ; {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				return
			}
			if block.Type != "EC PARAMETERS" && !yield(block) {
				return
			}
		}
	}
}

func parsePrivatePEM(data []byte, o *loadOptions) (crypto.Signer, error) {
	var seen []string
	for block := range pemBlocks(data) {
		switch block.Type {
		case "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY":
			der := block.Bytes
			if block.Headers["Proc-Type"] != "" {
				var err error
				if der, err = decryptLegacyPEM(block, o.passphrase); err != nil {
					return nil, pemErr(o.source, block.Type, err)
				}
			}
			s, err := parsePrivateDERType(block.Type, der)
			if err != nil {
				if block.Headers["Proc-Type"] != "" {
					return nil, ErrWrongPassphrase // decrypted to garbage: the passphrase was wrong
				}
				return nil, pemErr(o.source, block.Type, err)
			}
			return s, nil
		case "ENCRYPTED PRIVATE KEY":
			der, err := decryptPKCS8(block.Bytes, o.passphrase)
			if err != nil {
				return nil, pemErr(o.source, block.Type, err)
			}
			s, err := parsePKCS8(der)
			if err != nil {
				return nil, ErrWrongPassphrase
			}
			return s, nil
		case "OPENSSH PRIVATE KEY":
			s, err := parseOpenSSH(block, o.passphrase)
			if err != nil {
				return nil, pemErr(o.source, block.Type, err)
			}
			return s, nil
		default:
			seen = append(seen, block.Type)
		}
	}
	if len(seen) == 0 {
		return nil, &KeyDataError{Source: o.source, Reason: "no PEM block could be decoded; check that the -----BEGIN/-----END lines and the base64 between them are intact" + escapedNewlines(data)}
	}
	reason := "no private key found (the PEM holds " + blockList(seen) + ")"
	for _, t := range seen {
		if t == "PUBLIC KEY" || t == "RSA PUBLIC KEY" || t == "CERTIFICATE" {
			reason += "; a public key or certificate cannot sign: give the private key file"
			break
		}
	}
	return nil, &KeyDataError{Source: o.source, Reason: reason}
}

// pemErr wraps a parse failure with the block type; passphrase errors stay as they are.
func pemErr(source, blockType string, err error) error {
	if errors.Is(err, ErrPassphraseRequired) || errors.Is(err, ErrWrongPassphrase) {
		return err
	}
	var kd *KeyDataError
	if errors.As(err, &kd) {
		if kd.Source == "" {
			kd.Source = source
		}
		return kd
	}
	return &KeyDataError{Source: source, Reason: "cannot read the " + blockType + " block", Err: err}
}

func parsePrivateDERType(blockType string, der []byte) (crypto.Signer, error) {
	switch blockType {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(der)
		if err != nil {
			return nil, errors.New("not a PKCS#1 RSA private key")
		}
		return k, nil
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(der)
		if err != nil {
			return nil, errors.New("not a SEC1 EC private key (or an unsupported curve)")
		}
		return k, nil
	}
	return parsePKCS8(der)
}

func parsePKCS8(der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("not a PKCS#8 private key of a supported type (RSA, EC P-256/P-384/P-521, Ed25519)")
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a PKCS#8 %T cannot sign", k)
	}
	return s, nil
}

func parsePrivateDER(der []byte) (crypto.Signer, error) {
	for _, t := range []string{"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"} {
		if s, err := parsePrivateDERType(t, der); err == nil {
			return s, nil
		}
	}
	return nil, errors.New("not DER")
}

// serviceAccount is the part of a Google service-account key file finauth reads.
type serviceAccount struct {
	Type         string `json:"type"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
}

func parsePrivateJSON(data []byte, o *loadOptions) (crypto.Signer, string, Algorithm, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, "", "", &KeyDataError{Source: o.source, Reason: "the JSON is malformed", Err: jsonErr(err)}
	}
	switch {
	case probe["private_key"] != nil:
		var sa serviceAccount
		if err := json.Unmarshal(data, &sa); err != nil || sa.PrivateKey == "" {
			return nil, "", "", &KeyDataError{Source: o.source, Reason: `the service-account file has no usable "private_key" string`}
		}
		s, err := parsePrivatePEM([]byte(sa.PrivateKey), o)
		if err != nil {
			return nil, "", "", err
		}
		return s, sa.PrivateKeyID, "", nil
	case probe["keys"] != nil:
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(data, &set); err != nil {
			return nil, "", "", &KeyDataError{Source: o.source, Reason: "the JWKS is not valid", Err: joseErr(err)}
		}
		var found []jose.JSONWebKey
		for _, k := range set.Keys {
			if !k.IsPublic() && (o.keyID == "" || k.KeyID == o.keyID) {
				found = append(found, k)
			}
		}
		switch {
		case len(found) == 1:
			return jwkSigner(found[0], o)
		case len(found) == 0 && o.keyID != "":
			return nil, "", "", &KeyDataError{Source: o.source, Reason: "the JWKS has no private key with kid " + quote(o.keyID)}
		case len(found) == 0:
			return nil, "", "", &KeyDataError{Source: o.source, Reason: "the JWKS holds no private key; a public key cannot sign"}
		}
		return nil, "", "", &KeyDataError{Source: o.source, Reason: fmt.Sprintf("the JWKS holds %d private keys; choose one with WithKeyID", len(found))}
	case probe["kty"] != nil:
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(data); err != nil {
			return nil, "", "", &KeyDataError{Source: o.source, Reason: "the JWK is not valid", Err: joseErr(err)}
		}
		return jwkSigner(k, o)
	}
	return nil, "", "", &KeyDataError{Source: o.source, Reason: `the JSON is neither a JWK ("kty"), a JWKS ("keys") nor a service-account file ("private_key")`}
}

func jwkSigner(k jose.JSONWebKey, o *loadOptions) (crypto.Signer, string, Algorithm, error) {
	if k.IsPublic() {
		return nil, "", "", &KeyDataError{Source: o.source, Reason: "the JWK is a public key; signing needs the private JWK (with \"d\")"}
	}
	s, ok := k.Key.(crypto.Signer)
	if !ok {
		return nil, "", "", &KeyDataError{Source: o.source, Reason: fmt.Sprintf("a %s JWK cannot sign; use RSA, EC or OKP (Ed25519)", jwkType(k.Key))}
	}
	var alg Algorithm
	if k.Algorithm != "" {
		a, err := ParseAlgorithm(k.Algorithm)
		if err != nil {
			return nil, "", "", err
		}
		alg = a
	}
	return s, k.KeyID, alg, nil
}

func jwkType(k any) string {
	if _, ok := k.([]byte); ok {
		return "symmetric (oct)"
	}
	return fmt.Sprintf("%T", k)
}

// ParsePublicKeys reads public keys from PEM ("PUBLIC KEY", "RSA PUBLIC KEY",
// "CERTIFICATE", several blocks allowed), a JWK, a JWKS, or from a private key in any
// format ParseKey accepts (its public half). Every key must be one finauth verifies with.
func ParsePublicKeys(data []byte, opts ...LoadOption) (*KeySet, error) {
	o := collect(opts)
	if err := checkSize(data, &o); err != nil {
		return nil, err
	}
	if o.keyID == "" {
		if kid := preambleKeyID(data); kid != "" {
			o.keyID = kid
		}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, &KeyDataError{Source: o.source, Reason: "the key data is empty"}
	}
	var keys []*PublicKey
	var err error
	switch {
	case trimmed[0] == '{':
		keys, err = parsePublicJSON(trimmed, &o)
	case bytes.Contains(trimmed, []byte("-----BEGIN ")):
		keys, err = parsePublicPEM(trimmed, &o)
	default:
		keys, err = parsePublicDER(trimmed, &o)
	}
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, &KeyDataError{Source: o.source, Reason: "no public key found"}
	}
	return NewKeySet(keys...), nil
}

func publicKey(pub crypto.PublicKey, kid string, alg Algorithm, o *loadOptions) (*PublicKey, error) {
	if o.keyID != "" {
		kid = o.keyID
	}
	if o.alg != "" {
		alg = o.alg
	}
	var opts []LoadOption
	if alg != "" {
		opts = append(opts, WithAlgorithm(alg))
	}
	return NewPublicKey(pub, append(opts, WithKeyID(kid))...)
}

func parsePublicPEM(data []byte, o *loadOptions) ([]*PublicKey, error) {
	var keys []*PublicKey
	var skipped []string
	for block := range pemBlocks(data) {
		var pub crypto.PublicKey
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = c.PublicKey
			}
		case "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY":
			var k *Key
			k, err = ParseKey(pem.EncodeToMemory(block), WithPassphrase(o.passphrase), withSource(o.source))
			if err != nil {
				return nil, err
			}
			pub = k.signer.Public()
		default:
			skipped = append(skipped, block.Type)
			continue
		}
		if err != nil {
			return nil, &KeyDataError{Source: o.source, Reason: "cannot read the " + block.Type + " block", Err: errors.New("malformed or unsupported key")}
		}
		pk, err := publicKey(pub, "", "", o)
		if err != nil {
			return nil, err
		}
		keys = append(keys, pk)
	}
	if len(keys) == 0 && len(skipped) > 0 {
		return nil, &KeyDataError{Source: o.source, Reason: "no public key found (the PEM holds " + blockList(skipped) + ")"}
	}
	if len(keys) == 0 {
		return nil, &KeyDataError{Source: o.source, Reason: "no PEM block could be decoded; check the -----BEGIN/-----END lines" + escapedNewlines(data)}
	}
	return keys, nil
}

func parsePublicDER(der []byte, o *loadOptions) ([]*PublicKey, error) {
	if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
		k, err := publicKey(pub, "", "", o)
		return []*PublicKey{k}, err
	}
	if c, err := x509.ParseCertificate(der); err == nil {
		k, err := publicKey(c.PublicKey, "", "", o)
		return []*PublicKey{k}, err
	}
	if s, err := parsePrivateDER(der); err == nil {
		k, err := publicKey(s.Public(), "", "", o)
		return []*PublicKey{k}, err
	}
	return nil, &KeyDataError{Source: o.source, Reason: "not a public key: expected PEM, DER, a JWK or a JWKS"}
}

func parsePublicJSON(data []byte, o *loadOptions) ([]*PublicKey, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, &KeyDataError{Source: o.source, Reason: "the JSON is malformed", Err: jsonErr(err)}
	}
	var jwks []jose.JSONWebKey
	switch {
	case probe["keys"] != nil:
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(data, &set); err != nil {
			return nil, &KeyDataError{Source: o.source, Reason: "the JWKS is not valid", Err: joseErr(err)}
		}
		jwks = set.Keys
	case probe["kty"] != nil:
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(data); err != nil {
			return nil, &KeyDataError{Source: o.source, Reason: "the JWK is not valid", Err: joseErr(err)}
		}
		jwks = []jose.JSONWebKey{k}
	case probe["private_key"] != nil:
		k, err := ParseKey(data, WithPassphrase(o.passphrase), withSource(o.source))
		if err != nil {
			return nil, err
		}
		pk, err := publicKey(k.signer.Public(), k.keyID, "", o)
		return []*PublicKey{pk}, err
	default:
		return nil, &KeyDataError{Source: o.source, Reason: `the JSON is neither a JWK ("kty") nor a JWKS ("keys")`}
	}
	var keys []*PublicKey
	for i, k := range jwks {
		if k.Use != "" && k.Use != "sig" {
			continue // an encryption key in a shared JWKS is not ours to verify with
		}
		if _, ok := k.Key.([]byte); ok {
			return nil, &KeyDataError{Source: o.source, Reason: fmt.Sprintf("JWK %d is a symmetric (oct) key; verification needs public keys", i)}
		}
		var alg Algorithm
		if k.Algorithm != "" {
			a, err := ParseAlgorithm(k.Algorithm)
			if err != nil {
				return nil, fmt.Errorf("JWK %d: %w", i, err)
			}
			alg = a
		}
		pk, err := publicKey(k.Public().Key, k.KeyID, alg, o)
		if err != nil {
			return nil, err
		}
		keys = append(keys, pk)
	}
	return keys, nil
}

// jsonErr keeps the position of a JSON syntax error but not the input around it.
func jsonErr(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q has the wrong type", te.Field)
	}
	return errors.New("cannot decode")
}

// joseErr reduces a go-jose error to its message; go-jose messages name fields, not values.
func joseErr(err error) error {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return errors.New(msg)
}

// escapedNewlines is the hint for a PEM whose line breaks arrived as the two characters \ and
// n (a key pasted from JSON, a .env file or a CI variable): no PEM block decodes then.
func escapedNewlines(data []byte) string {
	if bytes.Contains(data, []byte("-----BEGIN")) && bytes.Contains(data, []byte(`\n`)) {
		return `; the text holds literal \n sequences instead of line breaks (a key pasted from JSON or an environment variable): turn them into real line breaks, e.g. printf '%b' "$KEY" > key.pem`
	}
	return ""
}
