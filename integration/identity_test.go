package integration_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/client/soldo/business"
	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/tokencache"
)

// Issue 31 (1): the identity under which a provider shares its tokens through a store is
// derived from everything that reaches its token request. Each test walks every field of a
// provider's Config by reflection, changes it alone, and watches two things: the token
// request a capture server receives (its body parameters, headers, JWT header and claims
// with the dates taken out, the key that verifies the JWT, the client certificate), and the
// store key the token is saved under. A field that changes the request must change the
// store key (else one configuration would be handed the other's token). A field that
// changes no request is listed in notInTheTokenRequest with the reason, and the list is
// checked against what was seen: a listed field that does reach the request fails too.

// capture is a token endpoint and API that records the token requests it gets.
type capture struct {
	srv  *httptest.Server
	keys map[string]*signer.PublicKey // the keys a JWT may be signed with, by name
	mu   sync.Mutex
	reqs []string
	n    int
}

func newCapture(t *testing.T, keys map[string]*signer.PublicKey, tlsConfig *tls.Config) *capture {
	t.Helper()
	c := &capture{keys: keys}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(c.serve))
	if tlsConfig != nil {
		c.srv.TLS = tlsConfig
		c.srv.StartTLS()
	} else {
		c.srv.Start()
	}
	t.Cleanup(c.srv.Close)
	return c
}

func (c *capture) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.URL.Path, "token") && !strings.Contains(r.URL.Path, "login") && !strings.Contains(r.URL.Path, "authorize") {
		w.Write([]byte(`{}`)) // the API
		return
	}
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.reqs = append(c.reqs, c.normalize(r, body))
	c.n++
	n := c.n
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, n)
}

// normalize is what a token request asks for, whenever it is sent: its dates, unique IDs
// and signature bytes taken out, the key that verifies its JWT named instead.
func (c *capture) normalize(r *http.Request, body []byte) string {
	out := map[string]any{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
		"content-type": r.Header.Get("Content-Type"), "authorization": r.Header.Get("Authorization")}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
		out["client-certificate"] = hex.EncodeToString(sum[:])
	}
	params := map[string]any{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		json.Unmarshal(body, &params)
	} else {
		form, _ := url.ParseQuery(string(body))
		for k, v := range form {
			params[k] = v
		}
	}
	for k, v := range params {
		if s, ok := v.(string); ok && strings.Count(s, ".") == 2 {
			params[k] = c.jwt(s)
		}
		if vs, ok := v.([]string); ok && len(vs) == 1 && strings.Count(vs[0], ".") == 2 {
			params[k] = c.jwt(vs[0])
		}
	}
	out["params"] = params
	if proof := r.Header.Get("DPoP"); proof != "" {
		out["dpop"] = dpopOf(proof)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// dpopOf is what a DPoP proof asks, whenever it is made: its header with its key named by
// thumbprint, and htm and htu (jti, iat and nonce change with every proof).
func dpopOf(proof string) any {
	u, err := signer.DecodeUnverified(proof)
	if err != nil {
		return proof
	}
	var header, claims map[string]any
	json.Unmarshal(u.RawHeader, &header)
	json.Unmarshal(u.Payload, &claims)
	if jwk, err := json.Marshal(header["jwk"]); err == nil {
		if ks, err := signer.ParsePublicKeys(jwk); err == nil && ks.Len() == 1 {
			header["jwk"] = ks.Keys()[0].Thumbprint()
		}
	}
	return map[string]any{"header": header, "htm": claims["htm"], "htu": claims["htu"]}
}

// jwt is a JWT's header, claims without iat, nbf and jti (exp as a lifetime), and the name of
// the key that verifies it.
func (c *capture) jwt(token string) any {
	u, err := signer.DecodeUnverified(token)
	if err != nil {
		return token
	}
	var claims map[string]any
	json.Unmarshal(u.Payload, &claims)
	if iat, ok := claims["iat"].(float64); ok {
		if exp, ok := claims["exp"].(float64); ok {
			claims["exp"] = exp - iat
		}
	}
	delete(claims, "iat")
	delete(claims, "nbf")
	delete(claims, "jti")
	kid, _ := u.HeaderString("kid")
	alg, _ := u.HeaderString("alg")
	key := "none"
	for name, pub := range c.keys {
		v, err := signer.NewVerifier(signer.NewKeySet(pub.WithKeyID(kid)), signer.VerifyOptions{Algorithms: signer.Algorithms()})
		if err == nil {
			if _, err := v.Verify(token); err == nil {
				key = name
			}
		}
	}
	return map[string]any{"header": string(u.RawHeader), "claims": claims, "key": key, "alg": alg}
}

func (c *capture) taken() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.reqs)
	c.reqs = nil
	slices.Sort(out)
	return out
}

