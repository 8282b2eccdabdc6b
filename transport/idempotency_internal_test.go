package transport

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/finauth/finauth/testkit/testwait"
)

type okTransport struct{}

func (okTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// The keys remembered for requests sent again are forgotten once the requests are gone: a
// long-running service does not accumulate them.
func TestIdempotency_ForgetsTheKeysOfCollectedRequests(t *testing.T) {
	rt := &Idempotency{Base: okTransport{}}
	for range 1000 {
		req, _ := http.NewRequest(http.MethodPost, "https://api.example.com/payments", strings.NewReader("{}"))
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := rt.memo.size(); n == 0 {
		t.Fatal("no key remembered")
	}
	testwait.Eventually(t, "the keys of collected requests to be forgotten", func() bool {
		runtime.GC()
		return rt.memo.size() == 0
	})
}
