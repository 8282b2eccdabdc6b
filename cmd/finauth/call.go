package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
)

func (a *app) call(args []string) error {
	r := a.newRequestFlags("call", "call [--profile "+profileNames()+"] [--account ID | --external-account ID] [-X METHOD] [-H 'K: V']... [--data @FILE|-|TEXT] [-i] [-v] [-o FILE] [--fail] [--max-time D] [--cacert FILE] URL")
	fs := r.f
	include := fs.Bool("i", false, "print the status line and response headers too")
	verbose := fs.Bool("v", false, "show the request and response headers on stderr (Authorization redacted) and how long each took")
	output := fs.String("o", "", "write the response body to FILE instead of stdout")
	failQuiet := fs.Bool("fail", false, "on an HTTP status >= 400, print no body (the exit status is 1 either way)")
	maxTime := fs.Duration("max-time", 0, "give up the whole call (token included) after this long")
	pos, err := r.f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("call needs the URL")
	}
	body, err := r.body(a)
	if err != nil {
		return err
	}
	if *verbose {
		r.net.verbose = a.stderr
	}
	s, err := r.open(a, pos[0])
	if err != nil {
		return err
	}
	defer s.close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *maxTime)
		defer cancel()
	}
	req, err := r.build(ctx, s, pos[0], body)
	if err != nil {
		return err
	}
	if s.authorizes && req.Header.Get("Authorization") != "" {
		fmt.Fprintln(a.stderr, "finauth: warning: your -H Authorization is replaced by the profile's credentials")
	}
	resp, err := (&http.Client{Transport: s.rt}).Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && *maxTime > 0 {
			return &failure{fmt.Sprintf("no answer within --max-time %v", *maxTime)}
		}
		return err
	}
	defer resp.Body.Close()
	out := a.stdout
	if *output != "" {
		f, err := os.OpenFile(*output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return usagef("-o: %v", errors.Unwrap(err))
		}
		defer f.Close()
		out = f
	}
	if *include {
		fmt.Fprintf(a.stdout, "%s %s\n", resp.Proto, resp.Status)
		resp.Header.Write(a.stdout)
		fmt.Fprintln(a.stdout)
	}
	if resp.StatusCode >= 400 {
		if !*failQuiet {
			io.Copy(out, resp.Body)
		}
		if resp.StatusCode == http.StatusUnauthorized && count0(s.replays) > 0 {
			return &failure{fmt.Sprintf("the server answered %s even after finauth got a new token and replayed the request: it refuses this client's tokens (check the claims or scopes, and that the URL is the API those tokens are for)", resp.Status)}
		}
		return &failure{fmt.Sprintf("the server answered %s", resp.Status)}
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return err
	}
	return nil
}