// savedKeys records the keys a cache saves tokens under (with the identity's prefix).
type savedKeys struct {
	*tokencache.MemoryStore
	mu   sync.Mutex
	keys []string
}

func (s *savedKeys) Save(ctx context.Context, key string, tok tokencache.Token) error {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	return s.MemoryStore.Save(ctx, key, tok)
}

func (s *savedKeys) prefixes() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range s.keys {
		p, _, _ := strings.Cut(k, ":")
		out = append(out, p)
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), ",")
}

// seen is one configuration's token request and store key, or why it could not be built.
type seen struct {
	request, storeKey string
	err               error
}

// walk changes each field of base (structs walked into) alone, with the variant variants
// gives for it or the generic one for its type, and compares what observe saw with base's.
// It returns the fields whose change reached the token request.
func walk[C any](t *testing.T, label string, base C, variants map[string]func(*C), observe func(C) seen) map[string]bool {
	t.Helper()
	want := observe(base)
	if want.err != nil {
		t.Fatalf("%s: the base configuration: %v", label, want.err)
	}
	reached := map[string]bool{}
	for _, path := range fieldPaths(reflect.TypeFor[C](), "") {
		cfg := base
		if v, ok := variants[path]; ok {
			v(&cfg)
		} else if !genericVariant(reflect.ValueOf(&cfg).Elem(), path) {
			t.Errorf("%s: field %s has no variant for its type: give it one in this test", label, path)
			continue
		}
		got := observe(cfg)
		if got.err != nil {
			t.Errorf("%s: field %s: the changed configuration does not work: %v", label, path, got.err)
			continue
		}
		if got.request != want.request {
			reached[path] = true
			if got.storeKey == want.storeKey {
				t.Errorf("%s: field %s changes the token request but not the store identity: two such clients would share a token\nbase:    %s\nchanged: %s", label, path, want.request, got.request)
			}
		}
	}
	return reached
}

// fieldPaths lists the exported fields of typ, the fields of struct fields (but time.Time's)
// by their dotted path.
func fieldPaths(typ reflect.Type, prefix string) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]() {
			out = append(out, fieldPaths(f.Type, prefix+f.Name+".")...)
			continue
		}
		out = append(out, prefix+f.Name)
	}
	return out
}

// genericVariant changes the field at path in a way its type allows; false when the type
// has no generic change (enumerations, keys, files: the test gives those).
func genericVariant(v reflect.Value, path string) bool {
	for _, name := range strings.Split(path, ".") {
		v = v.FieldByName(name)
	}
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		v.SetInt(v.Int() + int64(time.Minute))
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Now().Add(time.Hour).Truncate(time.Second)))
	case v.Kind() == reflect.String && v.Type() == reflect.TypeFor[string]() || v.Type() == reflect.TypeFor[client.Secret]():
		v.SetString(v.String() + "2")
	case v.Kind() == reflect.Bool:
		v.SetBool(!v.Bool())
	case v.Kind() == reflect.Int:
		v.SetInt(v.Int() + 1)
	case v.Type() == reflect.TypeFor[url.Values]():
		p := url.Values{"resource": {"https://other.example"}}
		for k, vs := range v.Interface().(url.Values) {
			p[k] = vs
		}
		v.Set(reflect.ValueOf(p))
	case v.Type() == reflect.TypeFor[map[string]any]():
		m := map[string]any{"extra": "claim"}
		for k, x := range v.Interface().(map[string]any) {
			m[k] = x
		}
		v.Set(reflect.ValueOf(m))
	default:
		return false
	}
	return true
}

