package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	jwkspkg "github.com/finauth/finauth/jwks"

	"github.com/finauth/finauth/signer"
)

func (a *app) keygen(args []string) error {
	fs := a.newFlags("keygen", "keygen --alg RS256|PS256|ES256|EdDSA [--bits 2048|3072|4096] --out FILE [--pub FILE] [--passphrase-env VAR] [--kid ID] [--force]")
	alg := fs.String("alg", "", "RS256, PS256, ES256 or EdDSA (required)")
	bits := fs.Int("bits", 3072, "RSA key size: 2048, 3072 or 4096")
	out := fs.String("out", "", "private key file, written as PKCS#8 PEM with mode 0600 (required)")
	pub := fs.String("pub", "", "public key file (PEM), optional")
	passEnv := fs.String("passphrase-env", "", "encrypt the private key with the passphrase in this environment variable")
	kid := fs.String("kid", "", "key ID: written with both files (a 'kid:' line before the PEM block) and in the printed JWK; default its RFC 7638 thumbprint")
	force := fs.Bool("force", false, "overwrite existing files")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	if *alg == "" || *out == "" {
		return usagef("keygen needs --alg and --out")
	}
	a2, err := signer.ParseAlgorithm(*alg)
	if err != nil || a2 == signer.ES384 || a2 == signer.ES512 {
		return usagef("--alg %q: use RS256, PS256, ES256 or EdDSA", *alg)
	}
	var passphrase []byte
	if *passEnv != "" {
		v, ok := a.lookup(*passEnv)
		if !ok || v == "" {
			return usagef("--passphrase-env %s: that variable is not set", *passEnv)
		}
		passphrase = []byte(v)
	}
	var key *signer.Key
	if a2 == signer.RS256 || a2 == signer.PS256 {
		key, err = signer.GenerateRSAKey(a2, *bits)
		if err != nil {
			return usagef("--bits %d: %v", *bits, err)
		}
	} else if key, err = signer.GenerateKey(a2); err != nil {
		return err
	}
	privPEM, err := key.MarshalPKCS8PEM(passphrase)
	if err != nil {
		return err
	}
	pubKey := key.Public()
	if *kid != "" {
		pubKey = pubKey.WithKeyID(*kid)
	}
	pubPEM, err := pubKey.MarshalPEM()
	if err != nil {
		return err
	}
	// The kid travels with both files (a line before the PEM block that openssl ignores), so
	// that jwk, jwk --set and verify --jwks give the same kid without retyping it.
	privPEM, pubPEM = signer.WithKeyIDPreamble(*kid, privPEM), signer.WithKeyIDPreamble(*kid, pubPEM)
	if err := writeNew(*out, privPEM, 0o600, *force); err != nil {
		return err
	}
	if *pub != "" {
		if err := writeNew(*pub, pubPEM, 0o644, *force); err != nil {
			return err
		}
	}
	return a.printJSON(pubKey)
}

