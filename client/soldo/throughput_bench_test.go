package soldo

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/finauth/finauth/signer"
	"github.com/finauth/finauth/transport"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU the process spent per operation since start (client and
// loopback server together: they share the process) and returns it.
func reportCPU(b *testing.B, start time.Duration) float64 {
	per := float64(cpuTime()-start) / float64(b.N)
	b.ReportMetric(per, "cpu-ns/op")
	return per
}

// headerAdder sends an Authorization header of a given value, unsigned.
type headerAdder struct {
	base  http.RoundTripper
	value string
}

func (h headerAdder) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", h.value)
	return h.base.RoundTrip(r)
}

// BenchmarkSoldoThroughput: 200-byte POSTs over loopback HTTP to an in-process server, 8
// workers, unsigned beside Soldo-signed (ES256 detached JWS, through NewClient's transport),
// and one bare ecdsa.SignASN1 of a SHA-256 digest with the same key: the floor. cpu-ns/op is
// the process's CPU per request (client and server), so signed - unsigned is what signing
// adds to a request, to compare with ecdsa-sign (unsigned+header carries a header as long
// as the signature, unsigned: what carrying it costs); the last sub-benchmark, added/ecdsa,
// reports that ratio from the three before it in the same run (x-ecdsa-sign).
func BenchmarkSoldoThroughput(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	key, err := signer.LoadKeyFile("../../signer/testdata/keys/test-ec-p256-pkcs8.pem")
	if err != nil {
		b.Fatal(err)
	}
	payload := bytes.Repeat([]byte(`{"amount":"2.00","to":"x"}`), 8)[:200]
	base := &http.Transport{MaxIdleConnsPerHost: 16}
	defer base.CloseIdleConnections()
	cfg := Config{APIURLs: []string{srv.URL}, Key: key, KeyID: "k1", MemberID: "m:QWu4AjKk13DAAe1NiVLXeBRDwtt:5zKtXEAq"}
	ss, err := NewSigner(cfg)
	if err != nil {
		b.Fatal(err)
	}
	origins, err := transport.NewOrigins(cfg.APIURLs, true)
	if err != nil {
		b.Fatal(err)
	}
	// A header as long as a signature, for the part of a signed request's cost that is
	// only carrying its header (the client writing it, the server reading it).
	probe, _ := http.NewRequest(http.MethodPost, srv.URL+"/banks/iron/consents", bytes.NewReader(payload))
	auth, err := ss.Sign(probe, bytes.NewReader(payload))
	if err != nil {
		b.Fatal(err)
	}
	clients := map[string]*http.Client{
		"unsigned":        {Transport: base},
		"unsigned+header": {Transport: headerAdder{base, strings.Repeat("x", len(auth))}},
		"signed":          {Transport: &transport.Signing{Base: base, Sign: ss.Sign, Origins: origins}},
	}
	cpu := map[string]float64{}
	for _, name := range []string{"unsigned", "unsigned+header", "signed"} {
		hc := clients[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(4) // 8 workers on 2 cores
			start := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := hc.Post(srv.URL+"/banks/iron/consents", "application/json", bytes.NewReader(payload))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			cpu[name] = reportCPU(b, start)
		})
	}
	priv := key.Signer().(*ecdsa.PrivateKey)
	digest := sha256.Sum256(payload)
	b.Run("ecdsa-sign", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4)
		start := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ecdsa.SignASN1(rand.Reader, priv, digest[:]); err != nil {
					b.Error(err)
					return
				}
			}
		})
		cpu["ecdsa"] = reportCPU(b, start)
	})
	// The four above interleaved, for the ratio: each op is a block of blockOps unsigned
	// requests, then as many signed, as many bare signatures and as many unsigned+header
	// requests, each on 8 goroutines; the process's CPU time of each block is summed by
	// kind, so that the machine's drift over a run (other tenants, frequency) falls on all
	// alike. x-ecdsa-sign is what signing adds to a request over one signature;
	// header-cpu-ns/req what carrying the header costs, and signing-x-ecdsa-sign the rest
	// over one signature.
	b.Run("interleaved", func(b *testing.B) {
		const blockOps, workers = 2_000, 8
		post := func(hc *http.Client) func() error {
			return func() error {
				resp, err := hc.Post(srv.URL+"/banks/iron/consents", "application/json", bytes.NewReader(payload))
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return nil
			}
		}
		sign := func() error {
			_, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
			return err
		}
		kinds := []func() error{post(clients["unsigned"]), post(clients["signed"]), sign, post(clients["unsigned+header"])}
		var spent [4]time.Duration
		for b.Loop() {
			for k, op := range kinds {
				start := cpuTime()
				if err := inParallel(workers, blockOps, op); err != nil {
					b.Fatal(err)
				}
				spent[k] += cpuTime() - start
			}
		}
		per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*blockOps) }
		b.ReportMetric(per(spent[0]), "unsigned-cpu-ns/req")
		b.ReportMetric(per(spent[1]), "signed-cpu-ns/req")
		b.ReportMetric(per(spent[2]), "ecdsa-cpu-ns/sig")
		b.ReportMetric(per(spent[3]-spent[0]), "header-cpu-ns/req")
		b.ReportMetric(float64(spent[1]-spent[0])/float64(spent[2]), "x-ecdsa-sign")
		// Signing without carrying the header: signed beside unsigned+header.
		b.ReportMetric(float64(spent[1]-spent[3])/float64(spent[2]), "signing-x-ecdsa-sign")
	})
	b.Run("added/ecdsa", func(b *testing.B) {
		for b.Loop() {
		}
		if cpu["ecdsa"] > 0 {
			b.ReportMetric((cpu["signed"]-cpu["unsigned"])/cpu["ecdsa"], "x-ecdsa-sign")
		}
	})
}

// inParallel runs op n times on workers goroutines and returns the first error.
func inParallel(workers, n int, op func() error) error {
	var next atomic.Int64
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for next.Add(1) <= int64(n) {
				if err := op(); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
