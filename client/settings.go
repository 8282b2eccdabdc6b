package client

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// Settings are the options every provider honours. Each provider package has its own Option
// type whose With* functions fill these (so that an option a provider does not use does not
// compile with it); the zero value of every field means its default.
type Settings struct {
	// Base sends API requests. Default: a [DefaultTransport] the client owns.
	Base http.RoundTripper
	// TokenClient sends token-endpoint requests. Default: a client over a [DefaultTransport]
	// the client owns, following no redirects (a token endpoint that redirects is
	// misconfigured, and the credential it was sent must not follow).
	TokenClient *http.Client
	// Logger receives retries and refresh events. Default: silent.
	Logger *slog.Logger
	// Now is the clock of signatures and token lifetimes. Default: time.Now.
	Now func() time.Time
	// Rand returns a random float in [0, 1) for backoff jitter. Default: math/rand/v2.
	Rand func() float64

	// owned are the transports made here (not given by the caller): Close releases their
	// idle connections.
	owned []*http.Transport
}

// BaseTransport returns Base, making the default one on first use.
func (s *Settings) BaseTransport() http.RoundTripper {
	if s.Base == nil {
		t := DefaultTransport()
		s.Base, s.owned = t, append(s.owned, t)
	}
	return s.Base
}

// TokenHTTPClient returns TokenClient, making the default one on first use.
func (s *Settings) TokenHTTPClient() *http.Client {
	if s.TokenClient == nil {
		t := DefaultTransport()
		s.owned = append(s.owned, t)
		s.TokenClient = &http.Client{Transport: t,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return s.TokenClient
}

// Clock returns Now, or time.Now.
func (s *Settings) Clock() func() time.Time {
	if s.Now == nil {
		return time.Now
	}
	return s.Now
}

// Random returns Rand, or math/rand/v2's Float64.
func (s *Settings) Random() func() float64 {
	if s.Rand == nil {
		return rand.Float64
	}
	return s.Rand
}

// Log returns Logger, or a logger that discards everything.
func (s *Settings) Log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// CloseIdleConnections closes the idle connections of the transports these settings made
// (never those the caller gave).
func (s *Settings) CloseIdleConnections() {
	for _, t := range s.owned {
		t.CloseIdleConnections()
	}
}

// DefaultTransport is a clone of http.DefaultTransport with bounded dial, TLS and
// response-header waits and more idle connections per host (we talk to few hosts, a lot).
func DefaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.MaxIdleConnsPerHost = 64
	return t
}
