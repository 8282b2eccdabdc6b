package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strings"

	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/transport"
)

// provider is one provider's part of the CLI: its flags over its variables, and what the
// commands ask of it. Each provider lives in its own file (pismo.go, soldo.go, mia.go,
// revolut.go, none.go) and is one line of providers; the commands know providers only
// through this interface and the optional ones below (tokenSource, minter, caller, ...).
type provider interface {
	// name is the profile and sub-command name: pismo, soldo, ...
	name() string
	// about describes what the provider does for cmd, for help lists ("" when it does
	// nothing for cmd).
	about(cmd string) string
	// bindings are the flags that set its variables (or request choices it reads itself).
	bindings() []binding
	// ownFlags registers the flags only it has for cmd (pismo's --account, ...).
	ownFlags(f *flags, cmd string)
}

// tokenSource gets one token (finauth token NAME).
type tokenSource interface {
	provider
	token(ctx context.Context, a *app, f *flags) (tokencache.Token, error)
}

// minter makes the signed JWT a token request sends (finauth mint NAME).
type minter interface {
	provider
	mint(a *app, f *flags) (string, error)
}

// requestSigner signs one request (finauth sign NAME).
type requestSigner interface {
	provider
	sign(a *app, f *flags, req *http.Request, body []byte) (string, error)
}

// authorizer makes the URL a user approves a consent at (finauth authorize NAME).
type authorizer interface {
	provider
	authorize(a *app, f *flags) (string, error)
}

// caller authenticates requests (finauth call and load --profile NAME).
type caller interface {
	provider
	connect(a *app, f *flags, n *network) (*session, error)
}

// session is a caller's transport for one call or load.
type session struct {
	rt http.RoundTripper
	// origins receive the credentials (nil: none, the profile sends no credentials).
	origins *transport.Origins
	// variable configures the origins; def says where they come from when it is not set.
	variable, def string
	// prepare gives a request what the profile's flags ask (an account, a consent).
	prepare func(*http.Request) *http.Request
	// authorizes: the profile sets Authorization (replacing a -H Authorization).
	authorizes bool
	// counters: token requests, 401 replays; nil for a profile without tokens.
	exchanges, replays func() uint64
	close              func()
	// telemetry is the run's OpenTelemetry SDK (load reports its counts).
	telemetry *telemetryRun
}

// bearerTransport is what a bearer-token provider's Transport has.
type bearerTransport interface {
	http.RoundTripper
	Close() error
	Stats() tokencache.Stats
	Replays() uint64
	Origins() *transport.Origins
}

// bearerSession is the session of a bearer-token provider whose transport build makes over
// the network's base transport and token client and the shared token store; variable (with
// its default def) configures its origins.
func bearerSession(a *app, n *network, variable, def string, build func(base http.RoundTripper, tokenClient *http.Client, store tokencache.Store) (bearerTransport, error)) (*session, error) {
	base, tokenClient, err := n.base()
	if err != nil {
		return nil, err
	}
	store, closeStore, err := a.tokenStore()
	if err != nil {
		return nil, err
	}
	t, err := build(base, tokenClient, store)
	if err != nil {
		closeStore()
		return nil, err
	}
	return &session{rt: t, origins: t.Origins(), variable: variable, def: def, authorizes: true,
		exchanges: func() uint64 { return t.Stats().Fetches }, replays: t.Replays,
		close: func() { t.Close(); closeStore() }}, nil
}

// providers are the CLI's providers, in the order help lists them.
var providers = []provider{pismoCLI{}, soldoCLI{}, soldoBusinessCLI{}, miaCLI{}, oauth2CLI{}, revolutCLI{}, rfc9421CLI{}, noneCLI{}}

// serving lists the providers that implement T, and so serve cmd.
func serving[T provider]() []T {
	var out []T
	for _, p := range providers {
		if t, ok := p.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// servingNames are the names of the providers that implement T, separated by sep: help and
// completion lists derived from the providers, never kept by hand.
func servingNames[T provider](sep string) string {
	var names []string
	for _, p := range serving[T]() {
		names = append(names, p.name())
	}
	return strings.Join(names, sep)
}

// pick handles "finauth CMD NAME ...": the provider NAME among those that serve cmd, and
// the arguments after it. Without one, or with --help, it lists them (exit 0 for --help, a
// usage error otherwise, naming an unknown one).
func pick[T provider](a *app, cmd string, args []string) (T, []string, error) {
	subs := serving[T]()
	var zero T
	names := make([]string, len(subs))
	width := 0
	for i, s := range subs {
		names[i] = s.name()
		width = max(width, len(names[i]))
	}
	if len(args) > 0 {
		for _, s := range subs {
			if args[0] == s.name() {
				return s, args[1:], nil
			}
		}
	}
	list := "usage: finauth " + cmd + " " + strings.Join(names, "|") + " [flags]\n"
	for _, s := range subs {
		list += fmt.Sprintf("  %-*s  %s\n", width, s.name(), s.about(cmd))
	}
	list += "finauth " + cmd + " NAME --help lists its flags"
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help"):
		fmt.Fprintln(a.stderr, list)
		return zero, nil, flag.ErrHelp
	case len(args) > 0:
		return zero, nil, usagef("%s: unknown %q\n%s", cmd, args[0], list)
	}
	return zero, nil, usagef("%s", list)
}

// profileHelp is --profile's help: the callers and what each does.
func profileHelp() string {
	var parts []string
	for _, c := range serving[caller]() {
		parts = append(parts, c.name()+" ("+c.about("call")+")")
	}
	return strings.Join(parts, ", ")
}

// profileNames is "pismo|soldo|...", for usage lines.
func profileNames() string {
	var names []string
	for _, c := range serving[caller]() {
		names = append(names, c.name())
	}
	return strings.Join(names, "|")
}

// register binds p's flags and its own flags for cmd.
func register(f *flags, p provider, cmd string) {
	f.bind(p.name(), p.bindings()...)
	p.ownFlags(f, cmd)
}

// variables lays the flags given over the environment for p.
func variables(a *app, f *flags, p provider) (*overlay, error) { return f.overlay(a, p.bindings()) }
