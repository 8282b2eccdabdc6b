package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/finauth/finauth/client"
)

// binding ties a flag to what it sets for one provider: a variable it overrides
// (PISMO_TOKEN_URL for --token-url), or nothing (a request choice the provider reads
// itself, such as revolut's --scope).
type binding struct {
	flag, variable, help string
	kind                 bindKind
	// clears is a variable the flag empties when given: a --key file wins over the key's
	// PEM text in the environment.
	clears string
}

// bindKind says how a flag's value becomes its variable's.
type bindKind uint8

const (
	text     bindKind = iota // --flag VALUE sets VARIABLE=VALUE
	switchOn                 // --flag (a boolean) sets VARIABLE=true
	inverted                 // --flag (a boolean) sets VARIABLE=false
	indirect                 // --flag NAME sets VARIABLE to the value of variable NAME
	own                      // the provider registers and applies the flag itself (--claim)
)

// Bindings every provider with a key has, under its variables' prefix.
func keyBindings(prefix string) []binding {
	return []binding{
		{flag: "key", variable: prefix + "_PRIVATE_KEY_FILE", help: "private key file", clears: prefix + "_PRIVATE_KEY"},
		{flag: "kid", variable: prefix + "_KEY_ID", help: "key ID"},
		{flag: "passphrase-env", variable: prefix + "_PRIVATE_KEY_PASSWORD", help: "name of the environment variable holding the key's passphrase", kind: indirect},
	}
}

// originBindings are the API origins and plain-http flags of a provider.
func originBindings(prefix string) []binding {
	return []binding{
		{flag: "api-url", variable: prefix + "_API_URL", help: "allowed API origin(s), comma-separated"},
		{flag: "allow-insecure-http", variable: prefix + "_ALLOW_INSECURE_HTTP", help: "permit plain http to hosts that are not loopback", kind: switchOn},
	}
}

// flags is a command's flag set with the flags of the providers it serves: a flag several
// providers have is registered once, its help naming each one's variable.
type flags struct {
	*flag.FlagSet
	values map[string]*string
	bools  map[string]*bool
	helps  map[string][]helpPart
	order  []string
	lists  map[string]*multi
}

