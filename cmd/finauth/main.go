// Command finauth replaces the openssl commands, online JWK converters and JWT debuggers of
// the Pismo and Soldo onboarding documents, tries a real configuration, and shows finauth at
// work on embedded mock servers (finauth demo).
//
// Exit status: 0 success; 1 a verification failed or an HTTP status >= 400 (or the network
// failed); 2 bad usage or configuration (the message names the flag or variable); 130 a load
// interrupted with Ctrl-C (after its summary).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	finauthversion "github.com/finauth/finauth/internal/version"

	_ "github.com/finauth/finauth/signer/awskms" // awskms: key URIs
	_ "github.com/finauth/finauth/signer/pkcs11" // pkcs11: key URIs (a cgo build)

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/tokencache/redisstore"
)

const (
	exitOK          = 0
	exitFail        = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report Ctrl-C
)

// errInterrupted ends a command the user interrupted (Ctrl-C) after it said what it did.
var errInterrupted = errors.New("interrupted")

// app holds what a command may touch, so that tests run commands in-process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
	now            func() time.Time
	stderrIsTTY    bool
	// store is the shared token store the command made (nil without FINAUTH_REDIS_URL);
	// load reports its counters.
	store *redisstore.Store
}

func main() {
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookup: os.LookupEnv, now: time.Now}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		a.stderrIsTTY = true
	}
	os.Exit(a.run(os.Args[1:]))
}

var commands = []struct {
	name, summary string
	run           func(a *app, args []string) error
}{
	{"keygen", "make a key pair: PKCS#8 private key (0600), public PEM, public JWK on stdout", (*app).keygen},
	{"jwk", "print the public JWK (or JWKS with --set) of a key file in any format", (*app).jwk},
	{"jwks", "jwks build|serve: print or serve the JWKS to publish (x5c and x5t#S256 from certificates)", (*app).jwks},
	{"register", "register revolut: register your application by dynamic client registration (gives the client ID)", (*app).registerCmd},
	{"mint", "mint " + servingNames[minter]("|") + ": print a signed Pismo JWT, Mia-Platform client assertion or Revolut request object", (*app).mint},
	{"sign", "sign " + servingNames[requestSigner]("|") + ": print the Authorization value for a Soldo (PSD2 via Token.io) request, or the RFC 9421 signature headers of a request", (*app).sign},
	{"verify", "verify a JWS/JWT (detached with --payload); print header and claims", (*app).verify},
	{"decode", "print a JWT's header and claims WITHOUT verifying", (*app).decode},
	{"token", "token " + servingNames[tokenSource]("|") + ": get a token and print it (redacted)", (*app).token},
	{"authorize", "authorize revolut: print the consent authorisation URL to send the user to", (*app).authorize},
	{"call", "make one authenticated request (--profile " + servingNames[caller]("|") + ")", (*app).call},
	{"load", "send N requests (or for a duration) with concurrency C; print a summary", (*app).load},
	{"check", "check " + servingNames[checker]("|") + ": the configuration, key, one token request, clock, Redis and certificates, for a deploy or a canary (exit 0 ok, 1 failed, 2 configuration)", (*app).check},
	{"demo", "run Pismo, Soldo, Soldo Business, Mia-Platform, OAuth 2.0 (DPoP, RFC 9421) and Revolut mocks in-process and show finauth handling them", (*app).demo},
}

func (a *app) run(args []string) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version") {
		fmt.Fprintln(a.stdout, version())
		return exitOK
	}
	if len(args) == 0 {
		a.usage(a.stderr) // a misuse: the usage goes with the errors
		return exitUsage
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		a.usage(a.stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return a.exit(c.run(a, args[1:]))
		}
	}
	fmt.Fprintf(a.stderr, "finauth: unknown command %q\n\n", args[0])
	a.usage(a.stderr)
	return exitUsage
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: finauth <command> [flags] [args]    (finauth <command> --help for its flags)")
	fmt.Fprintln(w)
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprint(w, topHelpFooter)
}

// topHelpFooter ends the top-level help: what else there is to know before the first command.
const topHelpFooter = `
  finauth --version       the build (module version, VCS revision, Go version)

Each provider reads its settings from environment variables (PISMO_*, SOLDO_*,
SOLDO_BUSINESS_*, MIA_*, REVOLUT_*; call --profile NAME --help and token NAME --help list them beside their flags,
which override them), and FINAUTH_REDIS_URL and FINAUTH_CACHE_KEY share tokens between
processes (call --help). Exit status: 0 success; 1 a verification failed or an HTTP status
>= 400; 2 bad usage or configuration (the flag or variable is named); 130 a load interrupted
with Ctrl-C, after its summary.

Two Soldo APIs: soldo signs for Soldo's PSD2 interface (run by Token.io, a detached JWS);
soldo-business is the Soldo Business API v2 that Soldo's customers call (api.soldo.com).
`

