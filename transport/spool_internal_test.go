package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
)

// staticTokens always hands out the same token and accepts every invalidation.
type staticTokens struct{}

func (staticTokens) Token(context.Context, string) (tokencache.Token, error) {
	return tokencache.Token{Value: "t"}, nil
}
func (staticTokens) Rejected(context.Context, string, string, tokencache.Attempt) (tokencache.Token, bool, error) {
	return tokencache.Token{Value: "t"}, true, nil
}

func (staticTokens) Accepted(string, string) {}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Spooled bodies are reused as soon as nothing can read them, which net/http decides on
// other goroutines (it may write and close a body after RoundTrip returned). This test reuses
// as hard as it can: every released chunk is zeroed at once, bodies without GetBody of random
// sizes (with and without a declared length) go through Signing and Bearer over a real
// http.Transport from 8 goroutines, the server answers some before reading the body (a 401
// the Bearer replays), and some requests are cancelled while their body is being written.
// Every response has a body: net/http puts a connection whose response has none back in the
// idle pool before the response reaches its caller, and a cancellation of that caller at that
// moment closes the connection under the next request, which then fails with the other
// request's context.Canceled (golang/go#70834; reproduced with a bare http.Transport: 6 of
// 12,000 requests that nobody cancelled, 0 when the responses have a body).
// Every body the server reads must be exactly the caller's (a read of a released chunk would
// show as zeros, and under -race as a race), and every spool must be released in the end.
func TestSpool_ReusedOnlyWhenNothingCanReadIt(t *testing.T) {
	spoolTest.on.Store(true)
	defer spoolTest.on.Store(false)
	created0, released0 := spoolTest.created.Load(), spoolTest.released.Load()

	var seen sync.Map // request ID -> attempts, for the Bearer's first-attempt 401
	var bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Req")
		if strings.HasPrefix(r.URL.Path, "/bearer") {
			if _, again := seen.LoadOrStore(id, true); !again {
				http.Error(w, "unauthorized", http.StatusUnauthorized) // before reading a byte of the body
				return
			}
		}
		if strings.HasSuffix(r.URL.Path, "/slow") {
			buf := make([]byte, 1024)
			for {
				if _, err := r.Body.Read(buf); err != nil {
					w.Write([]byte("ok"))
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		want := r.Header.Get("X-Sum")
		auth := r.Header.Get("Authorization")
		if hexSum(body) != want || (auth != "sig "+want && auth != "Bearer t") {
			bad.Add(1)
			http.Error(w, "body or signature does not match", http.StatusBadRequest)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	base := srv.Client().Transport.(*http.Transport)
	origins, err := NewOrigins([]string{srv.URL}, false)
	if err != nil {
		t.Fatal(err)
	}
	signing := &Signing{Base: base, Origins: origins, Sign: func(_ *http.Request, body io.Reader) (string, error) {
		b, err := io.ReadAll(body)
		return "sig " + hexSum(b), err
	}}
	bearer := &Bearer{Base: base, Origins: origins, Tokens: staticTokens{}}

	var ok, cancelled atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 50 {
				size := rnd.IntN(300 << 10)
				if i%5 == 0 {
					size = rnd.IntN(5 << 10)
				}
				payload := make([]byte, size)
				for j := range payload {
					payload[j] = byte(rnd.Uint32()) | 1 // never zero: a zeroed chunk shows
				}
				rt, path := http.RoundTripper(signing), "/signing"
				if i%2 == 1 {
					rt, path = bearer, "/bearer"
				}
				slow := i%7 == 3
				if slow {
					path += "/slow"
				}
				ctx, cancel := context.WithCancel(context.Background())
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, io.NopCloser(bytes.NewReader(payload)))
				if i%3 != 0 {
					req.ContentLength = int64(size) // else unknown: chunked
				}
				req.Header.Set("X-Sum", hexSum(payload))
				req.Header.Set("X-Req", fmt.Sprint(g, "-", i))
				if slow {
					time.AfterFunc(time.Duration(rnd.IntN(3))*time.Millisecond, cancel)
				}
				resp, err := rt.RoundTrip(req)
				switch {
				case err != nil && slow && errors.Is(err, context.Canceled):
					cancelled.Add(1)
				case err != nil:
					t.Errorf("%s %d bytes: %v", path, size, err)
				case slow:
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					cancelled.Add(1)
				default:
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("%s %d bytes: %d %s", path, size, resp.StatusCode, b)
					} else {
						ok.Add(1)
					}
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d bodies arrived different from what was sent", bad.Load())
	}
	if ok.Load() < 250 || cancelled.Load() == 0 {
		t.Fatalf("%d requests answered, %d cancelled: the run did not exercise what it should", ok.Load(), cancelled.Load())
	}
	base.CloseIdleConnections()
	testwait.Eventually(t, "every spool to be released", func() bool {
		return spoolTest.released.Load()-released0 == spoolTest.created.Load()-created0
	})
	t.Logf("%d spools, %d answered, %d cancelled", spoolTest.created.Load()-created0, ok.Load(), cancelled.Load())
}
