package soldo

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/signer"
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
	now      func() time.Time
}

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
		return nil, client.Problemf(provider, "KeyID", "SOLDO_KEY_ID", "required: the key ID Soldo gave when the public key was registered")
	}
	// kid and typ are in the header list (Header), where they take the place the Signer
	// would give them: the header reads alg, typ, exp, mid, kid, method, host, path, query,
	// the documented order.
	s, err := signer.New(key, signer.Options{Algorithm: cfg.Algorithm})
	if err != nil {
		return nil, client.Problemf(provider, "Algorithm", "SOLDO_ALG", "%v", err)
	}
	ttl := cfg.JWSTTL
	if ttl == 0 {
		ttl = DefaultJWSTTL
	}
	return &Signer{s: s, keyID: kid, memberID: cfg.MemberID, ttl: ttl, attached: cfg.Attached,
		expNum: cfg.ExpAsNumber, withPort: cfg.HostWithPort, now: o.Clock()}, nil
}

// Algorithm returns the signing algorithm.
func (ss *Signer) Algorithm() signer.Algorithm { return ss.s.Algorithm() }

// Header returns the protected-header fields for req, in the documented order.
func (ss *Signer) Header(req *http.Request) signer.Header {
	expMs := ss.now().Add(ss.ttl).UnixMilli()
	var exp any = strconv.FormatInt(expMs, 10)
	if ss.expNum {
		exp = expMs
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
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
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	path := req.URL.Path
	if path == "" {
		path = "/"
	}
	h := signer.Header{
		{Name: "typ", Value: "jwt"},
		{Name: "exp", Value: exp},
		{Name: "mid", Value: ss.memberID},
		{Name: "kid", Value: ss.keyID},
		{Name: "method", Value: method},
		{Name: "host", Value: host},
		{Name: "path", Value: path},
	}
	if req.URL.RawQuery != "" {
		h = append(h, signer.Field{Name: "query", Value: req.URL.RawQuery})
	}
	return h
}

// Sign is a transport.SignFunc: it returns "Bearer <jws>" for req with body.
func (ss *Signer) Sign(req *http.Request, body io.Reader) (string, error) {
	h := ss.Header(req)
	var jws string
	var err error
	if ss.attached {
		var b []byte
		if b, err = io.ReadAll(body); err == nil {
			jws, err = ss.s.SignAttached(h, b)
		}
	} else {
		jws, err = ss.s.SignDetachedReader(h, body)
	}
	if err != nil {
		return "", err
	}
	return "Bearer " + jws, nil
}
