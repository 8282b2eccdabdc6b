package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/finauth/finauth/client/revolut"
)

const registerHelp = `usage: finauth register revolut [--self-signed-ssa --jwks-url URL --org-name NAME | --ssa FILE] [flags]
       finauth register revolut --show CLIENT_ID | --update CLIENT_ID [...] | --delete CLIENT_ID
  registers your application with Revolut by dynamic client registration: a PS256
  registration JWT (your signing key, REVOLUT_KEY_ID, whose kid the JWKS at your JWKS URL
  must hold with x5c) carrying the software statement, posted to /register over mutual TLS
  with your transport certificate (its subject DN is tls_client_auth_dn). No
  REVOLUT_CLIENT_ID is needed: it is what you get. Prints the client ID and the
  export REVOLUT_CLIENT_ID=... line (--json: Revolut's answer).
  The registration URL is REVOLUT_REGISTRATION_URL, default the token URL's origin +
  /register; the JWKS URL is --jwks-url or REVOLUT_JWKS_URL.
finauth register revolut --help lists its flags
`

// registerCmd handles "finauth register revolut".
func (a *app) registerCmd(args []string) error {
	if len(args) == 0 || args[0] != "revolut" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(a.stderr, registerHelp)
			return nil
		}
		return usagef("%s", strings.TrimSpace(registerHelp))
	}
	p := revolutCLI{}
	f := a.newFlags("register revolut", "register revolut [--self-signed-ssa --jwks-url URL --org-name NAME | --ssa FILE] [--show|--update|--delete CLIENT_ID] [flags]")
	// Revolut's flags, without those of the flow after registration (the client ID is what
	// registration gives; the API, the consent UI and the request object's audience are not
	// used by it).
	var bs []binding
	for _, b := range p.bindings() {
		switch b.flag {
		case "client-id", "api-url", "auth-url", "aud", "scope":
			continue
		}
		bs = append(bs, b)
	}
	f.bind(p.name(), bs...)
	p.ownFlags(f, "register")
	rf := registerFlags(a, f)
	pos, err := f.parse(args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("register revolut takes no arguments (got %q)", pos)
	}
	if count(*rf.show != "", *rf.update != "", *rf.del != "") > 1 {
		return usagef("give one of --show, --update and --delete")
	}
	o, err := variables(a, f, p)
	if err != nil {
		return err
	}
	cfg, err := revolut.ConfigFromLookup(o.lookup)
	if err = dropProblems(err, rf.notNeeded()...); err != nil {
		return err
	}
	reg, err := revolut.NewRegistrar(cfg, revolut.WithLogger(a.logger()))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	switch {
	case *rf.show != "":
		c, err := reg.Get(ctx, *rf.show)
		if err != nil {
			return &failure{err.Error()}
		}
		return a.printClient(c, true)
	case *rf.del != "":
		if err := reg.Delete(ctx, *rf.del); err != nil {
			return &failure{err.Error()}
		}
		fmt.Fprintf(a.stdout, "deleted %s\n", *rf.del)
		return nil
	}
	return a.register(ctx, reg, rf, cfg.RedirectURI)
}

// registerOpts are register revolut's own flags.
type registerOpts struct {
	selfSigned, printJWT, asJSON                                          *bool
	ssaFile, jwksURL, orgName, clientName, onBehalf, scopes, appType, aud *string
	iss, show, update, del                                                *string
}

func registerFlags(a *app, f *flags) registerOpts {
	return registerOpts{
		selfSigned: f.Bool("self-signed-ssa", false, "make a self-signed software statement (sandbox, eIDAS certificates) naming --jwks-url and --org-name/--client-name"),
		ssaFile:    f.String("ssa", "", "FILE: the software statement to register with (production with an Open Banking certificate: from the Open Banking directory)"),
		jwksURL:    f.String("jwks-url", a.env("REVOLUT_JWKS_URL"), "your public JWKS URL, org_jwks_endpoint of a self-signed software statement (REVOLUT_JWKS_URL)"),
		orgName:    f.String("org-name", "", "your organisation's legal name (org_name of a self-signed software statement)"),
		clientName: f.String("client-name", "", "the name users see in the Revolut app (software_client_name)"),
		onBehalf:   f.String("on-behalf-of", "", "software_on_behalf_of_org: the partner a solution provider registers for"),
		scopes:     f.String("scopes", strings.Join(revolut.DefaultRegistrationScopes, " "), "the scopes to register, space-separated (openid is required; accounts, payments, fundsconfirmations)"),
		appType:    f.String("application-type", "web", "web or mobile"),
		aud:        f.String("register-aud", revolut.DefaultRegistrationAudience, "the registration JWT's aud (1 to 18 letters and digits)"),
		iss:        f.String("iss", "", "the registration JWT's iss; default the software statement's software_id, else its org_name or software_client_name"),
		show:       f.String("show", "", "CLIENT_ID: print the registration of CLIENT_ID (GET /register/CLIENT_ID)"),
		update:     f.String("update", "", "CLIENT_ID: replace the registration of CLIENT_ID (PUT, signed with x-jws-signature; needs REVOLUT_TAN)"),
		del:        f.String("delete", "", "CLIENT_ID: delete the registration of CLIENT_ID"),
		printJWT:   f.Bool("print-jwt", false, "print the registration JWT instead of sending it"),
		asJSON:     f.Bool("json", false, "print Revolut's answer as JSON (client_id included)"),
	}
}

