// Package settings holds the options every provider honours (base transport, token HTTP
// client, logger, clock, randomness), with their defaults and the transports they own.
package settings

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/clock"
	"github.com/finauth/finauth/internal/telemetry"
	"github.com/finauth/finauth/signer"
)

// Settings are the options every provider honours. Each provider package has its own Option
// type whose With* functions fill these (so that an option a provider does not use does not
// compile with it); the zero value of every field means its default.
type Settings struct {
	// Base sends API requests. Default: a [client.DefaultTransport] the client owns.
	Base http.RoundTripper
	// TokenClient sends token-endpoint requests. Default: a client over a [client.DefaultTransport]
	// the client owns, following no redirects (a token endpoint that redirects is
	// misconfigured, and the credential it was sent must not follow).
	TokenClient *http.Client
	// Logger receives retries and refresh events. Default: silent.
	Logger *slog.Logger
	// Clock is the clock of signatures, token lifetimes and timers. Default: the real clock.
	Clock clock.Clock
	// Rand returns a random float in [0, 1) for backoff jitter. Default: math/rand/v2.
	Rand func() float64
	// Telemetry are the MeterProvider and TracerProvider of the provider's metrics and
	// spans. Default: the global ones (otel.GetMeterProvider(), otel.GetTracerProvider()).
	Telemetry telemetry.Providers
	// Name is the provider's finauth.provider attribute ("pismo", "soldo", ...); the
	// provider sets it.
	Name string

	rec *telemetry.Recorder

	// owned are the transports made here (not given by the caller): Close releases their
	// idle connections.
	owned []*http.Transport
}

// BaseTransport returns Base, making the default one on first use.
func (s *Settings) BaseTransport() http.RoundTripper {
	if s.Base == nil {
		t := client.DefaultTransport()
		s.Base, s.owned = t, append(s.owned, t)
	}
	return s.Base
}

// TokenHTTPClient returns TokenClient, making the default one on first use.
func (s *Settings) TokenHTTPClient() *http.Client {
	if s.TokenClient == nil {
		t := client.DefaultTransport()
		s.owned = append(s.owned, t)
		s.TokenClient = &http.Client{Transport: t,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return s.TokenClient
}

// Recorder returns the provider's telemetry recorder, made on first use (at construction:
// not safe for concurrent first use).
func (s *Settings) Recorder() *telemetry.Recorder {
	if s.rec == nil {
		s.rec = telemetry.New(s.Name, s.Telemetry)
	}
	return s.rec
}

// OnSign is the signer hook that records signatures in the provider's telemetry.
func (s *Settings) OnSign() func(signer.Algorithm, time.Duration) { return s.OnSignOf("jws") }

// OnSignOf is OnSign for the signatures of scheme (telemetry.AttrScheme: dpop, httpsig).
func (s *Settings) OnSignOf(scheme string) func(signer.Algorithm, time.Duration) {
	rec := s.Recorder()
	return func(alg signer.Algorithm, d time.Duration) { rec.SignedWith(scheme, string(alg), d) }
}

// Now reads Clock, or the real clock.
func (s *Settings) Now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
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

// Own registers a transport the provider made itself (not one the caller gave), whose idle
// connections CloseIdleConnections closes.
func (s *Settings) Own(t *http.Transport) { s.owned = append(s.owned, t) }

// CloseIdleConnections closes the idle connections of the transports these settings made
// (never those the caller gave).
func (s *Settings) CloseIdleConnections() {
	for _, t := range s.owned {
		t.CloseIdleConnections()
	}
}
