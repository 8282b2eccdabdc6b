package integration_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/transport"
)

const member = "m:QWu4AjKk13DAAe1NiVLXeBRDwtt:5zKtXEAq"

// soldoKeys are the test keys, one per algorithm, registered under these key IDs.
var soldoKeys = []struct {
	file string
	kid  string
	alg  signer.Algorithm
}{
	{"../signer/testdata/keys/test-ec-p256-pkcs8.pem", "ec-1", signer.ES256},
	{"../signer/testdata/keys/test-ed25519-pkcs8.pem", "ed-1", signer.EdDSA},
	{"../signer/testdata/keys/test-rsa-pkcs8.pem", "rsa-1", signer.RS256},
	{"../signer/testdata/keys/test-rsa-pkcs8.pem", "rsa-1", signer.PS256},
}

func soldoMockConfig(t testing.TB) soldomock.Config {
	t.Helper()
	var pubs []*signer.PublicKey
	seen := map[string]bool{}
	for _, k := range soldoKeys {
		if seen[k.kid] {
			continue
		}
		seen[k.kid] = true
		key, err := signer.LoadKeyFile(k.file)
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, key.Public().WithKeyID(k.kid))
	}
	return soldomock.Config{Members: map[string][]*signer.PublicKey{member: pubs}}
}

func newSoldoMock(t testing.TB, tweak func(*soldomock.Config)) *soldomock.Server {
	t.Helper()
	cfg := soldoMockConfig(t)
	if tweak != nil {
		tweak(&cfg)
	}
	m, err := soldomock.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func soldoConfig(t testing.TB, apiURL string, keyIndex int) soldo.Config {
	t.Helper()
	k := soldoKeys[keyIndex]
	return soldo.Config{APIURLs: []string{apiURL}, PrivateKeyFile: k.file, KeyID: k.kid, MemberID: member, Algorithm: k.alg}
}

func newSoldoClient(t testing.TB, cfg soldo.Config, opts ...soldo.Option) *http.Client {
	t.Helper()
	hc, err := soldo.NewClient(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return hc
}

// doSoldo sends req and decodes the mock's echo, failing on anything but 200.
func doSoldo(t testing.TB, hc *http.Client, req *http.Request) soldomock.Echo {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		var rej soldomock.Rejection
		json.NewDecoder(resp.Body).Decode(&rej)
		t.Fatalf("%s %s: %d %+v", req.Method, req.URL, resp.StatusCode, rej)
	}
	var e soldomock.Echo
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestSoldo_EveryBodyKind(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, nil)
	cfg := soldoConfig(t, m.URL, 0)
	cfg.MaxBodyBytes = 64 << 10
	hc := newSoldoClient(t, cfg)
	payload := []byte(`{"requestPayload": {"to": {"id": "m:1"},   "description": "spaces kept"}}`)
	for name, mk := range map[string]func() io.Reader{
		"nil":                  func() io.Reader { return nil },
		"http.NoBody":          func() io.Reader { return http.NoBody },
		"empty":                func() io.Reader { return strings.NewReader("") },
		"bytes with GetBody":   func() io.Reader { return bytes.NewReader(payload) },
		"stream, no GetBody":   func() io.Reader { return io.MultiReader(bytes.NewReader(payload[:7]), bytes.NewReader(payload[7:])) },
		"large within limit":   func() io.Reader { return io.MultiReader(bytes.NewReader(bytes.Repeat(payload, 500))) },
		"one byte at a time":   func() io.Reader { return iotest.OneByteReader(bytes.NewReader(payload)) },
		"known length no copy": func() io.Reader { return strings.NewReader(string(payload)) },
	} {
		t.Run(name, func(t *testing.T) {
			body := mk()
			var want []byte
			if body != nil {
				want, _ = io.ReadAll(mk())
			}
			req, _ := http.NewRequest(http.MethodPost, m.URL+"/banks/iron/consents", body)
			e := doSoldo(t, hc, req)
			if e.BodySHA256 != sha256hex(want) || e.BodyLength != len(want) {
				t.Errorf("%s: the server got %d bytes (%s)", name, e.BodyLength, e.BodySHA256)
			}
		})
	}
	before := m.Stats()
	// Over the limit without GetBody: a typed error, nothing sent, body closed.
	over := &trackedBody{Reader: bytes.NewReader(bytes.Repeat([]byte("x"), 100<<10))}
	req, _ := http.NewRequest(http.MethodPost, m.URL+"/banks/iron/consents", over)
	_, err := hc.Do(req)
	var tooLarge *transport.BodyTooLargeError
	if !errors.As(err, &tooLarge) || !over.closed.Load() {
		t.Fatalf("over the limit: err %v, closed %v", err, over.closed.Load())
	}
	// A reader that fails half way: an error, nothing sent.
	failing := &trackedBody{Reader: io.MultiReader(bytes.NewReader(payload), iotest.ErrReader(errors.New("disk gone")))}
	req, _ = http.NewRequest(http.MethodPost, m.URL+"/banks/iron/consents", failing)
	if _, err := hc.Do(req); !errors.Is(err, transport.ErrSign) || !failing.closed.Load() {
		t.Fatalf("failing body: err %v", err)
	}
	if after := m.Stats(); after.Verified != before.Verified || len(after.Rejections) != 0 {
		t.Fatalf("something reached the server: %+v", after)
	}
}

type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return nil }

