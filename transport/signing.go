package transport

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// SignFunc returns the signature header's value (Authorization unless Signing.Header says
// otherwise) for one attempt of req, whose body bytes it reads from body (empty for a
// request without body). It must not change req.
type SignFunc func(req *http.Request, body io.Reader) (authorization string, err error)

// SignHeadersFunc is SignFunc for a scheme whose signature takes several headers: it returns
// them all (they replace the caller's). It must not change req.
type SignHeadersFunc func(req *http.Request, body io.Reader) (http.Header, error)

// ErrSign is wrapped by the error Signing returns when the signature cannot be made.
var ErrSign = errors.New("finauth: transport: signing the request failed")

// Signing is an http.RoundTripper that signs every attempt of every request (net/http and
// go-retryablehttp call RoundTrip once per attempt and per redirect hop) and sends it with
// the Authorization value Sign returns, replacing any the caller set.
//
// Body: with GetBody, the body is streamed from GetBody into the signature and no copy is
// kept; without it, the body is read once, up to MaxBodyBytes (beyond that: a
// *BodyTooLargeError, nothing sent), and the copy sent carries Body, GetBody and
// ContentLength, so that http.Transport can send the same bytes again on a fresh connection.
// That copy lives in pooled 4 KiB and 64 KiB chunks, reused for another request only once
// RoundTrip has returned and every reader of it has been closed (http.Transport closes the
// body when it has written it, possibly after RoundTrip returned): a steady stream of
// large bodies costs no new buffer per request.
// A 307/308 redirect of such a request comes back to the caller unfollowed: http.Client
// decides from the caller's request, which has no GetBody and which a RoundTripper must not
// change. Give the request a GetBody (http.NewRequest does for bytes.Reader, bytes.Buffer
// and strings.Reader bodies) to have 307/308 followed and signed afresh.
//
// Requests to origins outside Origins are refused; redirects there go out unsigned.
// The caller's request is never changed. Safe for concurrent use.
type Signing struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Sign makes the Authorization value. Required unless SignHeaders is set.
	Sign SignFunc
	// SignHeaders, used instead of Sign, makes several headers (Soldo Business's fingerprint
	// and its signature).
	SignHeaders SignHeadersFunc
	// Origins that receive signed requests. Required.
	Origins *Origins
	// MaxBodyBytes bounds the buffering of bodies without GetBody; 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Header is the request header the signature goes in; "" means Authorization (Soldo
	// sends "Bearer <jws>" there; Open Banking sends the bare JWS in x-jws-signature).
	Header string
	// Applies picks the requests to sign; nil signs every request. A request it skips goes
	// to Base as it came.
	Applies func(*http.Request) bool
}

// RoundTrip implements http.RoundTripper.
func (s *Signing) RoundTrip(req *http.Request) (*http.Response, error) {
	body := bodyCloser{req: req}
	defer body.close()
	base, credentials, err := begin(s.Base, s.Origins, s.Sign != nil || s.SignHeaders != nil, "Signing needs Sign (or SignHeaders) and Origins", req)
	if err != nil {
		return nil, err
	}
	if !credentials || (s.Applies != nil && !s.Applies(req)) {
		body.handOver()
		return base.RoundTrip(req)
	}
	out := copyRequest(req)
	var signed io.Reader = http.NoBody
	var spooled *spool
	switch {
	case req.Body == nil || req.Body == http.NoBody:
	case req.GetBody != nil:
		rc, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("%w: GetBody: %w", ErrSign, err)
		}
		defer rc.Close()
		signed = sizedReader{rc, req.ContentLength}
	default:
		limit := bodyLimit(s.MaxBodyBytes)
		sp, complete, err := readSpool(req.Body, limit, req.ContentLength)
		if err != nil {
			return nil, fmt.Errorf("%w: reading the request body: %w", ErrSign, err)
		}
		defer sp.done()
		if !complete {
			return nil, &BodyTooLargeError{Limit: limit}
		}
		if sp.size == 0 {
			out.Body, out.GetBody, out.ContentLength = http.NoBody, getNoBody, 0
			break
		}
		rc, _ := sp.open()
		defer rc.Close()
		signed, spooled = rc, sp
		out.GetBody, out.ContentLength = sp.open, sp.size
	}
	if err := s.sign(req, signed, out.Header); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSign, err)
	}
	if spooled != nil { // opened only now, so that a failed signature leaves no reader open
		out.Body, _ = spooled.open()
	}
	if out.Body == req.Body {
		body.handOver()
	}
	return base.RoundTrip(out)
}

// sign sets the signature's header(s) in h.
func (s *Signing) sign(req *http.Request, body io.Reader, h http.Header) error {
	if s.SignHeaders != nil {
		set, err := s.SignHeaders(req, body)
		if err != nil {
			return err
		}
		for k, v := range set {
			h[http.CanonicalHeaderKey(k)] = v
		}
		return nil
	}
	auth, err := s.Sign(req, body)
	if err != nil {
		return err
	}
	name := "Authorization"
	if s.Header != "" {
		name = http.CanonicalHeaderKey(s.Header)
	}
	h[name] = []string{auth}
	return nil
}

// sizedReader tells the signer how long the body is (a sizing hint; GetBody readers are
// usually wrapped in io.NopCloser, which hides the Len of the reader inside).
type sizedReader struct {
	io.Reader
	n int64
}

// Len returns the declared length, 0 when unknown.
func (s sizedReader) Len() int { return int(max(s.n, 0)) }
