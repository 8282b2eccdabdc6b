package soldo

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/transport"
	"golang.org/x/net/idna"
)

// Signer signs Soldo requests: a detached (or attached) JWS whose protected header carries
// the request's method, host, path and query, over the exact body bytes. Safe for concurrent
// use.
type Signer struct {
	s        *signer.Signer
	keyID    string
	memberID string
	ttl      time.Duration
	attached bool
	expNum   bool
	withPort bool
	maxBody  int64
	now      func() time.Time
	lastExp  atomic.Int64 // the last exp given, Unix ms: each signature gets a later one
}

// expDrift is how far past now+JWSTTL "exp" may be pushed to keep every signature of a
// Signer distinct (see Header).
const expDrift = 5 * time.Second

// NewSigner checks cfg, loads its key and returns the signer (for the CLI, or to build a
// transport.Signing yourself).
func NewSigner(cfg Config, opts ...Option) (*Signer, error) { return newSigner(cfg, collect(opts)) }

func newSigner(cfg Config, o *options) (*Signer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := cfg.keySource().Load(provider)
	if err != nil {
		return nil, err
	}
	kid := cfg.KeyID
	if kid == "" {
		kid = key.KeyID()
	}
	if kid == "" {
		return nil, config.Problemf(provider, "KeyID", "SOLDO_KEY_ID", "required: the key ID Soldo gave when the public key was registered")
	}
	// kid and typ are in the header list (Header), where they take the place the Signer
	// would give them: the header reads alg, typ, exp, mid, kid, method, host, path, query,
	// the documented order.
	s, err := signer.New(key, signer.Options{Algorithm: cfg.Algorithm, OnSign: o.OnSign()})
	if err != nil {
		return nil, config.Problemf(provider, "Algorithm", "SOLDO_ALG", "%v", err)
	}
	ttl := cfg.JWSTTL
	if ttl == 0 {
		ttl = DefaultJWSTTL
	}
	maxBody := cfg.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = transport.DefaultMaxBodyBytes
	}
	return &Signer{s: s, keyID: kid, memberID: cfg.MemberID, ttl: ttl, attached: cfg.Attached,
		expNum: cfg.ExpAsNumber, withPort: cfg.HostWithPort, maxBody: maxBody, now: o.Now}, nil
}

// Algorithm returns the signing algorithm.
func (ss *Signer) Algorithm() signer.Algorithm { return ss.s.Algorithm() }

// ErrMethodCase is returned for a request whose method is not upper case: HTTP methods are
// case-sensitive, net/http sends "post" as it is, and a signature naming "POST" would not
// match what was sent.
var ErrMethodCase = errors.New("finauth: soldo: the HTTP method must be upper case (POST, not post)")

// Header returns the protected-header fields for req, in the documented order, naming what
// goes on the wire: the Host as net/http sends it (punycode for an internationalised name),
// the path of the request line decoded (URL.Opaque included), the raw query.
//
// Every header a Signer makes has a later "exp" than the one before (by at least a
// millisecond), so that two identical requests in the same millisecond still get distinct
// signatures: EdDSA and RSA PKCS#1 v1.5 signatures are deterministic, and a server that
// refuses replayed signatures would refuse the second. To stay unique "exp" may run ahead of
// now+JWSTTL by up to 5 s (5,000 signatures in one millisecond, or a sustained rate above
// 1,000 per second for a while); past that the plain now+JWSTTL is used again, and two
// identical requests signed in the same millisecond can then share a signature.
func (ss *Signer) Header(req *http.Request) signer.Header {
	h, _ := ss.header(req)
	return h
}