func TestSoldo_PathsAndQueries(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, nil)
	hc := newSoldoClient(t, soldoConfig(t, m.URL, 0))
	for _, c := range []struct{ target, path, query string }{
		{"/transactions/O%3B5823", "/transactions/O;5823", ""},
		{"/files/a%2Fb/c", "/files/a/b/c", ""},
		{"/with%20space/x", "/with space/x", ""},
		{"/%C3%BCtf8/%E2%82%AC", "/ütf8/€", ""},
		{"/trailing/", "/trailing/", ""},
		{"/transfers/t-1?b=2&a=1&a=3", "/transfers/t-1", "b=2&a=1&a=3"},
		{"/q?plus=a+b&pct=a%20b&semi=x%3By", "/q", "plus=a+b&pct=a%20b&semi=x%3By"},
		{"/q?flag&empty=", "/q", "flag&empty="},
		{"", "/", ""},
	} {
		t.Run(c.target, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, m.URL+c.target, nil)
			e := doSoldo(t, hc, req)
			if e.Path != c.path || e.Query != c.query {
				t.Errorf("%s: server saw path %q query %q", c.target, e.Path, e.Query)
			}
		})
	}
}

func TestSoldo_Hosts(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, nil)
	cfg := soldoConfig(t, m.URL, 0)
	// The Host override's origin must be allowed too: credentials go to no other.
	cfg.APIURLs, cfg.AllowInsecureHTTP = append(cfg.APIURLs, "http://api.soldo.test"), true
	hc := newSoldoClient(t, cfg)
	req, _ := http.NewRequest(http.MethodGet, m.URL+"/x", nil)
	if e := doSoldo(t, hc, req); e.Host != strings.TrimPrefix(m.URL, "http://") {
		t.Fatalf("host %q", e.Host)
	}
	// A Host override, without a port.
	req, _ = http.NewRequest(http.MethodGet, m.URL+"/x", nil)
	req.Host = "api.soldo.test"
	if e := doSoldo(t, hc, req); e.Host != "api.soldo.test" {
		t.Fatalf("host %q", e.Host)
	}
	// IPv6 loopback.
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatalf("IPv6 loopback is needed here: %v", err)
	}
	v6 := &httptest.Server{Listener: l, Config: &http.Server{Handler: m.Mock}}
	v6.Start()
	defer v6.Close()
	hc6 := newSoldoClient(t, soldoConfig(t, v6.URL, 0))
	req, _ = http.NewRequest(http.MethodGet, v6.URL+"/x", nil)
	if e := doSoldo(t, hc6, req); !strings.HasPrefix(e.Host, "[::1]:") {
		t.Fatalf("host %q", e.Host)
	}
}

func TestSoldo_EveryAlgorithmDetachedAndAttached(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, nil)
	body := []byte(`{"amount":"2.00"}`)
	for i, k := range soldoKeys {
		for _, attached := range []bool{false, true} {
			cfg := soldoConfig(t, m.URL, i)
			cfg.Attached = attached
			hc := newSoldoClient(t, cfg)
			req, _ := http.NewRequest(http.MethodPost, m.URL+"/banks/iron/consents", bytes.NewReader(body))
			e := doSoldo(t, hc, req)
			if e.Algorithm != string(k.alg) || e.Detached == attached || e.BodySHA256 != sha256hex(body) {
				t.Errorf("%s attached=%v: %+v", k.alg, attached, e)
			}
		}
	}
}