// notNeeded are the variables this use of register revolut does not need: never the client
// ID (registration gives one), the API, the consent UI or the request object's audience
// (the flow after it needs them); the redirect URI only to register or update; the token
// URL only for --show, --update and --delete (their client-credentials token).
func (rf registerOpts) notNeeded() []string {
	drop := []string{"REVOLUT_CLIENT_ID", "REVOLUT_API_URL", "REVOLUT_AUTH_URL", "REVOLUT_AUDIENCE"}
	if *rf.show != "" || *rf.del != "" {
		drop = append(drop, "REVOLUT_REDIRECT_URI")
	}
	if *rf.show == "" && *rf.update == "" && *rf.del == "" {
		drop = append(drop, "REVOLUT_TOKEN_URL")
	}
	return drop
}

// register registers (or, with --update, replaces) the application, or prints the
// registration JWT.
func (a *app) register(ctx context.Context, reg *revolut.Registrar, rf registerOpts, redirectURI string) error {
	r := revolut.Registration{Scopes: strings.Fields(*rf.scopes), Audience: *rf.aud, ApplicationType: *rf.appType, Issuer: *rf.iss}
	switch {
	case *rf.selfSigned && *rf.ssaFile != "":
		return usagef("give --ssa FILE or --self-signed-ssa, not both")
	case *rf.ssaFile != "":
		data, err := os.ReadFile(*rf.ssaFile)
		if err != nil {
			return usagef("--ssa: %v", err)
		}
		r.SoftwareStatement = strings.TrimSpace(string(data))
	case *rf.selfSigned:
		if *rf.jwksURL == "" {
			return usagef("--self-signed-ssa needs your JWKS URL: --jwks-url URL or REVOLUT_JWKS_URL (publish it first: finauth jwks serve, or jwks build for a static host)")
		}
		ssa, err := revolut.SelfSignedSSA(revolut.SoftwareStatement{JWKSURL: *rf.jwksURL, OrgName: *rf.orgName, SoftwareClientName: *rf.clientName,
			OnBehalfOfOrg: *rf.onBehalf, RedirectURIs: []string{redirectURI}})
		if err != nil {
			return usagef("%v", err)
		}
		r.SoftwareStatement = ssa
	default:
		return usagef("give the software statement: --ssa FILE (from the Open Banking directory), or --self-signed-ssa --jwks-url URL --org-name NAME (sandbox, eIDAS)")
	}
	if *rf.printJWT {
		jwt, err := reg.RegistrationJWT(r)
		if err != nil {
			return usagef("%v", err)
		}
		fmt.Fprintln(a.stdout, jwt)
		return nil
	}
	var c *revolut.Client
	var err error
	if *rf.update != "" {
		c, err = reg.Update(ctx, *rf.update, r)
	} else {
		c, err = reg.Register(ctx, r)
	}
	if err != nil {
		return &failure{err.Error()}
	}
	return a.printClient(c, *rf.asJSON)
}

// printClient prints a registration: its JSON, or the client ID and its export line.
func (a *app) printClient(c *revolut.Client, asJSON bool) error {
	if asJSON {
		_, err := fmt.Fprintf(a.stdout, "%s\n", c.Raw)
		return err
	}
	fmt.Fprintf(a.stdout, "client_id: %s\nscopes: %s\njwks: %s\nexport REVOLUT_CLIENT_ID=%s\n", terminalSafe(c.ClientID),
		terminalSafe(strings.Join(c.Scope, " ")), terminalSafe(c.OrgJWKSEndpoint), shellQuote(c.ClientID))
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it: as it is when every character is
// one no shell reads specially (letters, digits and @%+=:,./_-, as Python's shlex.quote has
// it: what client IDs hold, printed as before), else in single quotes, which nothing inside
// escapes (a quote in s ends them, is written escaped, and opens them again). What the CLI
// prints for a shell to eval is never a command of the server's.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// terminalSafe is s as it may be printed to a terminal: as it is when it is printable, else
// Go-quoted (no escape sequence, no second line).
func terminalSafe(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// env is the variable's value, "" when unset.
func (a *app) env(name string) string {
	v, _ := a.lookup(name)
	return v
}