// newFlags returns a flag set whose --help goes to stderr. A flag error is reported once, by
// exit, with a short usage line (the flag package would print it and every flag's help).
func (a *app) newFlags(name, synopsis string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	usages.Store(fs, flagHelp{
		short: "usage: finauth " + synopsis + "   (finauth " + name + " --help for its flags)",
		full: func() {
			fmt.Fprintf(a.stderr, "usage: finauth %s\n", synopsis)
			if hasFlags(fs) {
				fmt.Fprintln(a.stderr, "\nflags:")
				fs.SetOutput(a.stderr)
				fs.PrintDefaults()
				fs.SetOutput(io.Discard)
			}
			if footer, ok := helpFooters[name]; ok {
				fmt.Fprint(a.stderr, footer)
			}
		},
	})
	return &flags{FlagSet: fs, values: map[string]*string{}, bools: map[string]*bool{}, helps: map[string][]helpPart{}, lists: map[string]*multi{}}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// bind registers the bindings of provider p (named in help when several share a flag).
func (f *flags) bind(p string, bs ...binding) {
	for _, b := range bs {
		if b.kind == own {
			continue
		}
		help := b.help
		if b.variable != "" {
			help += " (" + b.variable
			if b.kind == switchOn {
				help += "=true"
			} else if b.kind == inverted {
				help += "=false"
			}
			help += ")"
		}
		if _, ok := f.helps[b.flag]; !ok {
			f.order = append(f.order, b.flag)
			if b.kind == switchOn || b.kind == inverted {
				f.bools[b.flag] = f.Bool(b.flag, false, "")
			} else {
				f.values[b.flag] = f.String(b.flag, "", "")
			}
		}
		if part := (helpPart{p, help}); !slices.Contains(f.helps[b.flag], part) {
			f.helps[b.flag] = append(f.helps[b.flag], part)
		}
	}
}

// helpPart is what a flag does for one provider ("" for the command itself).
type helpPart struct{ provider, help string }

// parse settles the help of shared flags, then parses args (flags anywhere among the
// positionals) and returns the positionals.
func (f *flags) parse(args []string) ([]string, error) {
	for _, name := range f.order {
		parts := f.helps[name]
		texts := make([]string, len(parts))
		for i, p := range parts {
			texts[i] = p.help
			if len(parts) > 1 && p.provider != "" { // one provider: no need to name it
				texts[i] = p.provider + ": " + p.help
			}
		}
		f.Lookup(name).Usage = strings.Join(texts, "; ")
	}
	return parse(f.FlagSet, args)
}

// get is a string flag's value ("" when not given or not registered).
func (f *flags) get(name string) string {
	if v, ok := f.values[name]; ok {
		return *v
	}
	return ""
}

// on is a boolean flag's value.
func (f *flags) on(name string) bool {
	if v, ok := f.bools[name]; ok {
		return *v
	}
	return false
}

// overlay lays the flags given over the environment, as bs say.
func (f *flags) overlay(a *app, bs []binding) (*overlay, error) {
	o := &overlay{base: a.lookup, set: map[string]string{}}
	for _, b := range bs {
		if b.variable == "" || b.kind == own {
			continue
		}
		switch b.kind {
		case switchOn:
			if f.on(b.flag) {
				o.set[b.variable] = "true"
			}
		case inverted:
			if f.on(b.flag) {
				o.set[b.variable] = "false"
			}
		case indirect:
			if name := f.get(b.flag); name != "" {
				v, ok := a.lookup(name)
				if !ok {
					return nil, usagef("--%s %s: that variable is not set", b.flag, name)
				}
				o.set[b.variable] = v
			}
		default:
			if v := f.get(b.flag); v != "" {
				o.set[b.variable] = v
				if b.clears != "" {
					o.set[b.clears] = ""
				}
			}
		}
	}
	return o, nil
}

// overlay is the environment with flag values laid over it.
type overlay struct {
	base func(string) (string, bool)
	set  map[string]string
}

func (o *overlay) lookup(name string) (string, bool) {
	if v, ok := o.set[name]; ok {
		return v, true
	}
	return o.base(name)
}

// flagFor names the flag that sets each variable, for error messages: every provider's
// bindings, read once.
var flagFor = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, p := range providers {
		for _, b := range p.bindings() {
			if b.variable == "" {
				continue
			}
			name := "--" + b.flag
			if b.kind == indirect {
				name += " VAR"
			}
			m[b.variable] = name
		}
	}
	return m
})

// dropProblems removes the named variables' problems from a *client.ConfigError (a command
// that does not use them should not ask for them).
func dropProblems(err error, names ...string) error {
	var ce *client.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	kept := *ce
	kept.Problems = nil
	for _, p := range ce.Problems {
		if !slices.Contains(names, p.Env) {
			kept.Problems = append(kept.Problems, p)
		}
	}
	if len(kept.Problems) == 0 {
		return nil
	}
	return &kept
}

// flagHelp is a flag set's short usage line (for errors) and full help (for --help).
type flagHelp struct {
	short string
	full  func()
}

// usages are the flagHelp of the flag sets (*flag.FlagSet -> flagHelp).
var usages sync.Map

// parse parses flags wherever they stand among the arguments and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			v, _ := usages.Load(fs)
			help, _ := v.(flagHelp)
			if errors.Is(err, flag.ErrHelp) {
				if help.full != nil {
					help.full()
				}
				return nil, err
			}
			return nil, &usageError{err.Error() + "\n" + help.short}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// multi is a repeatable flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ", ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// text registers a string flag a provider reads itself (unless registered already).
func (f *flags) text(name, help string) {
	if _, ok := f.values[name]; !ok && f.Lookup(name) == nil {
		f.values[name] = f.String(name, "", help)
	}
}

// boolean registers a boolean flag a provider reads itself (unless registered already).
func (f *flags) boolean(name, help string) {
	if _, ok := f.bools[name]; !ok && f.Lookup(name) == nil {
		f.bools[name] = f.Bool(name, false, help)
	}
}

// many registers a repeatable flag a provider reads itself (unless registered already).
func (f *flags) many(name, help string) {
	if f.Lookup(name) == nil {
		f.lists[name] = new(multi)
		f.Var(f.lists[name], name, help)
	}
}

// list is a repeatable flag's values.
func (f *flags) list(name string) []string {
	if m, ok := f.lists[name]; ok {
		return *m
	}
	return nil
}
