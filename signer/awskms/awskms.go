// Package awskms signs with keys that stay in AWS KMS, addressed by a URI:
//
//	awskms:arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
//	awskms:alias/pismo-signing
//	awskms:1234abcd-12ab-34cd-56ef-1234567890ab
//
// Importing it makes signer.LoadKeyFile (and so every provider's *_PRIVATE_KEY_FILE and
// every finauth command that takes a key) open such URIs. The AWS SDK's standard
// configuration applies: the region (AWS_REGION, or the key ARN's), the credentials chain
// (environment, shared files, SSO, instance and container roles), and AWS_ENDPOINT_URL_KMS
// (or AWS_ENDPOINT_URL) for another endpoint, such as a local KMS in tests.
//
// The public key is read once (GetPublicKey) when the key is opened; each signature is one
// Sign call with MessageType DIGEST (the digest is computed here, so bodies never leave the
// process): RSASSA_PKCS1_V1_5_SHA_256/384/512 for RS256/384/512, RSASSA_PSS_SHA_* for PS*,
// ECDSA_SHA_* for ES* (KMS answers DER, which package signer turns into JOSE's r||s). KMS
// has no Ed25519 signing keys for JOSE. Each signature costs a network round trip and counts
// against the account's KMS request quota (per second, per region), which then bounds a
// per-request signing provider's requests per second; see docs/keys.md.
package awskms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/finauth/finauth/signer"
)

func init() { signer.RegisterKeyScheme("awskms", Open) }

// ErrKMS is wrapped by every error of this package.
var ErrKMS = errors.New("finauth: awskms")

// Error is a failure to open or use a KMS key: what was being done, the key ID, and why
// (never credentials: the SDK's errors carry the operation, status and request ID).
type Error struct {
	Op    string
	KeyID string
	Err   error
}

// Error names the operation and the key.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: cannot %s (key %s): %v", ErrKMS, e.Op, e.KeyID, e.Err)
}

// Unwrap returns the cause and ErrKMS.
func (e *Error) Unwrap() []error { return []error{ErrKMS, e.Err} }

// API is what this package calls of a KMS client (*kms.Client has both).
type API interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
	Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error)
}

// DefaultSignTimeout bounds one Sign call (crypto.Signer has no context).
const DefaultSignTimeout = 10 * time.Second

// Open opens the key an awskms: URI addresses with the SDK's default configuration.
func Open(ctx context.Context, uri string, opts ...signer.LoadOption) (*signer.Key, error) {
	id, ok := strings.CutPrefix(uri, "awskms:")
	if !ok || id == "" {
		return nil, &Error{Op: "parse the URI", KeyID: uri, Err: errors.New("give awskms:arn:aws:kms:REGION:ACCOUNT:key/ID, awskms:alias/NAME or awskms:KEY-ID")}
	}
	var loadOpts []func(*config.LoadOptions) error
	if strings.HasPrefix(id, "arn:") {
		parts := strings.Split(id, ":")
		if len(parts) < 6 || parts[2] != "kms" || parts[3] == "" {
			return nil, &Error{Op: "parse the URI", KeyID: id, Err: errors.New("not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID or :alias/NAME)")}
		}
		loadOpts = append(loadOpts, config.WithRegion(parts[3]))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, &Error{Op: "load the AWS configuration", KeyID: id, Err: err}
	}
	if cfg.Region == "" {
		return nil, &Error{Op: "load the AWS configuration", KeyID: id, Err: errors.New("no region: set AWS_REGION, or give the key's ARN")}
	}
	return New(ctx, kms.NewFromConfig(cfg), id, opts...)
}

