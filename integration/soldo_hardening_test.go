package integration_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/integration/soldomock"
	"github.com/finauth/finauth/transport"
)

// What is signed is what goes on the wire: an internationalised Host is sent in punycode and
// signed so, an opaque URL's path is signed as sent, and a lower-case method (which net/http
// would send as it is) is refused before anything is sent.
func TestSoldo_SignsWhatGoesOnTheWire(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, nil)
	hc := newSoldoClient(t, soldoConfig(t, m.URL, 0))

	req, _ := http.NewRequest(http.MethodPost, m.URL+"/banks/iron/consents", strings.NewReader(`{"a":1}`))
	req.Host = "bücher.example:8443"
	if echo := doSoldo(t, hc, req); echo.Host != "xn--bcher-kva.example:8443" {
		t.Fatalf("host %q", echo.Host)
	}

	req, _ = http.NewRequest(http.MethodGet, m.URL, nil)
	req.URL.Opaque = "/transactions/O%3B5823"
	if echo := doSoldo(t, hc, req); echo.Path != "/transactions/O;5823" {
		t.Fatalf("path %q", echo.Path)
	}

	req, _ = http.NewRequest("post", m.URL+"/x", strings.NewReader("b"))
	if _, err := hc.Do(req); !errors.Is(err, soldo.ErrMethodCase) {
		t.Fatalf("a lower-case method: %v", err)
	}
	if st := m.Stats(); len(st.Rejections) != 0 {
		t.Fatalf("the mock refused %v", st.Rejections)
	}
}

// 400 identical requests at once, through a server that refuses any signature seen before:
// with deterministic algorithms (EdDSA, RS256) every signature must still differ.
func TestSoldo_IdenticalConcurrentRequestsGetDistinctSignatures(t *testing.T) {
	t.Parallel()
	for _, keyIndex := range []int{1, 2} { // EdDSA, RS256
		t.Run(string(soldoKeys[keyIndex].alg), func(t *testing.T) {
			m := newSoldoMock(t, func(c *soldomock.Config) { c.ReplayProtection = true })
			hc := newSoldoClient(t, soldoConfig(t, m.URL, keyIndex))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 400 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					resp, err := hc.Post(m.URL+"/transfers", "application/json", strings.NewReader(`{"amount":"1.00"}`))
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}()
			}
			close(start)
			wg.Wait()
			if st := m.Stats(); st.Verified != 400 || st.Rejections[soldomock.ReasonReplay] != 0 {
				t.Fatalf("verified %d, refused %v", st.Verified, st.Rejections)
			}
		})
	}
}

// EdDSA and the attached form hold the body to sign it, so MaxBodyBytes bounds them even
// with GetBody; a detached ES256 signature streams any size.
func TestSoldo_BodiesHeldForSigningAreBounded(t *testing.T) {
	t.Parallel()
	m := newSoldoMock(t, nil)
	big := bytes.Repeat([]byte("x"), 4<<10)
	for _, c := range []struct {
		name     string
		keyIndex int
		attached bool
		refused  bool
	}{
		{"EdDSA", 1, false, true},
		{"ES256 attached", 0, true, true},
		{"ES256 detached", 0, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := soldoConfig(t, m.URL, c.keyIndex)
			cfg.MaxBodyBytes, cfg.Attached = 1<<10, c.attached
			hc := newSoldoClient(t, cfg)
			req, _ := http.NewRequest(http.MethodPost, m.URL+"/upload", bytes.NewReader(big)) // with GetBody
			resp, err := hc.Do(req)
			if c.refused {
				var ue *url.Error
				if !errors.Is(err, transport.ErrBodyTooLarge) || !errors.As(err, &ue) || !strings.Contains(err.Error(), "MaxBodyBytes") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%v", err)
			}
			resp.Body.Close()
		})
	}
}
