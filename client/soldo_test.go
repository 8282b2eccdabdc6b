package client

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSoldoConfigFromEnv_ProblemsByName(t *testing.T) {
	t.Parallel()
	_, err := soldoConfigFromEnv(envOf(nil))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	for _, name := range []string{"SOLDO_API_URL", "SOLDO_PRIVATE_KEY_FILE", "SOLDO_MEMBER_ID"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
	_, err = soldoConfigFromEnv(envOf(map[string]string{
		"SOLDO_API_URL": "http://soldo.example.com", "SOLDO_PRIVATE_KEY": "-----BEGIN TOPSECRET", "SOLDO_MEMBER_ID": "m:1",
		"SOLDO_JWS_TTL": "2m", "SOLDO_DETACHED": "maybe", "SOLDO_ALG": "HS256", "SOLDO_MAX_BODY_BYTES": "-1",
	}))
	for _, name := range []string{"SOLDO_API_URL", "SOLDO_JWS_TTL", "SOLDO_DETACHED", "SOLDO_ALG", "SOLDO_MAX_BODY_BYTES"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
	if strings.Contains(err.Error(), "TOPSECRET") {
		t.Fatal("a secret is in the error")
	}
	c, err := soldoConfigFromEnv(envOf(map[string]string{
		"SOLDO_API_URL": "https://api.soldo.example", "SOLDO_PRIVATE_KEY_FILE": "../signer/testdata/keys/test-ec-p256-pkcs8.pem",
		"SOLDO_MEMBER_ID": "m:1", "SOLDO_KEY_ID": "k", "SOLDO_DETACHED": "false", "SOLDO_JWS_TTL": "30",
	}))
	if err != nil || !c.Attached || c.JWSTTL != 30*time.Second {
		t.Fatalf("%v %v", c, err)
	}
	if _, err := NewSoldoSigner(SoldoConfig{APIURLs: []string{"https://a"}, PrivateKeyFile: testKeyFile, MemberID: "m"}, nil); err == nil || !strings.Contains(err.Error(), "SOLDO_KEY_ID") {
		t.Fatalf("a key without ID: %v", err)
	}
	if _, err := NewSoldoSigner(SoldoConfig{APIURLs: []string{"https://a"}, PrivateKeyFile: testKeyFile, MemberID: "m", KeyID: "k", Algorithm: "ES256"}, nil); err == nil || !strings.Contains(err.Error(), "RSA 2048-bit key") {
		t.Fatalf("an RSA key for ES256: %v", err)
	}
}

func TestSoldoHeader_FieldsUnitsAndOrder(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_123)
	base := SoldoConfig{APIURLs: []string{"https://api.example.com"}, PrivateKeyFile: "../signer/testdata/keys/test-ec-p256-pkcs8.pem", KeyID: "1x7df4vuFUHYQCa7", MemberID: "m:QW:5z"}
	for _, c := range []struct {
		tweak func(*SoldoConfig)
		url   string
		host  string
		want  string
	}{
		{nil, "https://api.example.com/transactions/O%3B5823", "",
			`{"alg":"ES256","typ":"jwt","exp":"1700000050123","mid":"m:QW:5z","kid":"1x7df4vuFUHYQCa7","method":"GET","host":"api.example.com","path":"/transactions/O;5823"}`},
		{func(c *SoldoConfig) { c.ExpAsNumber, c.HostWithPort, c.JWSTTL = true, true, 10*time.Second }, "https://api.example.com?type=access&a=1", "",
			`{"alg":"ES256","typ":"jwt","exp":1700000010123,"mid":"m:QW:5z","kid":"1x7df4vuFUHYQCa7","method":"GET","host":"api.example.com:443","path":"/","query":"type=access&a=1"}`},
		{func(c *SoldoConfig) { c.HostWithPort = true }, "http://[::1]:8080/x", "",
			`{"alg":"ES256","typ":"jwt","exp":"1700000050123","mid":"m:QW:5z","kid":"1x7df4vuFUHYQCa7","method":"GET","host":"[::1]:8080","path":"/x"}`},
		{nil, "https://api.example.com/x", "override.example",
			`{"alg":"ES256","typ":"jwt","exp":"1700000050123","mid":"m:QW:5z","kid":"1x7df4vuFUHYQCa7","method":"GET","host":"override.example","path":"/x"}`},
	} {
		cfg := base
		if c.tweak != nil {
			c.tweak(&cfg)
		}
		ss, err := NewSoldoSigner(cfg, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("get", c.url, nil)
		if c.host != "" {
			req.Host = c.host
		}
		auth, err := ss.Sign(req, http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		jws := strings.TrimPrefix(auth, "Bearer ")
		parts := strings.Split(jws, ".")
		hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
		if len(parts) != 3 || parts[1] != "" || string(hdr) != c.want {
			t.Errorf("%s:\n got %s (%d parts)\nwant %s", c.url, hdr, len(parts), c.want)
		}
	}
	if s := fmt.Sprint(SoldoConfig{PrivateKeyPEM: "SECRETPEM", PrivateKeyPassword: "SECRETPW"}); strings.Contains(s, "SECRET") {
		t.Fatal(s)
	}
}