func TestSoldo_RetryableHTTPSignsEveryAttemptAfresh(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, nil)
	var mu sync.Mutex
	var attempts []*http.Request
	var bodies [][]byte
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		attempts = append(attempts, r.Clone(context.Background()))
		bodies = append(bodies, b)
		n := len(attempts)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		m.Mock.ServeHTTP(w, r)
	}))
	defer front.Close()
	rt, err := soldo.NewTransport(soldoConfig(t, front.URL, 0))
	if err != nil {
		t.Fatal(err)
	}
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.RetryWaitMin, rc.RetryWaitMax = 5*time.Millisecond, 10*time.Millisecond
	rc.HTTPClient.Transport = rt
	body := []byte(`{"retry":"me"}`)
	resp, err := rc.Post(front.URL+"/banks/iron/consents", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(attempts) != 2 {
		t.Fatalf("status %d after %d attempts", resp.StatusCode, len(attempts))
	}
	a1, a2 := attempts[0].Header.Get("Authorization"), attempts[1].Header.Get("Authorization")
	if a1 == a2 {
		t.Fatal("the retry reused the first signature")
	}
	// The first attempt's signature was valid too: the mock accepts it as it was sent.
	rec := httptest.NewRecorder()
	first := attempts[0]
	first.Body = io.NopCloser(bytes.NewReader(bodies[0]))
	m.Mock.ServeHTTP(rec, first)
	if rec.Code != 200 {
		t.Fatalf("the first signature is not valid: %d %s", rec.Code, rec.Body)
	}
}

func TestSoldo_Redirects(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, nil)
	var otherAuth atomic.Value
	otherAuth.Store("unset")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store(r.Header.Get("Authorization"))
	}))
	defer other.Close()
	var firstSig atomic.Value
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/307":
			firstSig.Store(r.Header.Get("Authorization"))
			http.Redirect(w, r, "/landing-307", http.StatusTemporaryRedirect)
		case "/302":
			http.Redirect(w, r, "/landing-302", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/stolen", http.StatusTemporaryRedirect)
		default:
			m.Mock.ServeHTTP(w, r)
		}
	}))
	defer front.Close()
	hc := newSoldoClient(t, soldoConfig(t, front.URL, 0))
	body := []byte(`{"redirect":true}`)

	req, _ := http.NewRequest(http.MethodPost, front.URL+"/307", bytes.NewReader(body))
	e := doSoldo(t, hc, req)
	if e.Method != http.MethodPost || e.Path != "/landing-307" || e.BodySHA256 != sha256hex(body) || firstSig.Load() == nil {
		t.Fatalf("307: %+v", e)
	}
	if strings.HasSuffix(firstSig.Load().(string), e.Signature) {
		t.Fatal("the redirect hop reused the first signature")
	}
	req, _ = http.NewRequest(http.MethodPost, front.URL+"/302", bytes.NewReader(body))
	if e := doSoldo(t, hc, req); e.Method != http.MethodGet || e.BodyLength != 0 || e.Path != "/landing-302" {
		t.Fatalf("302 after POST: %+v", e)
	}
	req, _ = http.NewRequest(http.MethodPost, front.URL+"/away", bytes.NewReader(body))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := otherAuth.Load().(string); got != "" {
		t.Fatalf("the other origin received %q", got)
	}
	// Without GetBody, http.Client does not follow a 307 (it decides from the caller's
	// request, which the transport must not change): the 307 comes back, as documented.
	req, _ = http.NewRequest(http.MethodPost, front.URL+"/307", io.NopCloser(bytes.NewReader(body)))
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("a 307 without GetBody: status %d", resp.StatusCode)
	}
}

func TestSoldo_CallersRequestIsUnchangedAndItsAuthorizationReplaced(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, nil)
	hc := newSoldoClient(t, soldoConfig(t, m.URL, 0))
	body := []byte(`{"a":1}`)
	req, _ := http.NewRequest(http.MethodPut, m.URL+"/x?y=1", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer caller-set")
	req.Header.Set("X-Request-Id", "r1")
	headerBefore := fmt.Sprint(req.Header)
	urlBefore, lengthBefore := req.URL.String(), req.ContentLength
	doSoldo(t, hc, req) // the mock refuses a second Authorization header
	if fmt.Sprint(req.Header) != headerBefore || req.URL.String() != urlBefore || req.ContentLength != lengthBefore || req.Host != strings.TrimPrefix(m.URL, "http://") {
		t.Fatalf("the caller's request changed: %v %s", req.Header, req.URL)
	}
	again, _ := req.GetBody()
	if b, _ := io.ReadAll(again); !bytes.Equal(b, body) {
		t.Fatal("the caller's GetBody changed")
	}
}

