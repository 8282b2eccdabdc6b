package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/tokencache"
)

// token gets one token from a provider and prints it, redacted unless --show-token.
func (a *app) token(args []string) error {
	p, args, err := pick[tokenSource](a, "token", args)
	if err != nil {
		return err
	}
	cmd := "token " + p.name()
	f := a.newFlags(cmd, cmd+" [flags] [--show-token] [--output json|bare|header]")
	register(f, p, "token")
	show := f.Bool("show-token", false, "print the token itself (it is a secret)")
	output := f.String("output", "json", "json (token, type, expiry; a refresh token too when there is one), bare (the token alone) or header (Authorization: Bearer …); the token itself only with --show-token")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("%s takes no arguments (got %q)", cmd, pos)
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	tok, err := p.token(ctx, a, f)
	if err != nil {
		return err
	}
	return a.printToken(tok, *show, *output)
}

// checkOutput refuses an --output other than json, bare or header.
func checkOutput(output string) error {
	switch output {
	case "json", "bare", "header":
		return nil
	}
	return usagef("--output %q: use json, bare or header", output)
}

// printToken prints a token as output says (json, bare, header), its value (and refresh
// token) redacted unless show.
func (a *app) printToken(tok tokencache.Token, show bool, output string) error {
	shown := func(secret string) string {
		if show {
			return secret
		}
		return fmt.Sprintf("[redacted: %d characters; --show-token prints it]", len(secret))
	}
	switch output {
	case "bare":
		fmt.Fprintln(a.stdout, shown(tok.Value))
		return nil
	case "header":
		fmt.Fprintf(a.stdout, "Authorization: %s %s\n", tok.Type, shown(tok.Value))
		return nil
	}
	out := map[string]any{
		"token_type":   tok.Type,
		"expires_in":   int(tok.Expiry.Sub(a.now()).Seconds()),
		"expires_at":   tok.Expiry.UTC().Format(time.RFC3339),
		"access_token": shown(tok.Value),
	}
	if tok.RefreshToken != "" {
		out["refresh_token"] = shown(tok.RefreshToken)
	}
	if exp, ok := revolut.RefreshTokenExpiry(tok); ok {
		out["refresh_token_expires_at"] = exp.UTC().Format(time.RFC3339)
	}
	return a.printJSON(out)
}
