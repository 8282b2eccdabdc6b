package client

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/finauth/finauth/transport"
)

// ErrConfig is wrapped by every *ConfigError.
var ErrConfig = errors.New("finauth: client: invalid configuration")

// Problem is one configuration problem: the field, its environment variable, and what is
// wrong. It never holds a secret value.
type Problem struct {
	Field  string // e.g. "TokenURL"
	Env    string // e.g. "PISMO_TOKEN_URL"
	Reason string
}

// String names the variable (and field) and the problem.
func (p Problem) String() string {
	name := p.Env
	if name == "" {
		name = p.Field
	} else if p.Field != "" {
		name += " (" + p.Field + ")"
	}
	return name + ": " + p.Reason
}

// ConfigError lists every problem found in a configuration, so that all can be fixed at once.
type ConfigError struct {
	Provider string
	Problems []Problem
}

// Error lists the problems, one per line after the first.
func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "finauth: client: %s configuration has %d problem(s):", e.Provider, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// Problems collects the problems of one provider's configuration while it is checked, so that
// they are all reported at once. The zero value is not usable: make it with [NewProblems].
type Problems struct {
	provider string
	list     []Problem
}

// NewProblems returns an empty collection for provider (as named in messages: "Pismo").
func NewProblems(provider string) *Problems { return &Problems{provider: provider} }

// Add records a problem of field (environment variable env). The reason must not hold a
// secret value; URLs in it should go through [RedactURL].
func (p *Problems) Add(field, env, format string, args ...any) {
	p.list = append(p.list, Problem{Field: field, Env: env, Reason: fmt.Sprintf(format, args...)})
}

// Err returns the problems as a *ConfigError, or nil when there is none.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ConfigError{Provider: p.provider, Problems: append([]Problem(nil), p.list...)}
}

// Problemf is a *ConfigError with one problem, for checks made after validation (a key that
// does not load, an algorithm the key cannot do).
func Problemf(provider, field, env, format string, args ...any) error {
	p := NewProblems(provider)
	p.Add(field, env, format, args...)
	return p.Err()
}

// Require adds a problem when v is empty or blank.
func (p *Problems) Require(v, field, env string) {
	if strings.TrimSpace(v) == "" {
		p.Add(field, env, "required")
	}
}

// CheckURL adds a problem unless raw is empty or an absolute http(s) URL that credentials may
// be sent to: https, or plain http to a loopback host or when allowInsecure. The rule is the
// transport's own ([transport.NewOrigins]), so configuration and transport never disagree.
func (p *Problems) CheckURL(raw, field, env string, allowInsecure bool) {
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
func (e Env) Secret(name string) Secret { return Secret(e.String(name)) }

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
