package soldo

import (
	"net/http"
	"time"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/transport"
)

// Option adjusts a client built by [NewClient], [NewTransport] or [NewSigner].
type Option func(*options)

type options struct {
	client.Settings
}

// WithBaseTransport sends API requests through rt (default: client.DefaultTransport()).
func WithBaseTransport(rt http.RoundTripper) Option { return func(o *options) { o.Base = rt } }

// WithClock sets the clock that dates each signature's "exp" (default: time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.Now = now } }

func collect(opts []Option) *options {
	o := &options{}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	return o
}

// NewClient returns an *http.Client whose every request to the configured API origins
// carries a fresh Soldo signature.
func NewClient(cfg Config, opts ...Option) (*http.Client, error) {
	t, err := NewTransport(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t}, nil
}

// NewTransport is NewClient's RoundTripper, for composing with other transports.
func NewTransport(cfg Config, opts ...Option) (*transport.Signing, error) {
	o := collect(opts)
	ss, err := newSigner(cfg, o)
	if err != nil {
		return nil, err
	}
	origins, err := transport.NewOrigins(cfg.APIURLs, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, client.Problemf(provider, "APIURLs", "SOLDO_API_URL", "%v", err)
	}
	return &transport.Signing{Base: o.BaseTransport(), Sign: ss.Sign, Origins: origins, MaxBodyBytes: cfg.MaxBodyBytes}, nil
}
