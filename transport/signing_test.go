package transport_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/finauth/finauth/transport"
)

func TestSigning_RefusesOtherOriginsAndReportsSignErrors(t *testing.T) {
	t.Parallel()
	srv := newAPI(t)
	other := newAPI(t)
	boom := errors.New("hsm offline")
	calls := 0
	s := &transport.Signing{Origins: mustOrigins(t, srv.URL), Sign: func(req *http.Request, body io.Reader) (string, error) {
		calls++
		b, _ := io.ReadAll(body)
		if string(b) == "fail" {
			return "", boom
		}
		return "Bearer sig-over-" + string(b), nil
	}}
	body := &closeTracker{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, other.URL+"/x", body)
	if _, err := s.RoundTrip(req); !errors.Is(err, transport.ErrOriginNotAllowed) || !body.closed.Load() || calls != 0 {
		t.Fatalf("foreign origin: %v", err)
	}
	body = &closeTracker{Reader: strings.NewReader("fail")}
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/x", body)
	if _, err := s.RoundTrip(req); !errors.Is(err, transport.ErrSign) || !errors.Is(err, boom) || !body.closed.Load() {
		t.Fatalf("sign error: %v", err)
	}
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/x", strings.NewReader("payload"))
	resp, err := s.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := srv.requests(); len(got) != 1 || got[0].auth != "Bearer sig-over-payload" || got[0].bodySHA != sha([]byte("payload")) {
		t.Fatalf("%+v", got)
	}
	if len(other.requests()) != 0 {
		t.Fatal("the foreign origin got a request")
	}
}
