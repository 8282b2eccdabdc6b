package client

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/finauth/finauth/signer"
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

// problems collects Problems while a configuration is checked.
type problems struct {
	list []Problem
}

func (p *problems) add(field, env, format string, args ...any) {
	p.list = append(p.list, Problem{Field: field, Env: env, Reason: fmt.Sprintf(format, args...)})
}

func (p *problems) err(provider string) error {
	if len(p.list) == 0 {
		return nil
	}
	return &ConfigError{Provider: provider, Problems: p.list}
}

// require adds a problem when v is empty.
func (p *problems) require(v, field, env string) {
	if strings.TrimSpace(v) == "" {
		p.add(field, env, "required")
	}
}

// checkURL adds a problem unless raw is an absolute http(s) URL; plain http only for
// loopback hosts or when allowInsecure.
func (p *problems) checkURL(raw, field, env string, allowInsecure bool) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		p.add(field, env, "%q is not an absolute http(s) URL", raw)
		return
	}
	if u.Scheme == "http" && !allowInsecure && !transport.IsLoopback(u.Hostname()) {
		p.add(field, env, "plain http to %s is refused: use https (plain http is allowed only for loopback hosts, or with AllowInsecureHTTP)", u.Host)
	}
}

// env is a source of environment variables (os.LookupEnv in production).
type env func(string) (string, bool)

func (e env) get(name string) string {
	v, _ := e(name)
	return strings.TrimSpace(v)
}

// duration reads a Go duration ("50s", "1h") or a whole number of seconds.
func (e env) duration(p *problems, field, name string) time.Duration {
	v := e.get(name)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(secs) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.add(field, name, "%q is not a duration (use e.g. 3600, 50s or 1h)", v)
		return 0
	}
	return d
}

// boolean reads true/false/1/0/yes/no.
func (e env) boolean(p *problems, field, name string, def bool) bool {
	v := strings.ToLower(e.get(name))
	switch v {
	case "":
		return def
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	p.add(field, name, "%q is not a boolean (use true or false)", v)
	return def
}

// list splits a comma-separated value.
func (e env) list(name string) []string {
	var out []string
	for _, s := range strings.Split(e.get(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// redacted shows whether a secret is set without showing it.
func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}

// checkKeySource adds a problem unless exactly one key source is set.
func (p *problems) checkKeySource(prefix string, key *signer.Key, pemText, file string) {
	switch {
	case key != nil:
	case pemText != "" && file != "":
		p.add("PrivateKeyPEM", prefix+"_PRIVATE_KEY", "set either %s_PRIVATE_KEY or %s_PRIVATE_KEY_FILE, not both", prefix, prefix)
	case pemText == "" && file == "":
		p.add("PrivateKeyFile", prefix+"_PRIVATE_KEY_FILE", "required (or %s_PRIVATE_KEY with the PEM text)", prefix)
	}
}

// loadKey returns key, or loads it from PEM text or a file; a failure is a *ConfigError
// naming the variable (the signer's message never holds key material).
func loadKey(provider, prefix string, key *signer.Key, pemText, file, password string) (*signer.Key, error) {
	if key != nil {
		return key, nil
	}
	var opts []signer.Option
	if password != "" {
		opts = append(opts, signer.WithPassphrase([]byte(password)))
	}
	var err error
	problem := Problem{Field: "PrivateKeyFile", Env: prefix + "_PRIVATE_KEY_FILE"}
	if pemText != "" {
		problem = Problem{Field: "PrivateKeyPEM", Env: prefix + "_PRIVATE_KEY"}
		key, err = signer.ParseKey([]byte(pemText), opts...)
	} else {
		key, err = signer.LoadKeyFile(file, opts...)
	}
	if err != nil {
		problem.Reason = err.Error()
		return nil, &ConfigError{Provider: provider, Problems: []Problem{problem}}
	}
	return key, nil
}