// New opens keyID with client: it reads the public key once (GetPublicKey) and returns a
// signer.Key whose signatures are KMS Sign calls.
func New(ctx context.Context, client API, keyID string, opts ...signer.LoadOption) (*signer.Key, error) {
	out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, &Error{Op: "read the public key", KeyID: keyID, Err: err}
	}
	if out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, &Error{Op: "use the key", KeyID: keyID, Err: fmt.Errorf("its key usage is %s: create it with KeyUsage SIGN_VERIFY", out.KeyUsage)}
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, &Error{Op: "read the public key", KeyID: keyID, Err: err}
	}
	s := &kmsSigner{client: client, keyID: keyID, pub: pub, algs: out.SigningAlgorithms}
	if out.KeyId != nil {
		s.arn = *out.KeyId
	}
	k, err := signer.NewKey(s, opts...)
	if err != nil {
		return nil, &Error{Op: "use the key", KeyID: keyID, Err: err}
	}
	return k, nil
}

// kmsSigner is a KMS key as a crypto.Signer.
type kmsSigner struct {
	client     API
	keyID, arn string
	pub        crypto.PublicKey
	algs       []types.SigningAlgorithmSpec
}

func (s *kmsSigner) Public() crypto.PublicKey { return s.pub }

// Sign asks KMS to sign digest (MessageType DIGEST) with the algorithm opts name.
func (s *kmsSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	alg, err := s.algorithm(opts)
	if err != nil {
		return nil, &Error{Op: "sign", KeyID: s.keyID, Err: err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultSignTimeout)
	defer cancel()
	out, err := s.client.Sign(ctx, &kms.SignInput{KeyId: aws.String(s.keyID), Message: digest, MessageType: types.MessageTypeDigest, SigningAlgorithm: alg})
	if err != nil {
		return nil, &Error{Op: "sign", KeyID: s.keyID, Err: err}
	}
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		// JOSE's PS256 needs a salt as long as the hash (RFC 7518 section 3.5); AWS KMS
		// signs so ("a 256-bit salt"). An endpoint that signs with another salt (local-kms
		// takes the largest) makes signatures every JOSE verifier refuses: said here, at
		// the cost of one RSA verification, instead of as a refusal at the provider.
		if err := rsa.VerifyPSS(s.pub.(*rsa.PublicKey), pss.Hash, digest, out.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: pss.Hash}); err != nil {
			return nil, &Error{Op: "sign", KeyID: s.keyID, Err: ErrPSSSalt}
		}
	}
	return out.Signature, nil
}

// ErrPSSSalt is wrapped when the KMS endpoint answers a PSS signature whose salt is not as
// long as the hash, which JOSE's PS256 requires (AWS KMS signs so; local-kms does not).
var ErrPSSSalt = errors.New("the KMS endpoint answered an RSASSA-PSS signature whose salt is not as long as the hash, which PS256 requires (AWS KMS signs with such a salt; local-kms, a test double, does not): use RS256 with this endpoint, or AWS KMS itself")

// algorithm maps a signature's options to the KMS signing algorithm.
func (s *kmsSigner) algorithm(opts crypto.SignerOpts) (types.SigningAlgorithmSpec, error) {
	bits := map[crypto.Hash]string{crypto.SHA256: "256", crypto.SHA384: "384", crypto.SHA512: "512"}[opts.HashFunc()]
	if bits == "" {
		return "", fmt.Errorf("hash %v: KMS signs SHA-256, SHA-384 and SHA-512 digests", opts.HashFunc())
	}
	var alg types.SigningAlgorithmSpec
	switch s.pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			if pss.SaltLength != rsa.PSSSaltLengthEqualsHash && pss.SaltLength != opts.HashFunc().Size() {
				return "", errors.New("KMS signs PSS with a salt as long as the hash only")
			}
			alg = types.SigningAlgorithmSpec("RSASSA_PSS_SHA_" + bits)
		} else {
			alg = types.SigningAlgorithmSpec("RSASSA_PKCS1_V1_5_SHA_" + bits)
		}
	case *ecdsa.PublicKey:
		alg = types.SigningAlgorithmSpec("ECDSA_SHA_" + bits)
	default:
		return "", fmt.Errorf("a %T key", s.pub)
	}
	for _, a := range s.algs {
		if a == alg {
			return alg, nil
		}
	}
	return "", fmt.Errorf("the key does not sign %s (it signs %v)", alg, s.algs)
}
