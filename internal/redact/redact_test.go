package redact

import (
	"bytes"
	"encoding/json"
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

func TestURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://svc:pw@token.example/oauth?x=1": "https://svc:***@token.example/oauth?x=1",
		"https://svc@token.example/":             "https://svc@token.example/",
		"https://token.example/a@b":              "https://token.example/a@b",
		"not a url":                              "not a url",
		"":                                       "",
	} {
		t.Run(in, func(t *testing.T) {
			if got := URL(in); got != want {
				t.Errorf("%q: %q, want %q", in, got, want)
			}
		})
	}
}
