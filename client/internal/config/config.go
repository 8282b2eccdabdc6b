// Package config is the configuration plumbing every provider shares: the problems of a
// configuration collected by field and variable ([Problems]), variables read from any source
// ([Env]), URL checks that agree with the transports ([CheckURL]), and the private key of a
// configuration in any form ([KeySource]).
package config

import (
	"strconv"
	"strings"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/internal/problems"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/transport"
)

// Problems collects the problems of one configuration while it is checked.
type Problems = problems.List

// NewProblems returns an empty collection for provider (as named in messages: "Pismo").
func NewProblems(provider string) *Problems { return problems.New(provider) }

// Problemf is a *client.ConfigError with one problem, for checks made after validation (a
// key that does not load, an algorithm the key cannot do).
func Problemf(provider, field, env, format string, args ...any) error {
	return problems.One(provider, field, env, format, args...)
}

// CheckURL adds a problem unless raw is empty or an absolute http(s) URL that credentials may
// be sent to: https, or plain http to a loopback host or when allowInsecure. The rule is the
// transport's own ([transport.NewOrigins]), so configuration and transport never disagree.
func CheckURL(p *Problems, raw, field, env string, allowInsecure bool) {
	if raw == "" {
		return
	}
	if _, err := transport.NewOrigins([]string{raw}, allowInsecure); err != nil {
		p.Add(field, env, "%s", strings.TrimPrefix(err.Error(), "finauth: transport: "))
	}
}

// Env reads configuration variables: os.LookupEnv in production, anything else in tests or
// a CLI that lays its flags over the environment. Values are trimmed.
type Env func(name string) (string, bool)

// String returns the variable's trimmed value, "" when unset.
func (e Env) String(name string) string {
	v, _ := e(name)
	return strings.TrimSpace(v)
}

// Secret returns the variable's value as a Secret.
func (e Env) Secret(name string) client.Secret { return redact.Secret(e.String(name)) }

// Duration reads a Go duration ("50s", "1h") or a whole number of seconds; a malformed value
// is a problem of field.
func (e Env) Duration(p *Problems, field, name string) time.Duration {
	v := e.String(name)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(secs) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.Add(field, name, "%q is not a duration (use e.g. 3600, 50s or 1h)", v)
		return 0
	}
	return d
}

// Bool reads true/false/1/0/yes/no/on/off; def when unset.
func (e Env) Bool(p *Problems, field, name string, def bool) bool {
	v := strings.ToLower(e.String(name))
	switch v {
	case "":
		return def
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	p.Add(field, name, "%q is not a boolean (use true or false)", v)
	return def
}

// PositiveInt reads a whole number above zero; 0 when unset.
func (e Env) PositiveInt(p *Problems, field, name, unit string) int64 {
	v := e.String(name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		p.Add(field, name, "%q is not a positive number of %s", v, unit)
		return 0
	}
	return n
}

// List splits a comma-separated value, dropping empty items.
func (e Env) List(name string) []string {
	var out []string
	for _, s := range strings.Split(e.String(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
