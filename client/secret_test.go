package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecret_RedactsEverywhereButConversion(t *testing.T) {
	t.Parallel()
	s := Secret("hunter2-passphrase")
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s), fmt.Sprintf(verb, []Secret{s}), fmt.Sprintf(verb, struct{ P Secret }{s}))
	}
	j, _ := json.Marshal(map[string]any{"p": s, "q": &s})
	txt, _ := s.MarshalText()
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "p", s)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "p", s, "group", struct{ P Secret }{s})
	outs = append(outs, string(j), string(txt), logs.String(), s.String(), s.GoString())
	for _, out := range outs {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("a secret shows: %s", out)
		}
	}
	if fmt.Sprint(s) != "[redacted]" || fmt.Sprintf("%q", s) != `"[redacted]"` || fmt.Sprint(Secret("")) != "" || string(j) != `{"p":"[redacted]","q":"[redacted]"}` {
		t.Fatalf("%v %q %v %s", s, s, Secret(""), j)
	}
	if string(s) != "hunter2-passphrase" {
		t.Fatal("the value itself is lost")
	}
	var back struct{ P Secret }
	if err := json.Unmarshal([]byte(`{"P":"from-a-file"}`), &back); err != nil || string(back.P) != "from-a-file" {
		t.Fatalf("a configuration file cannot fill a Secret: %v %q", err, string(back.P))
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://svc:pw@token.example/oauth?x=1": "https://svc:***@token.example/oauth?x=1",
		"https://svc@token.example/":             "https://svc@token.example/",
		"https://token.example/a@b":              "https://token.example/a@b",
		"not a url":                              "not a url",
		"":                                       "",
	} {
		t.Run(in, func(t *testing.T) {
			if got := RedactURL(in); got != want {
				t.Errorf("%q: %q, want %q", in, got, want)
			}
		})
	}
}

func TestProblems_CheckURLNamesTheVariableAndHidesPasswords(t *testing.T) {
	t.Parallel()
	p := NewProblems("Test")
	p.CheckURL("https://ok.example/token", "TokenURL", "X_TOKEN_URL", false)
	p.CheckURL("http://127.0.0.1:8080/token", "TokenURL", "X_TOKEN_URL", false)
	if p.Err() != nil {
		t.Fatalf("valid URLs refused: %v", p.Err())
	}
	p.CheckURL("ftp://svc:hunter2@files.example/", "TokenURL", "X_TOKEN_URL", false)
	p.CheckURL("http://svc:hunter2@api.example.com/", "APIURLs", "X_API_URL", false)
	p.CheckURL("http://api.example.com/", "APIURLs", "X_API_URL", true)
	err := p.Err()
	var ce *ConfigError
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
	var ce *ConfigError
	if err := p.Err(); !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("%v", err)
	}
}
