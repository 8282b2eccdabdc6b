package dpop

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// Transport returns an http.RoundTripper over base that adds a DPoP proof to every request
// whose Authorization is "DPoP <token>" (a token bound to this prover's key), remembers the
// nonces servers give (DPoP-Nonce), and sends a request again, once, with a new proof when
// the server answers 401 with WWW-Authenticate: DPoP error="use_dpop_nonce" (RFC 9449
// section 9) and the body can be sent again (none, or GetBody). Other requests pass as
// they are. Put it below the transport that sets Authorization.
func (p *Prover) Transport(base http.RoundTripper) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{p: p, base: base}
}

// Transport is Prover.Transport's RoundTripper.
type Transport struct {
	p     *Prover
	base  http.RoundTripper
	nonce atomic.Uint64 // requests sent again for a nonce
}

// NonceRetries is how many requests were sent again because the server asked for a nonce.
func (t *Transport) NonceRetries() uint64 { return t.nonce.Load() }

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	scheme, token, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "DPoP") || token == "" {
		return t.base.RoundTrip(req)
	}
	send := func(r *http.Request) (*http.Response, error) {
		proof, err := t.p.Proof(r.Method, r.URL.String(), token)
		if err != nil {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, err
		}
		out := r.Clone(r.Context())
		out.Header.Set("DPoP", proof)
		resp, err := t.base.RoundTrip(out)
		if err == nil {
			if n := resp.Header.Get("DPoP-Nonce"); n != "" {
				t.p.SetNonce(r.URL.String(), n)
			}
		}
		return resp, err
	}
	before := t.p.nonceFor(req.URL.String())
	resp, err := send(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !AsksForNonce(resp.Header.Values("WWW-Authenticate")) {
		return resp, err
	}
	if t.p.nonceFor(req.URL.String()) == before {
		return resp, nil // no new nonce to send: the 401 is the server's answer
	}
	again := req.Clone(req.Context())
	switch {
	case req.Body == nil || req.Body == http.NoBody:
	case req.GetBody != nil:
		b, gerr := req.GetBody()
		if gerr != nil {
			return resp, nil
		}
		again.Body = b
	default:
		return resp, nil // the body is spent: the caller (or the bearer transport) decides
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	t.nonce.Add(1)
	return send(again)
}

// AsksForNonce reports whether a WWW-Authenticate field (its lines) has a DPoP challenge
// with error="use_dpop_nonce".
func AsksForNonce(challenges []string) bool {
	for _, line := range challenges {
		for _, c := range parseChallenges(line) {
			if strings.EqualFold(c.scheme, "DPoP") && c.params["error"] == "use_dpop_nonce" {
				return true
			}
		}
	}
	return false
}

type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges reads the challenges of one WWW-Authenticate line (RFC 9110 section
// 11.6.1): a scheme, then name=value parameters (a token or a quoted string), commas
// between; token68 credentials are skipped. At most 4 KiB is read.
func parseChallenges(s string) []challenge {
	if len(s) > 4<<10 {
		s = s[:4<<10]
	}
	var out []challenge
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
	}
	tok := func() string {
		start := i
		for i < len(s) && s[i] > ' ' && s[i] < 0x7f && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(s[i])) {
			i++
		}
		return s[start:i]
	}
	for {
		skip()
		if i >= len(s) {
			return out
		}
		scheme := tok()
		if scheme == "" {
			i++ // not a token: skip the byte
			continue
		}
		c := challenge{scheme: scheme, params: map[string]string{}}
		for {
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			start := i
			name := tok()
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			if name == "" || i >= len(s) || s[i] != '=' {
				i = start // the next challenge's scheme (or token68, skipped as one)
				break
			}
			i++
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			var val strings.Builder
			if i < len(s) && s[i] == '"' {
				i++
				for i < len(s) && s[i] != '"' {
					if s[i] == '\\' && i+1 < len(s) {
						i++
					}
					val.WriteByte(s[i])
					i++
				}
				if i < len(s) {
					i++ // the closing quote (a value that never closes ends the line)
				}
			} else {
				val.WriteString(tok())
			}
			c.params[strings.ToLower(name)] = val.String()
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			if i < len(s) && s[i] == ',' {
				i++
			}
		}
		out = append(out, c)
		if scheme == "" {
			return out
		}
	}
}
