// Package problems is the one shape of a configuration error in the module: a
// [*ConfigError] listing every [Problem] of a configuration at once, each naming its field
// and environment variable. The provider packages re-declare the types in package client;
// tokencache/redisstore returns the same type, so that a caller (the CLI) handles every
// configuration error the same way. It is a leaf: it imports nothing of the module.
package problems

import (
	"errors"
	"fmt"
	"strings"
)

// ErrConfig is wrapped by every *ConfigError.
var ErrConfig = errors.New("finauth: invalid configuration")

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

// ConfigError lists every problem found in a configuration, so that all can be fixed at
// once. Provider names what was configured ("Pismo", "redisstore").
type ConfigError struct {
	Provider string
	Problems []Problem
}

// Error lists the problems, one per line after the first.
func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "finauth: %s configuration has %d problem(s):", e.Provider, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// List collects the problems of one configuration while it is checked, so that they are
// all reported at once. The zero value is not usable: make it with [New].
type List struct {
	provider string
	list     []Problem
}

// New returns an empty list for provider (as named in messages: "Pismo").
func New(provider string) *List { return &List{provider: provider} }

// Add records a problem of field (environment variable env). The reason must not hold a
// secret value; URLs in it go through redact.URL.
func (p *List) Add(field, env, format string, args ...any) {
	p.list = append(p.list, Problem{Field: field, Env: env, Reason: fmt.Sprintf(format, args...)})
}

// Require adds a problem when v is empty or blank.
func (p *List) Require(v, field, env string) {
	if strings.TrimSpace(v) == "" {
		p.Add(field, env, "required")
	}
}

// Err returns the problems as a *ConfigError, or nil when there is none.
func (p *List) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ConfigError{Provider: p.provider, Problems: append([]Problem(nil), p.list...)}
}

// One is a *ConfigError with one problem, for checks made after validation (a key that does
// not load, an algorithm the key cannot do).
func One(provider, field, env, format string, args ...any) error {
	p := New(provider)
	p.Add(field, env, format, args...)
	return p.Err()
}
