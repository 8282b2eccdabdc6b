package soldo

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/finauth/finauth/client/internal/config"
	"github.com/finauth/finauth/client/internal/settings"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/transport"
)

// Transport is the Soldo http.RoundTripper: a transport.Signing that signs every attempt of
// every request to the configured origins. Close it to release the idle connections of the
// transport it made. It prints (fmt, slog) as a summary without the key.
type Transport struct {
	signing  *transport.Signing
	settings *settings.Settings
	cfg      Config
}

// NewClient returns an *http.Client whose every request to the configured API origins
// carries a fresh Soldo signature.
//
// The client's transport is a *soldo.Transport: when you are done with the client, release the
// idle connections of the transport it made with hc.Transport.(*soldo.Transport).Close(); or
// build the client yourself from [NewTransport] and keep the Transport.
func NewClient(cfg Config, opts ...Option) (*http.Client, error) {
	t, err := NewTransport(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t}, nil
}

// NewTransport is NewClient's RoundTripper, for composing with other transports.
func NewTransport(cfg Config, opts ...Option) (*Transport, error) {
	o := collect(opts)
	ss, err := newSigner(cfg, o)
	if err != nil {
		return nil, err
	}
	origins, err := transport.NewOrigins(cfg.APIURLs, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, config.Problemf(provider, "APIURLs", "SOLDO_API_URL", "%v", err)
	}
	return &Transport{settings: &o.Settings, cfg: cfg,
		signing: &transport.Signing{Base: o.BaseTransport(), Sign: ss.Sign, Origins: origins, MaxBodyBytes: cfg.MaxBodyBytes}}, nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.signing.RoundTrip(req)
}

// Close closes the idle connections of the transport the client made itself (never one
// given with WithBaseTransport).
func (t *Transport) Close() error {
	t.settings.CloseIdleConnections()
	return nil
}

// Origins returns the origins whose requests are signed (APIURLs).
func (t *Transport) Origins() *transport.Origins { return t.signing.Origins }

// String describes the transport without its key.
func (t *Transport) String() string {
	return redact.Summary{Name: "soldo.Transport", Fields: struct {
		MemberID, KeyID string
		APIOrigins      []string
	}{t.cfg.MemberID, t.cfg.KeyID, t.signing.Origins.List()}}.String()
}

// Format keeps every fmt verb on String.
func (t *Transport) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// LogValue keeps slog output on String.
func (t *Transport) LogValue() slog.Value { return slog.StringValue(t.String()) }