func TestSoldo_MockRefusesEveryMistake(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, func(c *soldomock.Config) { c.ReplayProtection = true })
	key, _ := signer.LoadKeyFile(soldoKeys[0].file)
	ss, err := soldo.NewSigner(soldo.Config{APIURLs: []string{m.URL}, Key: key, KeyID: "ec-1", MemberID: member}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := signer.New(key, signer.Options{})
	// send signs a request for (method, path, body) with the header tweaked, then sends
	// (sendMethod, sendPath, sendBody) with it.
	send := func(tweak func(signer.Header) signer.Header, signBody, sendBody []byte, signPath, sendPath string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, m.URL+signPath, nil)
		h := ss.Header(req)
		if tweak != nil {
			h = tweak(h)
		}
		jws, err := raw.SignDetached(h, signBody)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := http.NewRequest(http.MethodPost, m.URL+sendPath, bytes.NewReader(sendBody))
		out.Header.Set("Authorization", "Bearer "+jws)
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rej soldomock.Rejection
		json.NewDecoder(resp.Body).Decode(&rej)
		return resp.StatusCode, rej.Error
	}
	set := func(name string, v any) func(signer.Header) signer.Header {
		return func(h signer.Header) signer.Header {
			for i := range h {
				if h[i].Name == name {
					h[i].Value = v
					return h
				}
			}
			return append(h, signer.Field{Name: name, Value: v})
		}
	}
	body := []byte(`{"x": 1}`)
	nowMs := time.Now().UnixMilli()
	for _, c := range []struct {
		name       string
		tweak      func(signer.Header) signer.Header
		sendBody   []byte
		sendPath   string
		wantReason string
	}{
		{"valid", nil, body, "/p", ""},
		{"body differs by a space", nil, []byte(`{"x":1}`), "/p", soldomock.ReasonSignature},
		{"path differs", nil, body, "/q", soldomock.ReasonPath},
		{"unknown member", set("mid", "m:other"), body, "/p", soldomock.ReasonUnknownMember},
		{"unknown kid", set("kid", "nope"), body, "/p", soldomock.ReasonUnknownKey},
		{"typ JWT", set("typ", "JWT"), body, "/p", soldomock.ReasonType},
		{"exp in seconds", set("exp", fmt.Sprint(nowMs/1000+50)), body, "/p", soldomock.ReasonExpiry},
		{"exp past", set("exp", fmt.Sprint(nowMs-60_000)), body, "/p", soldomock.ReasonExpiry},
		{"exp too far", set("exp", nowMs+120_000), body, "/p", soldomock.ReasonExpiry},
		{"method lower case", set("method", "post"), body, "/p", soldomock.ReasonMethod},
		{"host", set("host", "evil.example"), body, "/p", soldomock.ReasonHost},
		{"query absent from the signature", nil, body, "/p?x=1", soldomock.ReasonQuery},
		{"query differs", set("query", "x=2"), body, "/p", soldomock.ReasonQuery},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, reason := send(c.tweak, body, c.sendBody, "/p", c.sendPath)
			if c.wantReason == "" && status != 200 || c.wantReason != "" && (status != 401 || reason != c.wantReason) {
				t.Errorf("%s: %d %q, want %q", c.name, status, reason, c.wantReason)
			}
		})
	}
	// Replay: the same signed request twice.
	req, _ := http.NewRequest(http.MethodGet, m.URL+"/transfers/t-1", nil)
	auth, err := ss.Sign(req, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{200, 401} {
		r2, _ := http.NewRequest(http.MethodGet, m.URL+"/transfers/t-1", nil)
		r2.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(r2)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("send %d: %d", i+1, resp.StatusCode)
		}
	}
	if m.Stats().Rejections[soldomock.ReasonReplay] != 1 {
		t.Fatalf("%+v", m.Stats())
	}
}