// version names the module version and the VCS revision the binary was built from.
func version() string { return finauthversion.Read().String() }

// usageError is a mistake in the command line: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// failure is a verification or HTTP failure already explained: exit 1.
type failure struct{ msg string }

func (e *failure) Error() string { return e.msg }

// exit maps an error to the exit status and says what went wrong on stderr.
func (a *app) exit(err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var ce *client.ConfigError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(a.stderr, "finauth: interrupted")
		return exitInterrupted
	case errors.As(err, &ue):
		fmt.Fprintln(a.stderr, "finauth:", oneFinauth(ue.msg))
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintln(a.stderr, "finauth: configuration problems (flags override the environment variables):")
		for _, p := range ce.Problems {
			name := p.Env
			if f := flagFor()[p.Env]; f != "" {
				name = f + " / " + p.Env
			}
			reason := p.Reason
			if prefix, _, ok := strings.Cut(p.Env, "_"); ok && strings.Contains(reason, "plain http") {
				reason += "; to allow it anyway: --allow-insecure-http or " + prefix + "_ALLOW_INSECURE_HTTP=true"
			}
			fmt.Fprintf(a.stderr, "  %s: %s\n", name, reason)
		}
		return exitUsage
	}
	fmt.Fprintln(a.stderr, "finauth:", oneFinauth(err.Error()))
	return exitFail
}

// finauthPrefix is how each of finauth's packages starts its errors.
var finauthPrefix = regexp.MustCompile(`(^|: |\()finauth: `)

// oneFinauth drops the "finauth: " each layer of the library put before its part, so that
// what the CLI prints starts with one "finauth:" and each layer's context follows once:
// "finauth: Get "…": transport: cannot get a token: token exchange failed: …", not
// "finauth: Get "…": finauth: transport: … finauth: token exchange failed: …".
func oneFinauth(msg string) string {
	return finauthPrefix.ReplaceAllString(msg, "$1")
}

// sharedCacheHelp documents the variables of the shared token cache.
const sharedCacheHelp = `
environment (pismo, soldo-business, mia and revolut profiles): share tokens with other processes through Redis
  FINAUTH_REDIS_URL        redis://[user:password@]host:port[/db], rediss:// for TLS;
                           Sentinel: redis+sentinel://[:password@]host:port[,host:port...]/master
                           Cluster:  redis+cluster://[:password@]host:port[,host:port...]
  FINAUTH_CACHE_KEY        base64 32-byte key(s) encrypting the tokens, comma-separated, the
                           first encrypts (required with FINAUTH_REDIS_URL; openssl rand -base64 32)
  FINAUTH_CACHE_NAMESPACE  prefix of the Redis keys (default finauth)
  FINAUTH_REDIS_TIMEOUT    bound of one Redis call (default 100ms): a slower Redis counts as down
  FINAUTH_REDIS_SLOW_REPLY latency budget of a reply (default 20ms, off: none): replies over it
                           for a second make each process cache alone until Redis is fast again
  FINAUTH_REDIS_SENTINEL_PASSWORD  the sentinels' own password, if they ask for one
`

// helpFooters are printed after a command's flags by --help.
var helpFooters = map[string]string{"call": sharedCacheHelp + otelHelp, "load": sharedCacheHelp + otelHelp}

// readData reads --data/--payload values: @FILE, - (stdin) or the text itself.
func (a *app) readData(v string) ([]byte, error) {
	switch {
	case v == "-":
		return io.ReadAll(a.stdin)
	case strings.HasPrefix(v, "@"):
		b, err := os.ReadFile(v[1:])
		if err != nil {
			return nil, usagef("cannot read %s: %v", v[1:], errors.Unwrap(err))
		}
		return b, nil
	}
	return []byte(v), nil
}

// readToken reads a token argument, or stdin for "-".
func (a *app) readToken(args []string) (string, error) {
	if len(args) != 1 {
		return "", usagef("give exactly one token (or - to read it from stdin)")
	}
	tok := args[0]
	if tok == "-" {
		b, err := io.ReadAll(io.LimitReader(a.stdin, 1<<20))
		if err != nil {
			return "", err
		}
		tok = string(b)
	}
	return bareToken(tok), nil
}

// bareToken takes what sign prints ("Bearer …", or a whole "Authorization: Bearer …" line)
// down to the token itself.
func bareToken(s string) string {
	s = strings.TrimSpace(s)
	if k, v, ok := strings.Cut(s, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Authorization") {
		s = strings.TrimSpace(v)
	}
	if len(s) > 7 && strings.EqualFold(s[:7], "Bearer ") {
		s = strings.TrimSpace(s[7:])
	}
	return s
}
