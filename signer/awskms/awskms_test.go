package awskms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/signer/awskms"
	"github.com/finauth/finauth/testkit/kmstest"
)

const keys = "../testdata/keys/"

// A KMS key by ARN, by alias and by key ID signs RS256 and ES256 through the local KMS, each signature verified with the public key of the repository's key file it was
// seeded with; the public key comes from GetPublicKey.
func TestAWSKMS_SignsThroughTheLocalKMS(t *testing.T) {
	k := kmstest.Shared(t, keys)
	rsaFile, _ := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	ecFile, _ := signer.LoadKeyFile(keys + "test-ec-p256-pkcs8.pem")
	for _, tc := range []struct {
		uri  string
		alg  signer.Algorithm
		file *signer.Key
	}{
		{"awskms:" + k.ARN(kmstest.RSAKeyID), signer.RS256, rsaFile},
		{"awskms:" + kmstest.RSAAlias, signer.RS256, rsaFile},
		{"awskms:" + kmstest.RSAKeyID, signer.RS256, rsaFile},
		{"awskms:" + kmstest.ECAlias, signer.ES256, ecFile},
		{"awskms:" + k.ARN(kmstest.ECKeyID), signer.ES256, ecFile},
	} {
		t.Run(tc.uri+"/"+string(tc.alg), func(t *testing.T) {
			key, err := signer.LoadKeyFile(tc.uri, signer.WithKeyID("kms-1"))
			if err != nil {
				t.Fatal(err)
			}
			if key.Public().Thumbprint() != tc.file.Public().Thumbprint() {
				t.Fatal("GetPublicKey did not give the seeded key's public half")
			}
			s, err := signer.New(key, signer.Options{Algorithm: tc.alg})
			if err != nil {
				t.Fatal(err)
			}
			jwt, err := s.SignJWT(map[string]string{"sub": "x"})
			if err != nil {
				t.Fatal(err)
			}
			v, _ := signer.NewVerifier(signer.NewKeySet(tc.file.Public().WithKeyID("kms-1")), signer.VerifyOptions{Algorithms: []signer.Algorithm{tc.alg}})
			if _, err := v.Verify(jwt); err != nil {
				t.Fatalf("the KMS signature does not verify with the file's public key: %v", err)
			}
		})
	}
}

// A key that is not there, or a URI that is not one, is named; the credentials appear in
// no error, however it is printed.
func TestAWSKMS_ErrorsNameTheKeyNeverTheCredentials(t *testing.T) {
	k := kmstest.Shared(t, keys)
	for name, tc := range map[string]struct{ uri, want string }{
		"no such key":   {"awskms:alias/no-such-key", "cannot read the public key (key alias/no-such-key)"},
		"empty":         {"awskms:", "give awskms:arn:aws:kms"},
		"not a KMS ARN": {"awskms:arn:aws:s3:::bucket", "not a KMS key ARN"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := signer.LoadKeyFile(tc.uri)
			if err == nil || !errors.Is(err, awskms.ErrKMS) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v: want %q", err, tc.want)
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Error("x", "error", err)
			j, _ := json.Marshal(map[string]string{"e": err.Error()})
			for _, out := range []string{fmt.Sprintf("%v %+v %#v %s %q", err, err, err, err, err), buf.String(), string(j)} {
				if strings.Contains(out, k.Env["AWS_SECRET_ACCESS_KEY"]) || strings.Contains(out, k.Env["AWS_ACCESS_KEY_ID"]) {
					t.Fatalf("a credential shows: %s", out)
				}
			}
		})
	}
}

// local-kms signs RSASSA-PSS with the largest salt, not the hash's length as AWS KMS does
// and PS256 needs: finauth says so instead of sending signatures every verifier refuses.
func TestAWSKMS_APSSSignatureWithTheWrongSaltIsRefused(t *testing.T) {
	k := kmstest.Shared(t, keys)
	key, err := signer.LoadKeyFile("awskms:" + k.ARN(kmstest.RSAKeyID))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := signer.New(key, signer.Options{Algorithm: signer.PS256})
	if _, err := s.SignJWT(map[string]string{"a": "b"}); !errors.Is(err, awskms.ErrPSSSalt) {
		t.Fatalf("want ErrPSSSalt, got %v", err)
	}
}

// fakeKMS signs as AWS KMS does (PSS salt = hash length) with the file's key, and records
// what it was asked.
type fakeKMS struct {
	key   *rsa.PrivateKey
	asked []kms.SignInput
}

func (f *fakeKMS) GetPublicKey(_ context.Context, in *kms.GetPublicKeyInput, _ ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	der, _ := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	return &kms.GetPublicKeyOutput{KeyId: in.KeyId, PublicKey: der, KeyUsage: types.KeyUsageTypeSignVerify,
		SigningAlgorithms: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecRsassaPssSha256, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256}}, nil
}

func (f *fakeKMS) Sign(_ context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	f.asked = append(f.asked, *in)
	var sig []byte
	var err error
	if in.SigningAlgorithm == types.SigningAlgorithmSpecRsassaPssSha256 {
		sig, err = rsa.SignPSS(rand.Reader, f.key, crypto.SHA256, in.Message, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, in.Message)
	}
	return &kms.SignOutput{Signature: sig}, err
}

// PS256 asks KMS for RSASSA_PSS_SHA_256 over the digest (MessageType DIGEST: the message
// never leaves the process) and RS256 for RSASSA_PKCS1_V1_5_SHA_256; both verify.
func TestAWSKMS_AsksForTheJOSEAlgorithm(t *testing.T) {
	file, _ := signer.LoadKeyFile(keys + "test-rsa-pkcs8.pem")
	f := &fakeKMS{key: file.Signer().(*rsa.PrivateKey)}
	key, err := awskms.New(context.Background(), f, "alias/x")
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []signer.Algorithm{signer.PS256, signer.RS256} {
		s, _ := signer.New(key, signer.Options{Algorithm: alg, KeyID: "k"})
		jwt, err := s.SignJWT(map[string]string{"a": "b"})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := signer.NewVerifier(signer.NewKeySet(file.Public().WithKeyID("k")), signer.VerifyOptions{Algorithms: []signer.Algorithm{alg}})
		if _, err := v.Verify(jwt); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
	}
	if len(f.asked) != 2 || f.asked[0].SigningAlgorithm != types.SigningAlgorithmSpecRsassaPssSha256 || f.asked[1].SigningAlgorithm != types.SigningAlgorithmSpecRsassaPkcs1V15Sha256 ||
		f.asked[0].MessageType != types.MessageTypeDigest || len(f.asked[0].Message) != 32 {
		t.Fatalf("asked %+v", f.asked)
	}
}
