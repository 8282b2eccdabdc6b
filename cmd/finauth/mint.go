package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/finauth/finauth/internal/redact"
)

// mint prints the signed JWT a provider's token request sends (or its request object).
func (a *app) mint(args []string) error {
	p, args, err := pick[minter](a, "mint", args)
	if err != nil {
		return err
	}
	cmd := "mint " + p.name()
	f := a.newFlags(cmd, cmd+" [flags]")
	register(f, p, "mint")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("%s takes no arguments (got %q)", cmd, pos)
	}
	jwt, err := p.mint(a, f)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, jwt)
	return nil
}

// authorize prints the URL a user approves a consent at.
func (a *app) authorize(args []string) error {
	p, args, err := pick[authorizer](a, "authorize", args)
	if err != nil {
		return err
	}
	cmd := "authorize " + p.name()
	f := a.newFlags(cmd, cmd+" --consent ID [--scope payments|accounts] [--state S] [flags]")
	register(f, p, "authorize")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("%s takes no arguments (got %q)", cmd, pos)
	}
	link, err := p.authorize(a, f)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, link)
	return nil
}

// sign prints the signature header of one request.
func (a *app) sign(args []string) error {
	p, args, err := pick[requestSigner](a, "sign", args)
	if err != nil {
		return err
	}
	cmd := "sign " + p.name()
	f := a.newFlags(cmd, cmd+" [flags] [-X METHOD] [-H 'K: V']... [--data @FILE|-|TEXT] URL")
	register(f, p, "sign")
	method := f.String("X", http.MethodGet, "HTTP method")
	var headers multi
	f.Var(&headers, "H", "request header 'Name: value', repeatable (rfc9421 covers authorization and dpop from them)")
	data := f.String("data", "", "request body: @FILE, - for stdin, or the text")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("%s needs the request URL", cmd)
	}
	body, err := a.body(*data)
	if err != nil {
		return err
	}
	if _, err := checkTarget(pos[0]); err != nil {
		return err
	}
	req, err := http.NewRequest(strings.ToUpper(*method), pos[0], nil)
	if err != nil {
		return usagef("URL: %s", redact.URLError(pos[0], err))
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return usagef("-H %q: use 'Name: value'", h)
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	auth, err := p.sign(a, f, req, body)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, auth)
	return nil
}