func (ss *Signer) header(req *http.Request) (signer.Header, error) {
	now := ss.now()
	expMs := ss.nextExp(now.Add(ss.ttl).UnixMilli())
	var exp any = strconv.FormatInt(expMs, 10)
	if ss.expNum {
		exp = expMs
	}
	host, err := wireHost(req)
	if err != nil {
		return nil, err
	}
	if ss.withPort {
		if _, _, err := net.SplitHostPort(host); err != nil {
			port := "443"
			if req.URL.Scheme == "http" {
				port = "80"
			}
			host = net.JoinHostPort(strings.Trim(host, "[]"), port)
		}
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if method != strings.ToUpper(method) {
		err = fmt.Errorf("%w: %q", ErrMethodCase, method)
	}
	h := signer.Header{
		{Name: "typ", Value: "jwt"},
		{Name: "exp", Value: exp},
		{Name: "mid", Value: ss.memberID},
		{Name: "kid", Value: ss.keyID},
		{Name: "method", Value: strings.ToUpper(method)},
		{Name: "host", Value: host},
		{Name: "path", Value: wirePath(req.URL)},
	}
	if req.URL.RawQuery != "" {
		h = append(h, signer.Field{Name: "query", Value: req.URL.RawQuery})
	}
	return h, err
}

// nextExp returns want, or the last exp given plus one millisecond when that is later and
// within expDrift of want.
func (ss *Signer) nextExp(want int64) int64 {
	for {
		last := ss.lastExp.Load()
		exp := max(want, last+1)
		if exp > want+expDrift.Milliseconds() {
			return want
		}
		if ss.lastExp.CompareAndSwap(last, exp) {
			return exp
		}
	}
}

// wireHost is the Host net/http sends: req.Host, else URL.Host, in its ASCII (punycode)
// form.
func wireHost(req *http.Request) (string, error) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			return punycode(host)
		}
	}
	return host, nil
}

func punycode(hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	ascii, err := idna.Lookup.ToASCII(host)
	if err != nil {
		return "", fmt.Errorf("finauth: soldo: host %q is not a valid internationalised name: %w", hostport, err)
	}
	if port != "" {
		return net.JoinHostPort(ascii, port), nil
	}
	return ascii, nil
}

// wirePath is the path of the request line, decoded: URL.Opaque when the request has one
// (net/http sends it as it is), else the path.
func wirePath(u *url.URL) string {
	path := u.Path
	if u.Opaque != "" {
		path = u.Opaque
		if strings.HasPrefix(path, "//") { // "//host/path": the path is after the host
			if i := strings.IndexByte(path[2:], '/'); i >= 0 {
				path = path[2+i:]
			} else {
				path = "/"
			}
		}
		if p, err := url.PathUnescape(path); err == nil {
			path = p
		}
	}
	if path == "" {
		path = "/"
	}
	return path
}

// Sign is a transport.SignFunc: it returns "Bearer <jws>" for req with body. A method not
// in upper case is refused (ErrMethodCase). EdDSA (which signs the whole input at once) and
// the attached form hold the body in memory: over MaxBodyBytes they are refused
// (transport.ErrBodyTooLarge); ES256/RS256/PS256 detached signatures stream any size.
func (ss *Signer) Sign(req *http.Request, body io.Reader) (string, error) {
	h, err := ss.header(req)
	if err != nil {
		return "", err
	}
	held := ss.attached || ss.s.Algorithm() == signer.EdDSA
	if held {
		body = &capped{r: body, left: ss.maxBody + 1}
	}
	var auth string // "Bearer <jws>"
	if ss.attached {
		var b []byte
		if b, err = io.ReadAll(body); err == nil {
			var jws string
			jws, err = ss.s.SignAttached(h, b)
			auth = "Bearer " + jws
		}
	} else {
		auth, err = ss.s.SignDetachedReaderAfter("Bearer ", h, body) // one allocation for the value
	}
	if err != nil {
		if c, ok := body.(*capped); ok && c.left <= 0 {
			return "", fmt.Errorf("%w (%d bytes): %s must hold the whole body to sign it; raise MaxBodyBytes (SOLDO_MAX_BODY_BYTES), or use a detached ES256 signature, which streams", transport.ErrBodyTooLarge, ss.maxBody, ss.heldWhy())
		}
		return "", err
	}
	return auth, nil
}

func (ss *Signer) heldWhy() string {
	if ss.attached {
		return "the attached form"
	}
	return "EdDSA"
}

// capped reads at most left-1 bytes and fails on the next one, so that a body over the
// limit is refused rather than cut.
type capped struct {
	r    io.Reader
	left int64
}

var errCapped = errors.New("finauth: soldo: body over the limit")

// Read reads on until the limit, then fails.
func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCapped
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left <= 0 {
		return n, errCapped
	}
	return n, err
}

// Len passes on the body's length hint (signer pre-sizes EdDSA's buffer from it).
func (c *capped) Len() int {
	if l, ok := c.r.(interface{ Len() int }); ok {
		return min(l.Len(), int(c.left))
	}
	return 0
}