// writeNew writes a file, refusing to replace one unless force.
func writeNew(path string, data []byte, mode os.FileMode, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, mode)
	if errors.Is(err, os.ErrExist) {
		return usagef("%s exists; pass --force to overwrite it", path)
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, errors.Unwrap(err))
	}
	if force {
		if err := f.Chmod(mode); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (a *app) jwk(args []string) error {
	fs := a.newFlags("jwk", "jwk [--kid ID] [--alg ALG] [--set] [--cert CERT.pem] [--passphrase-env VAR] FILE")
	kid := fs.String("kid", "", "key ID; default the key's own, else its RFC 7638 thumbprint")
	alg := fs.String("alg", "", "algorithm to state in the JWK; default from the key (PS256 for an RSA key with --cert: Open Banking signs PS256)")
	set := fs.Bool("set", false, `print a JWKS {"keys":[...]}`)
	passEnv := fs.String("passphrase-env", "", "environment variable holding the passphrase of an encrypted private key")
	certFile := fs.String("cert", "", "PEM certificate chain of the key (its own first): written as x5c, which Open Banking JWKS (Revolut) need")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("jwk needs one key file")
	}
	var opts []signer.LoadOption
	if *kid != "" {
		opts = append(opts, signer.WithKeyID(*kid))
	}
	if *alg != "" {
		a2, err := signer.ParseAlgorithm(*alg)
		if err != nil {
			return usagef("--alg: %v", err)
		}
		opts = append(opts, signer.WithAlgorithm(a2))
	}
	if *passEnv != "" {
		v, ok := a.lookup(*passEnv)
		if !ok {
			return usagef("--passphrase-env %s: that variable is not set", *passEnv)
		}
		opts = append(opts, signer.WithPassphrase([]byte(v)))
	}
	keys, err := a.loadPublicKeys(pos[0], opts...)
	if err != nil {
		return usagef("%v", err)
	}
	if *certFile != "" && *alg == "" && keys.Len() == 1 {
		// A certificate means an Open Banking JWKS (Revolut), whose RSA keys sign PS256:
		// a JWK stating RS256 would make a verifier that honours "alg" refuse every
		// request object and x-jws-signature finauth makes with it.
		if _, isRSA := keys.Keys()[0].Key().(*rsa.PublicKey); isRSA {
			if keys, err = a.loadPublicKeys(pos[0], append(opts, signer.WithAlgorithm(signer.PS256))...); err != nil {
				return usagef("%v", err)
			}
		}
	}
	if *certFile != "" {
		if keys.Len() != 1 {
			return usagef("--cert: %s holds %d keys; give the one key the certificate is for", pos[0], keys.Len())
		}
		chain, err := readCertificates("--cert", *certFile)
		if err != nil {
			return err
		}
		pub, err := keys.Keys()[0].WithCertificates(chain)
		if err != nil {
			return usagef("--cert %s: %v", *certFile, err)
		}
		// The rules of jwks build: an expired (or not yet valid) certificate is refused, not
		// printed for a provider to refuse later.
		if keys, err = signer.PublishKeySet(a.now(), pub); err != nil {
			return usagef("--cert %s: %v", *certFile, err)
		}
	}
	if *set || keys.Len() > 1 {
		return a.printJSON(keys)
	}
	return a.printJSON(keys.Keys()[0])
}

// readCertificates reads every CERTIFICATE block of a PEM file, in order.
func readCertificates(what, file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, usagef("%s: %v", what, errors.Unwrap(err))
	}
	chain, err := jwkspkg.Certificates(data)
	if err != nil {
		return nil, usagef("%s %s: %v", what, file, err)
	}
	if len(chain) == 0 {
		return nil, usagef("%s %s: no PEM certificate in it", what, file)
	}
	return chain, nil
}

func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", b)
	return err
}

// loadPublicKeys reads public keys (or the public half of a private key) from a file, or from
// stdin for "-".
func (a *app) loadPublicKeys(file string, opts ...signer.LoadOption) (*signer.KeySet, error) {
	if file != "-" {
		return signer.LoadPublicKeysFile(file, opts...)
	}
	b, err := io.ReadAll(io.LimitReader(a.stdin, 1<<20+1))
	if err != nil {
		return nil, err
	}
	return signer.ParsePublicKeys(b, opts...)
}

// count is how many of bs are true.
func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// jwks handles "finauth jwks build": the JWKS to publish (for a static host or a CDN) from
// each --key KID=FILE, FILE a PEM certificate chain (the key's own certificate first: the
// JWK gets x5c and x5t#S256) or a public or private key in any format (only its public half
// is written).
func (a *app) jwks(args []string) error {
	if len(args) > 0 && args[0] == "serve" {
		return a.jwksServe(args[1:])
	}
	if len(args) == 0 || args[0] != "build" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(a.stderr, jwksHelp) // where every command's --help goes
			return nil
		}
		if len(args) > 0 {
			return usagef("jwks: unknown %q\n%s", args[0], strings.TrimSpace(jwksHelp))
		}
		return usagef("%s", strings.TrimSpace(jwksHelp))
	}
	fs := a.newFlags("jwks build", "jwks build --key KID=FILE [--key KID=FILE ...] [--alg ALG]")
	var specs multi
	fs.Var(&specs, "key", "KID=FILE: a key to publish under kid KID; FILE a PEM certificate chain (x5c, x5t#S256) or a public or private key in any format; repeat for each key, the one signing now first")
	alg := fs.String("alg", "", "algorithm to state for every key; default from the key (PS256 for an RSA key with a certificate: Open Banking signs PS256)")
	pos, err := fs.parse(args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("jwks build takes its keys as --key KID=FILE, not %q", pos[0])
	}
	if len(specs) == 0 {
		return usagef("jwks build needs at least one --key KID=FILE")
	}
	var keys []jwkspkg.Key
	for _, spec := range specs {
		k, err := jwkspkg.ParseKey(spec)
		if err != nil {
			return usagef("--key: %v", err)
		}
		if *alg != "" {
			if k.Algorithm, err = signer.ParseAlgorithm(*alg); err != nil {
				return usagef("--alg: %v", err)
			}
		}
		keys = append(keys, k)
	}
	set, err := jwkspkg.Load(a.now(), keys...)
	if err != nil {
		return usagef("%v", err)
	}
	return a.printJSON(set)
}

