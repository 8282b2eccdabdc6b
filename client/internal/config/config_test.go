package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/finauth/finauth/client"
)

func TestProblems_CheckURLNamesTheVariableAndHidesPasswords(t *testing.T) {
	t.Parallel()
	p := NewProblems("Test")
	CheckURL(p, "https://ok.example/token", "TokenURL", "X_TOKEN_URL", false)
	CheckURL(p, "http://127.0.0.1:8080/token", "TokenURL", "X_TOKEN_URL", false)
	if p.Err() != nil {
		t.Fatalf("valid URLs refused: %v", p.Err())
	}
	CheckURL(p, "ftp://svc:hunter2@files.example/", "TokenURL", "X_TOKEN_URL", false)
	CheckURL(p, "http://svc:hunter2@api.example.com/", "APIURLs", "X_API_URL", false)
	CheckURL(p, "http://api.example.com/", "APIURLs", "X_API_URL", true)
	err := p.Err()
	var ce *client.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 2 || ce.Problems[0].Env != "X_TOKEN_URL" || ce.Problems[1].Env != "X_API_URL" {
		t.Fatalf("%v", err)
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "svc:***@") || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("%v", err)
	}
}

func TestEnv_ParsesAndNamesProblems(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"D1": "90", "D2": "1m30s", "D3": "soon", "B1": "Yes", "B2": "maybe", "L": " a, ,b ", "N1": "12", "N2": "-1", "S": " pw "}
	env := Env(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	p := NewProblems("Test")
	if env.Duration(p, "D", "D1") != 90e9 || env.Duration(p, "D", "D2") != 90e9 || env.Duration(p, "D", "UNSET") != 0 {
		t.Fatal("durations")
	}
	if !env.Bool(p, "B", "B1", false) || !env.Bool(p, "B", "UNSET", true) || env.PositiveInt(p, "N", "N1", "bytes") != 12 {
		t.Fatal("booleans or numbers")
	}
	if l := env.List("L"); len(l) != 2 || l[0] != "a" || l[1] != "b" || string(env.Secret("S")) != "pw" {
		t.Fatal("list or secret")
	}
	env.Duration(p, "D", "D3")
	env.Bool(p, "B", "B2", false)
	env.PositiveInt(p, "N", "N2", "bytes")
	var ce *client.ConfigError
	if err := p.Err(); !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("%v", err)
	}
}