// checkListed compares the fields seen to reach no token request with the list.
func checkListed(t *testing.T, typ reflect.Type, reached map[string]bool, notInTheTokenRequest map[string]string) {
	t.Helper()
	for _, path := range fieldPaths(typ, "") {
		_, listed := notInTheTokenRequest[path]
		switch {
		case reached[path] && listed:
			t.Errorf("%s is listed as not reaching the token request, but it does: remove it from the list", path)
		case !reached[path] && !listed:
			t.Errorf("%s changed no token request: list it in notInTheTokenRequest with the reason, or give it a variant that shows what it changes", path)
		}
	}
}

// exchangeNotInTheRequest are the fields of client.ExchangeOptions: how the token endpoint is
// called, not what is asked of it.
var exchangeNotInTheRequest = map[string]string{
	"Exchange.MaxAttempts":      "how many times a request is sent, not what it asks",
	"Exchange.TotalTimeout":     "how long the requests may take",
	"Exchange.RetryWaitMin":     "the wait between attempts",
	"Exchange.RetryWaitMax":     "the wait between attempts",
	"Exchange.AttemptTimeout":   "how long one attempt may take",
	"Exchange.MaxTokenLifetime": "how long an answer is believed, not what is asked",
}

func with(m map[string]string, more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// identityKeys are the keys a test configuration signs with: rsa (its base key), rsa2 (the
// key a variant swaps in), and where each lives.
type identityKeys struct {
	rsa, rsa2            *signer.Key
	rsaFile, rsa2File    string
	rsa2PEM              []byte
	encryptedRSAFile, pw string
	pubs                 map[string]*signer.PublicKey
}

func newIdentityKeys(t *testing.T) identityKeys {
	t.Helper()
	k := identityKeys{rsaFile: keyFile, pw: "correct horse"}
	var err error
	if k.rsa, err = signer.LoadKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	if k.rsa2, err = signer.GenerateRSAKey(signer.RS256, 2048); err != nil {
		t.Fatal(err)
	}
	if k.rsa2PEM, err = k.rsa2.MarshalPKCS8PEM(nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k.rsa2File = filepath.Join(dir, "rsa2.pem")
	os.WriteFile(k.rsa2File, k.rsa2PEM, 0o600)
	enc, err := k.rsa.MarshalPKCS8PEM([]byte(k.pw), signer.WithPBKDF2Iterations(1000))
	if err != nil {
		t.Fatal(err)
	}
	k.encryptedRSAFile = filepath.Join(dir, "rsa-encrypted.pem")
	os.WriteFile(k.encryptedRSAFile, enc, 0o600)
	k.pubs = map[string]*signer.PublicKey{"rsa": k.rsa.Public(), "rsa2": k.rsa2.Public()}
	return k
}

// observeWith is observeThrough for a transport made over a store.
func observeWith(c *capture, build func(tokencache.Store) (http.RoundTripper, io.Closer, error)) seen {
	store := &savedKeys{MemoryStore: tokencache.NewMemoryStore(nil, 0)}
	rt, closer, err := build(store)
	return observeThrough(c, store, rt, closer, err)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// observeThrough makes one API request through rt, and returns what the capture saw and the
// store's identity.
func observeThrough(c *capture, store *savedKeys, rt http.RoundTripper, closer io.Closer, err error) seen {
	if err != nil {
		return seen{err: err}
	}
	defer closer.Close()
	resp, err := (&http.Client{Transport: rt}).Get(c.srv.URL + "/api")
	if err != nil {
		return seen{err: err}
	}
	resp.Body.Close()
	return seen{request: strings.Join(c.taken(), "\n"), storeKey: store.prefixes()}
}

func TestIdentity_EveryClientCredentialsFieldThatReachesTheTokenRequestChangesTheStoreIdentity(t *testing.T) {
	t.Parallel()
	k := newIdentityKeys(t)
	c := newCapture(t, k.pubs, nil)
	observe := func(cfg clientcredentials.Config) seen {
		store := &savedKeys{MemoryStore: tokencache.NewMemoryStore(nil, 0)}
		rt, err := clientcredentials.NewTransport(cfg, clientcredentials.WithTokenStore(store))
		return observeThrough(c, store, rt, rt, err)
	}
	keyed := clientcredentials.Config{TokenURL: c.srv.URL + "/oauth/token", APIURLs: []string{c.srv.URL}, ClientID: "client-1",
		PrivateKeyFile: k.rsaFile, KeyID: "k1", Audience: "https://issuer.example", Scopes: []string{"orders:read"},
		Params: url.Values{"audience": {"https://api-a.example"}}}
	secret := keyed
	secret.PrivateKeyFile, secret.KeyID, secret.Audience, secret.ClientSecret = "", "", "", "s3cret"
	variants := map[string]func(*clientcredentials.Config){
		"TokenURL": func(c *clientcredentials.Config) { c.TokenURL += "2" },
		"APIURLs":  func(c *clientcredentials.Config) { c.APIURLs = append(c.APIURLs, "https://api.other.example") },
		"AuthMethod": func(c *clientcredentials.Config) {
			switch {
			case c.PrivateKeyFile != "": // a key: the same request, the method named
				c.AuthMethod = clientcredentials.PrivateKeyJWT
			case c.AuthMethod == clientcredentials.ClientSecretPost:
				c.AuthMethod = clientcredentials.ClientSecretBasic
			default: // client_secret_basic, named or by default
				c.AuthMethod = clientcredentials.ClientSecretPost
			}
		},
		"Key":            func(c *clientcredentials.Config) { c.Key, c.PrivateKeyFile = k.rsa2, "" },
		"PrivateKeyPEM":  func(c *clientcredentials.Config) { c.PrivateKeyPEM, c.PrivateKeyFile = client.Secret(k.rsa2PEM), "" },
		"PrivateKeyFile": func(c *clientcredentials.Config) { c.PrivateKeyFile = k.rsa2File },
		"PrivateKeyPassword": func(c *clientcredentials.Config) {
			c.PrivateKeyFile, c.PrivateKeyPassword = k.encryptedRSAFile, client.Secret(k.pw)
		},
		"Algorithm": func(c *clientcredentials.Config) { c.Algorithm = signer.PS256 },
		"Scopes":    func(c *clientcredentials.Config) { c.Scopes = append(c.Scopes, "orders:write") },
		"Params":    func(c *clientcredentials.Config) { c.Params = url.Values{"audience": {"https://api-b.example"}} },
		// DPoP: a key generated for the transport, a key given, a key file (each named by its
		// thumbprint in the proof, which the capture compares).
		"DPoP":        func(c *clientcredentials.Config) { c.DPoP = true },
		"DPoPKey":     func(c *clientcredentials.Config) { c.DPoPKey = k.rsa2 },
		"DPoPKeyFile": func(c *clientcredentials.Config) { c.DPoPKeyFile = k.rsa2File },
		// Message signatures sign API requests: a working configuration of them changes no
		// token request (listed below).
		"SignatureKey":     func(c *clientcredentials.Config) { c.SignatureKey, c.SignatureKeyID = k.rsa2, "sig-1" },
		"SignatureKeyFile": func(c *clientcredentials.Config) { c.SignatureKeyFile, c.SignatureKeyID = k.rsa2File, "sig-1" },
		"SignatureKeyID":   func(c *clientcredentials.Config) { c.SignatureKeyID = "sig-2" },
	}
	reached := map[string]bool{}
	for label, base := range map[string]clientcredentials.Config{"private_key_jwt": keyed, "client_secret_basic": secret,
		"client_secret_post": func() clientcredentials.Config {
			s := secret
			s.AuthMethod = clientcredentials.ClientSecretPost
			return s
		}()} {
		for f := range walk(t, label, base, onlyFor(label, variants), observe) {
			reached[f] = true
		}
	}
	checkListed(t, reflect.TypeFor[clientcredentials.Config](), reached, with(exchangeNotInTheRequest, map[string]string{
		"APIURLs":            "where the tokens are sent, not how they are obtained",
		"SignatureKey":       "signs API requests (RFC 9421), not token requests",
		"SignatureKeyFile":   "signs API requests (RFC 9421), not token requests",
		"SignatureKeyID":     "names the key of the API requests' signatures, not token requests'",
		"AllowInsecureHTTP":  "which URLs are accepted",
		"PrivateKeyPassword": "decrypts the key: the key is what reaches the request (its thumbprint is in the identity)",
	}))
}

// onlyFor drops, for a client_secret base, the variants that would give it a key as well
// (a client authenticates one way only: such a configuration is refused).
func onlyFor(label string, v map[string]func(*clientcredentials.Config)) map[string]func(*clientcredentials.Config) {
	if label == "private_key_jwt" {
		return keyedVariants(v)
	}
	out := map[string]func(*clientcredentials.Config){}
	for k, f := range v {
		out[k] = f
	}
	for _, keyField := range []string{"Key", "PrivateKeyPEM", "PrivateKeyFile", "PrivateKeyPassword", "KeyID", "Algorithm", "Audience", "AssertionTTL"} {
		out[keyField] = func(*clientcredentials.Config) {} // no key here: the field is not read
	}
	return out
}

// keyedVariants: a private_key_jwt base takes no client secret (a client authenticates one
// way only): its ClientSecret variant is none.
func keyedVariants(v map[string]func(*clientcredentials.Config)) map[string]func(*clientcredentials.Config) {
	out := map[string]func(*clientcredentials.Config){"ClientSecret": func(*clientcredentials.Config) {}}
	for k, f := range v {
		out[k] = f
	}
	return out
}

func TestIdentity_EverySoldoBusinessFieldThatReachesTheTokenRequestChangesTheStoreIdentity(t *testing.T) {
	t.Parallel()
	k := newIdentityKeys(t)
	c := newCapture(t, k.pubs, nil)
	observe := func(cfg business.Config) seen {
		return observeWith(c, func(store tokencache.Store) (http.RoundTripper, io.Closer, error) {
			rt, err := business.NewTransport(cfg, business.WithTokenStore(store))
			return rt, rt, err
		})
	}
	base := business.Config{APIURL: c.srv.URL, ClientID: "biz-1", ClientSecret: "s3cret", InternalToken: "it-1", PrivateKeyFile: k.rsaFile}
	variants := map[string]func(*business.Config){
		"APIURL":         func(cfg *business.Config) { cfg.APIURL = c.srv.URL + "/v2" }, // the default token URL follows the base
		"TokenURL":       func(cfg *business.Config) { cfg.TokenURL = c.srv.URL + "/other/oauth/authorize" },
		"Key":            func(cfg *business.Config) { cfg.Key, cfg.PrivateKeyFile = k.rsa2, "" },
		"PrivateKeyPEM":  func(cfg *business.Config) { cfg.PrivateKeyPEM, cfg.PrivateKeyFile = client.Secret(k.rsa2PEM), "" },
		"PrivateKeyFile": func(cfg *business.Config) { cfg.PrivateKeyFile = k.rsa2File },
		"PrivateKeyPassword": func(cfg *business.Config) {
			cfg.PrivateKeyFile, cfg.PrivateKeyPassword = k.encryptedRSAFile, client.Secret(k.pw)
		},
	}
	reached := walk(t, "soldo-business", base, variants, observe)
	checkListed(t, reflect.TypeFor[business.Config](), reached, with(exchangeNotInTheRequest, map[string]string{
		"InternalToken":      "sent with every API request, never in the token request: one client's tokens serve whatever internal token it sends",
		"Key":                "signs fingerprints of API requests; the token request carries no signature",
		"PrivateKeyPEM":      "the fingerprint key, as above",
		"PrivateKeyFile":     "the fingerprint key, as above",
		"PrivateKeyPassword": "decrypts the fingerprint key",
		"AllowInsecureHTTP":  "which URLs are accepted",
	}))
}

func TestIdentity_EveryPismoFieldThatReachesTheTokenRequestChangesTheStoreIdentity(t *testing.T) {
	t.Parallel()
	k := newIdentityKeys(t)
	c := newCapture(t, k.pubs, nil)
	observe := func(cfg pismo.Config) seen {
		store := &savedKeys{MemoryStore: tokencache.NewMemoryStore(nil, 0)}
		rt, err := pismo.NewTransport(cfg, pismo.WithTokenStore(store))
		return observeThrough(c, store, rt, rt, err)
	}
	// Every method's fields set: a change of AuthMethod alone is a working configuration.
	base := pismo.Config{TokenURL: c.srv.URL + "/passport/v1/oauth2/token", APIURLs: []string{c.srv.URL},
		PrivateKeyFile: k.rsaFile, KeyID: "k1", Issuer: "iss", Subject: "sub", Audience: "https://sandbox.pismolabs.io",
		TenantID: "tenant-1", Group: "pismo-v2:bankaccounts:rw",
		ClientID: "server-key", ClientSecret: "server-secret", Scopes: []string{"pismo-v1:accounts:rw"},
		ServerKey: "server-key", SecretKey: "secret-key"}
	next := map[pismo.AuthMethod]pismo.AuthMethod{pismo.OpenID: pismo.OAuth2, pismo.OAuth2: pismo.Basic, pismo.Basic: pismo.OpenID}
	variants := map[string]func(*pismo.Config){
		"AuthMethod": func(c *pismo.Config) {
			if c.AuthMethod == "" {
				c.AuthMethod = pismo.OpenID
			}
			c.AuthMethod = next[c.AuthMethod]
		},
		"TokenURL":       func(c *pismo.Config) { c.TokenURL += "2" },
		"APIURLs":        func(c *pismo.Config) { c.APIURLs = append(c.APIURLs, "https://api.other.example") },
		"Key":            func(c *pismo.Config) { c.Key, c.PrivateKeyFile = k.rsa2, "" },
		"PrivateKeyPEM":  func(c *pismo.Config) { c.PrivateKeyPEM, c.PrivateKeyFile = client.Secret(k.rsa2PEM), "" },
		"PrivateKeyFile": func(c *pismo.Config) { c.PrivateKeyFile = k.rsa2File },
		"PrivateKeyPassword": func(c *pismo.Config) {
			c.PrivateKeyFile, c.PrivateKeyPassword = k.encryptedRSAFile, client.Secret(k.pw)
		},
		"Scopes":           func(c *pismo.Config) { c.Scopes = append(c.Scopes, "pismo-v1:cards:rw") },
		"BasicSecretField": func(c *pismo.Config) { c.BasicSecretField = "server_secret" },
	}
	reached := map[string]bool{}
	for _, m := range []pismo.AuthMethod{pismo.OpenID, pismo.OAuth2, pismo.Basic} {
		b := base
		b.AuthMethod = m
		for f := range walk(t, string(m), b, variants, observe) {
			reached[f] = true
		}
	}
	checkListed(t, reflect.TypeFor[pismo.Config](), reached, with(exchangeNotInTheRequest, map[string]string{
		"APIURLs":            "where the tokens are sent, not how they are obtained",
		"AllowInsecureHTTP":  "which URLs are accepted",
		"PrivateKeyPassword": "decrypts the key: the key is what reaches the request (its thumbprint is in the identity)",
	}))
}

func TestIdentity_EveryRevolutFieldThatReachesTheTokenRequestChangesTheStoreIdentity(t *testing.T) {
	t.Parallel()
	k := newIdentityKeys(t)
	pki, err := revolutmock.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	other, err := revolutmock.NewPKI() // a second transport certificate, from another CA
	if err != nil {
		t.Fatal(err)
	}
	dir, otherDir := t.TempDir(), t.TempDir()
	if err := pki.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	if err := other.WriteFiles(otherDir); err != nil {
		t.Fatal(err)
	}
	both := filepath.Join(t.TempDir(), "both-cas.pem") // trusts the server all the same
	os.WriteFile(both, append(slices.Clone(pki.CAPEM), other.CAPEM...), 0o600)
	clientCAs := x509.NewCertPool()
	clientCAs.AppendCertsFromPEM(pki.CAPEM)
	clientCAs.AppendCertsFromPEM(other.CAPEM)
	tc := pki.ServerTLS()
	tc.ClientCAs, tc.ClientAuth = clientCAs, tls.RequireAndVerifyClientCert
	c := newCapture(t, k.pubs, tc)
	observe := func(cfg revolut.Config) seen {
		store := &savedKeys{MemoryStore: tokencache.NewMemoryStore(nil, 0)}
		rt, err := revolut.NewTransport(cfg, revolut.WithTokenStore(store))
		return observeThrough(c, store, rt, rt, err)
	}
	base := revolut.Config{ClientID: "client-1", KeyID: "sig-1", PrivateKeyFile: k.rsaFile,
		TransportCertFile: filepath.Join(dir, revolutmock.TransportCertFile), TransportKeyFile: filepath.Join(dir, revolutmock.TransportKeyFile),
		CAFile: filepath.Join(dir, revolutmock.CAFile), TokenURL: c.srv.URL + "/token", APIURLs: []string{c.srv.URL}, AuthURL: c.srv.URL + "/ui",
		Audience: "https://oba-auth.revolut.com", RedirectURI: "https://app.example/callback", TAN: "app.example", FinancialID: revolut.FinancialID}
	variants := map[string]func(*revolut.Config){
		"Env":             func(c *revolut.Config) { c.Env = revolut.Sandbox },
		"TokenURL":        func(c *revolut.Config) { c.TokenURL += "2" },
		"APIURLs":         func(c *revolut.Config) { c.APIURLs = append(c.APIURLs, "https://api.other.example") },
		"RegistrationURL": func(c *revolut.Config) { c.RegistrationURL = "https://other.example/register" },
		//lint:ignore SA1019 every field is walked, the deprecated one too
		"APIURL":         func(c *revolut.Config) { c.APIURL = "https://api.other.example" },
		"AuthURL":        func(c *revolut.Config) { c.AuthURL = "https://other.example/ui" },
		"Audience":       func(c *revolut.Config) { c.Audience = "https://sandbox-oba-auth.revolut.com" },
		"RedirectURI":    func(c *revolut.Config) { c.RedirectURI = "https://app.example/other" },
		"TAN":            func(c *revolut.Config) { c.TAN = "other.example" },
		"Key":            func(c *revolut.Config) { c.Key, c.PrivateKeyFile = k.rsa2, "" },
		"PrivateKeyPEM":  func(c *revolut.Config) { c.PrivateKeyPEM, c.PrivateKeyFile = client.Secret(k.rsa2PEM), "" },
		"PrivateKeyFile": func(c *revolut.Config) { c.PrivateKeyFile = k.rsa2File },
		"PrivateKeyPassword": func(c *revolut.Config) {
			c.PrivateKeyFile, c.PrivateKeyPassword = k.encryptedRSAFile, client.Secret(k.pw)
		},
		"NextKeyID": func(c *revolut.Config) {
			c.NextKeyID, c.NextPrivateKeyFile, c.NextKeyPublishedAt = "sig-2", k.rsa2File, time.Now()
		},
		"NextKey": func(c *revolut.Config) { c.NextKeyID, c.NextKey, c.NextKeyPublishedAt = "sig-2", k.rsa2, time.Now() },
		"NextPrivateKeyFile": func(c *revolut.Config) {
			c.NextKeyID, c.NextPrivateKeyFile, c.NextKeyPublishedAt = "sig-2", k.rsa2File, time.Now()
		},
		"NextKeyPublishedAt": func(c *revolut.Config) { c.NextKeyID, c.NextKey, c.NextKeyPublishedAt = "sig-2", k.rsa2, time.Now() },
		"TransportCertFile": func(c *revolut.Config) {
			c.TransportCertFile, c.TransportKeyFile = filepath.Join(otherDir, revolutmock.TransportCertFile), filepath.Join(otherDir, revolutmock.TransportKeyFile)
		},
		"TransportKeyFile": func(c *revolut.Config) {
			c.TransportCertFile, c.TransportKeyFile = filepath.Join(otherDir, revolutmock.TransportCertFile), filepath.Join(otherDir, revolutmock.TransportKeyFile)
		},
		"CAFile": func(c *revolut.Config) { c.CAFile = both },
	}
	reached := walk(t, "client credentials", base, variants, observe)
	// The same configuration has the same identity whatever carries its requests: the CLI's
	// -v wraps the transport, and its call must find the tokens its replicas stored.
	tlsConfig, err := base.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	mtls := client.DefaultTransport()
	mtls.TLSClientConfig = tlsConfig
	wrapped := observeWith(c, func(store tokencache.Store) (http.RoundTripper, io.Closer, error) {
		rt, err := revolut.NewTransport(base, revolut.WithTokenStore(store), revolut.WithBaseTransport(roundTripperFunc(mtls.RoundTrip)))
		return rt, rt, err
	})
	if want := observe(base); wrapped.err != nil || wrapped.storeKey != want.storeKey {
		t.Errorf("through a wrapped transport: store key %q (%v), want %q", wrapped.storeKey, wrapped.err, want.storeKey)
	}
	signing := "signs request objects and x-jws-signature, not token requests (Revolut's are over mutual TLS)"
	checkListed(t, reflect.TypeFor[revolut.Config](), reached, with(exchangeNotInTheRequest, map[string]string{
		"Env":                "fills the URLs that are not set (the token URL is, here)",
		"KeyID":              signing,
		"Key":                signing,
		"PrivateKeyPEM":      signing,
		"PrivateKeyFile":     signing,
		"PrivateKeyPassword": signing,
		"NextKeyID":          signing,
		"NextKey":            signing,
		"NextPrivateKeyFile": signing,
		"NextKeyPublishedAt": signing,
		"KeyCacheTime":       signing,
		"CAFile":             "whom the client trusts, not what it sends",
		"RegistrationURL":    "dynamic client registration, not the token requests",
		"APIURLs":            "where the tokens are sent, not how they are obtained",
		"APIURL":             "where the tokens are sent (the deprecated form of APIURLs)",
		"AuthURL":            "the consent authorisation UI, opened by the user's browser",
		"Audience":           "the request object's aud",
		"RedirectURI":        "the authorization-code exchange's redirect_uri: a consent's tokens are filed under its consent ID",
		"TAN":                signing,
		"FinancialID":        "a header of API requests",
		"AllowInsecureHTTP":  "which URLs are accepted",
	}))
}