const jwksHelp = `usage: finauth jwks build --key KID=FILE [--key KID=FILE ...] [--alg ALG]
       finauth jwks serve --addr HOST:PORT --key KID=FILE [--key KID=FILE ...] [--tls-cert F --tls-key F]
  build  print the JWKS to publish at your JWKS URL (a static host or a CDN): each key with its
         kid, use "sig", alg and, from a certificate file, x5c and x5t#S256 (what Open Banking
         and Revolut need); refuses two keys with one kid and expired certificates
  serve  serve that JWKS at /jwks.json (HTTPS with --tls-cert/--tls-key; plain http only on
         loopback), with Cache-Control, ETag and If-None-Match, reloading it when the files
         change: publish the next key of a rotation by adding its --key, or by replacing a file
finauth jwks build --help and finauth jwks serve --help list their flags
`

// jwksServe handles "finauth jwks serve": the JWKS over HTTP(S) at /jwks.json until
// interrupted, reloaded when its files change.
func (a *app) jwksServe(args []string) error {
	fs := a.newFlags("jwks serve", "jwks serve --addr HOST:PORT --key KID=FILE [--key KID=FILE ...] [--tls-cert F --tls-key F]")
	var specs multi
	fs.Var(&specs, "key", "KID=FILE: a key to publish (a PEM certificate chain, or a public or private key); repeat, the one signing now first")
	addr := fs.String("addr", "127.0.0.1:8443", "HOST:PORT to listen on (plain http only on loopback)")
	tlsCert := fs.String("tls-cert", "", "the server certificate (PEM) for HTTPS")
	tlsKey := fs.String("tls-key", "", "the server certificate's key (PEM)")
	maxAge := fs.Duration("max-age", jwkspkg.DefaultMaxAge, "Cache-Control max-age of the answers (counts in the time a rotation waits)")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("jwks serve takes its keys as --key KID=FILE, not %q", pos[0])
	}
	if len(specs) == 0 {
		return usagef("jwks serve needs at least one --key KID=FILE")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usagef("give --tls-cert and --tls-key together")
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return usagef("--addr %q: %v", *addr, err)
	}
	if *tlsCert == "" && !loopbackHost(host) {
		return usagef("--addr %s is not loopback: plain http is only for trying on this machine; give --tls-cert and --tls-key (verifiers fetch JWKS over HTTPS)", *addr)
	}
	var keys []jwkspkg.Key
	for _, spec := range specs {
		k, err := jwkspkg.ParseKey(spec)
		if err != nil {
			return usagef("--key: %v", err)
		}
		keys = append(keys, k)
	}
	h, err := jwkspkg.NewHandler(jwkspkg.HandlerOptions{Keys: keys, MaxAge: *maxAge, Logger: a.logger()})
	if err != nil {
		return usagef("%v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/jwks.json", h)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return &failure{fmt.Sprintf("finauth: jwks serve: %v", err)}
	}
	srv := jwksHTTPServer(mux)
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(a.stderr, "finauth: serving the JWKS at %s://%s/jwks.json (%d keys); Ctrl-C stops\n", scheme, ln.Addr(), len(keys))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if *tlsCert != "" {
		err = srv.ServeTLS(ln, *tlsCert, *tlsKey)
	} else {
		err = srv.Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return &failure{fmt.Sprintf("finauth: jwks serve: %v", err)}
	}
	return nil
}

// jwksHTTPServer is the JWKS's HTTP server: every timeout set (a JWKS is a few KB), so that
// clients that send slowly, read slowly or keep idle connections cannot hold it.
func jwksHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10}
}

// loopbackHost reports whether host is localhost or a loopback IP.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
