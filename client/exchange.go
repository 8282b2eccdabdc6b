package client

import (
	"net/http"
	"time"
)

// DefaultMaxTokenLifetime is the longest lifetime a token answer is believed: an
// "expires_in" beyond it (a day in seconds is 86,400; some servers send milliseconds, or
// nonsense) is clamped to it, and the token stays usable.
const DefaultMaxTokenLifetime = 24 * time.Hour

// ExchangeOptions bound a token-endpoint call. The zero value uses the defaults.
type ExchangeOptions struct {
	// MaxAttempts counts the first try; default 4.
	MaxAttempts int
	// TotalTimeout bounds all attempts and waits together; default 20s.
	TotalTimeout time.Duration
	// RetryWaitMin and RetryWaitMax bound the jittered exponential wait between attempts;
	// defaults 250ms and 5s. A Retry-After header is honoured (within TotalTimeout).
	RetryWaitMin, RetryWaitMax time.Duration
	// AttemptTimeout bounds one attempt, from sending the request to reading the whole
	// answer, whatever HTTP client is used; default 10s.
	AttemptTimeout time.Duration
	// MaxTokenLifetime is the longest lifetime a token answer is believed; a longer
	// expires_in is clamped to it (logged once). Default DefaultMaxTokenLifetime (24h).
	MaxTokenLifetime time.Duration
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
