package transport_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/finauth/finauth/transport"
)

// Idempotency gives each POST a key, the same on every attempt of that request: here the
// client sends one request twice (a retry loop of your own) and the server sees one key.
func ExampleIdempotency() {
	var mu sync.Mutex
	keys := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys[r.Header.Get("X-Idempotency-Key")]++
		mu.Unlock()
	}))
	defer srv.Close()
	hc := &http.Client{Transport: &transport.Idempotency{Base: srv.Client().Transport}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/payments", strings.NewReader(`{"amount":"1.00"}`))
	for range 2 {
		req.Body, _ = req.GetBody()
		resp, err := hc.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	for key, n := range keys {
		fmt.Println(len(key), "characters, sent", n, "times")
	}
	// Output:
	// 32 characters, sent 2 times
}
