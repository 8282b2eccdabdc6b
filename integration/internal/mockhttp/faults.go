package mockhttp

import (
	"math"
	"net/http"
	"sync"
	"time"
)

// Faults is the fault injection a mock token server offers: failed token requests (spread
// evenly), added latency, and 401s on demand. Mocks embed it; its methods are theirs. The
// zero value injects nothing. Safe for concurrent use.
type Faults struct {
	mu            sync.Mutex
	rate          float64
	status        int
	retryAfter    time.Duration
	requests      int
	latency       time.Duration
	fail401       int
	fail401Header string // Fail401With: only calls carrying it
}

// FailTokens makes the token endpoint answer status (with Retry-After when retryAfter > 0)
// to a fraction rate of requests, spread evenly (0.3: 3 in every 10, never 2 in a row, so
// that a client's retries are never all failed). Rate 1 fails every request; 0 turns it off.
func (f *Faults) FailTokens(rate float64, status int, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rate, f.status, f.retryAfter = rate, status, retryAfter
}

// SetLatency delays every answer.
func (f *Faults) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// Fail401 makes the next n API calls answer 401 whatever their token.
func (f *Faults) Fail401(n int) { f.Fail401With(n, "") }

// Fail401With makes the next n API calls that carry header (any value) answer 401; ""
// means any call. A test aims the fault at its own client with it: another client's late
// request (its handler still running after the client went) does not take it.
func (f *Faults) Fail401With(n int, header string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail401, f.fail401Header = n, header
}

// Delay waits out the latency; false when the request was cancelled meanwhile.
func (f *Faults) Delay(r *http.Request) bool {
	f.mu.Lock()
	latency := f.latency
	f.mu.Unlock()
	if latency <= 0 {
		return true
	}
	select {
	case <-time.After(latency):
		return true
	case <-r.Context().Done():
		return false
	}
}

// TokenFailure counts a token request and says whether to fail it, with what status and
// Retry-After: request n fails when floor(n*rate) steps up.
func (f *Faults) TokenFailure() (status int, retryAfter time.Duration, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	n := float64(f.requests)
	if f.rate > 0 && math.Floor(n*f.rate) > math.Floor((n-1)*f.rate) {
		return f.status, f.retryAfter, true
	}
	return 0, 0, false
}

// Take401 reports whether this API call must answer 401 (Fail401), counting it down.
func (f *Faults) Take401() bool { return f.Take401For(nil) }

// Take401For is Take401 for request r, which Fail401With's header selects.
func (f *Faults) Take401For(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail401 > 0 && (f.fail401Header == "" || r != nil && r.Header.Get(f.fail401Header) != "") {
		f.fail401--
		return true
	}
	return false
}

// SetRetryAfter writes a Retry-After header in whole seconds.
func SetRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", itoa(int(math.Ceil(d.Seconds()))))
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}