func TestSoldo_ConcurrentRequestsShareOneClient(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, func(c *soldomock.Config) { c.ReplayProtection = true })
	hc := newSoldoClient(t, soldoConfig(t, m.URL, 1)) // EdDSA
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				body := []byte(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))
				req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/banks/b%d/consents?i=%d", m.URL, g, i), bytes.NewReader(body))
				resp, err := hc.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				var e soldomock.Echo
				json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				if resp.StatusCode != 200 || e.BodySHA256 != sha256hex(body) {
					t.Errorf("g%d i%d: %d %+v", g, i, resp.StatusCode, e)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st := m.Stats(); st.Verified != 32*20 || len(st.Rejections) != 0 {
		t.Fatalf("%+v", st)
	}
}

// What is signed is what goes on the wire: an internationalised Host is sent in punycode and
// signed so, an opaque URL's path is signed as sent, and a lower-case method (which net/http
// would send as it is) is refused before anything is sent.
func TestSoldo_SignsWhatGoesOnTheWire(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, nil)
	cfg := soldoConfig(t, m.URL, 0)
	cfg.APIURLs, cfg.AllowInsecureHTTP = append(cfg.APIURLs, "http://bücher.example:8443"), true // the Host header's origin
	hc := newSoldoClient(t, cfg)

	req, _ := http.NewRequest(http.MethodPost, m.URL+"/banks/iron/consents", strings.NewReader(`{"a":1}`))
	req.Host = "bücher.example:8443"
	if echo := doSoldo(t, hc, req); echo.Host != "xn--bcher-kva.example:8443" {
		t.Fatalf("host %q", echo.Host)
	}

	req, _ = http.NewRequest(http.MethodGet, m.URL, nil)
	req.URL.Opaque = "/transactions/O%3B5823"
	if echo := doSoldo(t, hc, req); echo.Path != "/transactions/O;5823" {
		t.Fatalf("path %q", echo.Path)
	}

	req, _ = http.NewRequest("post", m.URL+"/x", strings.NewReader("b"))
	if _, err := hc.Do(req); !errors.Is(err, soldo.ErrMethodCase) {
		t.Fatalf("a lower-case method: %v", err)
	}
	if st := m.Stats(); len(st.Rejections) != 0 {
		t.Fatalf("the mock refused %v", st.Rejections)
	}
}

// 400 identical requests at once, through a server that refuses any signature seen before:
// with deterministic algorithms (EdDSA, RS256) every signature must still differ.
func TestSoldo_IdenticalConcurrentRequestsGetDistinctSignatures(t *testing.T) {
	t.Parallel()
	for _, keyIndex := range []int{1, 2} { // EdDSA, RS256
		t.Run(string(soldoKeys[keyIndex].alg), func(t *testing.T) {
			m := newSoldoMock(t, func(c *soldomock.Config) { c.ReplayProtection = true })
			hc := newSoldoClient(t, soldoConfig(t, m.URL, keyIndex))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 400 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					resp, err := hc.Post(m.URL+"/transfers", "application/json", strings.NewReader(`{"amount":"1.00"}`))
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}()
			}
			close(start)
			wg.Wait()
			if st := m.Stats(); st.Verified != 400 || st.Rejections[soldomock.ReasonReplay] != 0 {
				t.Fatalf("verified %d, refused %v", st.Verified, st.Rejections)
			}
		})
	}
}

// EdDSA and the attached form hold the body to sign it, so MaxBodyBytes bounds them even
// with GetBody; a detached ES256 signature streams any size.
func TestSoldo_BodiesHeldForSigningAreBounded(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, nil)
	big := bytes.Repeat([]byte("x"), 4<<10)
	for _, c := range []struct {
		name     string
		keyIndex int
		attached bool
		refused  bool
	}{
		{"EdDSA", 1, false, true},
		{"ES256 attached", 0, true, true},
		{"ES256 detached", 0, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := soldoConfig(t, m.URL, c.keyIndex)
			cfg.MaxBodyBytes, cfg.Attached = 1<<10, c.attached
			hc := newSoldoClient(t, cfg)
			req, _ := http.NewRequest(http.MethodPost, m.URL+"/upload", bytes.NewReader(big)) // with GetBody
			resp, err := hc.Do(req)
			if c.refused {
				var ue *url.Error
				if !errors.Is(err, transport.ErrBodyTooLarge) || !errors.As(err, &ue) || !strings.Contains(err.Error(), "MaxBodyBytes") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%v", err)
			}
			resp.Body.Close()
		})
	}
}
