package main

import (
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// A kid chosen at keygen reaches jwk, jwk --set and sign without retyping, and openssl still
// reads both files.
func TestCLI_KeygenKidTravelsWithTheFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv, pub := dir+"/k.pem", dir+"/k.pub.pem"
	if r := finauth(t, nil, "", "keygen", "--alg", "ES256", "--kid", "chosen-kid", "--out", priv, "--pub", pub); r.code != exitOK {
		t.Fatalf("%+v", r)
	}
	for _, args := range [][]string{{"jwk", pub}, {"jwk", "--set", pub}, {"jwk", priv}} {
		if r := finauth(t, nil, "", args...); r.code != exitOK || !strings.Contains(r.stdout, `"kid": "chosen-kid"`) {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	s := finauth(t, map[string]string{"SOLDO_MEMBER_ID": "m"}, "", "sign", "soldo", "--key", priv, "-X", "POST", "--data", "body", "https://api.example.com/x")
	jwks := dir + "/set.json"
	j := finauth(t, nil, "", "jwk", "--set", pub)
	os.WriteFile(jwks, []byte(j.stdout), 0o600)
	if v := finauth(t, nil, "", "verify", "--jwks", jwks, "--payload", "body", s.stdout); s.code != exitOK || v.code != exitOK || !strings.Contains(v.stdout, `"kid": "chosen-kid"`) {
		t.Fatalf("sign %+v, verify --jwks %+v", s, v)
	}
	for _, args := range [][]string{{"pkey", "-in", priv, "-noout"}, {"pkey", "-pubin", "-in", pub, "-noout"}} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
}

// Issue 31: jwks serve sets every timeout of its server (found by name, so a timeout a
// later Go adds is caught too): slow or idle clients cannot hold it.
func TestJWKSServer_SetsEveryTimeout(t *testing.T) {
	v := reflect.ValueOf(jwksHTTPServer(http.NotFoundHandler())).Elem()
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() && strings.HasSuffix(f.Name, "Timeout") && v.Field(i).Int() <= 0 {
			t.Errorf("jwks serve's server has no %s", f.Name)
		}
	}
	if jwksHTTPServer(http.NotFoundHandler()).MaxHeaderBytes <= 0 {
		t.Error("no MaxHeaderBytes")
	}
}
