package soldo

import (
	"net/http"

	"github.com/finauth/finauth/client/internal/settings"
	"github.com/finauth/finauth/tokencache"
)

// Option adjusts a client built by [NewClient], [NewTransport] or [NewSigner].
type Option func(*options)

type options struct {
	settings.Settings
}

// WithBaseTransport sends API requests through rt (default: client.DefaultTransport()).
func WithBaseTransport(rt http.RoundTripper) Option { return func(o *options) { o.Base = rt } }

// WithClock sets the clock that dates each signature's "exp" (default: the real clock).
func WithClock(c tokencache.Clock) Option { return func(o *options) { o.Clock = c } }

func collect(opts []Option) *options {
	o := &options{}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	return o
}
