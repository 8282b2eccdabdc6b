package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/redistest"
	"github.com/finauth/finauth/testkit/testwait"
	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/redisstore"
)

// The test binary doubles as a replica: with FINAUTH_TEST_REPLICA set it runs replicaMain
// (a service process with a token cache on the Redis store) instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("FINAUTH_TEST_REPLICA") != "" {
		os.Exit(replicaMain())
	}
	os.Exit(m.Run())
}

// replicaReport is what a replica prints.
type replicaReport struct {
	Values     []string `json:"values"` // distinct token values its callers got
	Errors     []string `json:"errors"`
	FleetWaits uint64   `json:"fleet_waits"`
	Fetches    uint64   `json:"fetches"`
}

// replicaMain: GOROUTINES callers ask for key "k" at START_AT (Unix ns), through a cache on
// the Redis store at REDIS_URL whose fetch POSTs to TOKEN_URL (the body is the token).
func replicaMain() int {
	store, err := redisstore.New(redisstore.Options{URL: os.Getenv("REDIS_URL"), Keys: [][]byte{key1}, Namespace: "replicas"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer store.Close()
	fetchTimeout, _ := time.ParseDuration(os.Getenv("FETCH_TIMEOUT"))
	cache := tokencache.New(func(ctx context.Context, _ string) (tokencache.Token, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, os.Getenv("TOKEN_URL"), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return tokencache.Token{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return tokencache.Token{Value: string(b), Expiry: time.Now().Add(time.Hour)}, err
	}, tokencache.Options{Store: store.Scope("replica-test"), FetchTimeout: fetchTimeout})
	defer cache.Close()
	n, _ := strconv.Atoi(os.Getenv("GOROUTINES"))
	at, _ := strconv.ParseInt(os.Getenv("START_AT"), 10, 64)
	time.Sleep(time.Until(time.Unix(0, at)))
	var mu sync.Mutex
	values := map[string]bool{}
	var rep replicaReport
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if d, err := time.ParseDuration(os.Getenv("WITHIN")); err == nil {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, d)
				defer cancel()
			}
			tok, err := cache.Token(ctx, "k")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.Errors = append(rep.Errors, err.Error())
				return
			}
			values[tok.Value] = true
		}()
	}
	wg.Wait()
	for v := range values {
		rep.Values = append(rep.Values, v)
	}
	st := cache.Stats()
	rep.FleetWaits, rep.Fetches = st.FleetWaits, st.Fetches
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// startReplica starts one replica process; wait returns its report.
func startReplica(t *testing.T, env ...string) (cmd *exec.Cmd, wait func() replicaReport) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"FINAUTH_TEST_REPLICA=1"}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, func() replicaReport {
		t.Helper()
		err := cmd.Wait()
		var r replicaReport
		if jerr := json.Unmarshal(stdout.Bytes(), &r); err != nil || jerr != nil {
			t.Fatalf("replica: %v %v\n%s\n%s", err, jerr, stdout.String(), stderr.String())
		}
		return r
	}
}

// The fleet storm: 8 replica processes x 100 goroutines on a key whose stored token is
// about to expire (unusable): one token request for the fleet.
func TestReplicas_EightProcessesStormOneExpiredKey(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	var requests atomic.Int64
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		time.Sleep(100 * time.Millisecond) // a token endpoint's moment: the storm piles up
		fmt.Fprintf(w, "token-%d", n)
	}))
	defer tokens.Close()
	// The token stored before the storm expires within the safety margin: no replica may use it.
	s, err := redisstore.New(redisstore.Options{URL: srv.URL(), Keys: [][]byte{key1}, Namespace: "replicas"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Scope("replica-test").Save(context.Background(), "k", tokencache.Token{Value: "expiring", Expiry: time.Now().Add(10 * time.Second)})

	start := time.Now().Add(1500 * time.Millisecond).UnixNano() // every process started by then
	var waits []func() replicaReport
	for range 8 {
		_, wait := startReplica(t, "REDIS_URL="+srv.URL(), "TOKEN_URL="+tokens.URL, "GOROUTINES=100",
			"FETCH_TIMEOUT=10s", fmt.Sprint("START_AT=", start))
		waits = append(waits, wait)
	}
	var fetches, fleetWaits uint64
	for i, wait := range waits {
		r := wait()
		if len(r.Errors) != 0 || len(r.Values) != 1 || r.Values[0] != "token-1" {
			t.Errorf("replica %d: values %v, errors %v", i, r.Values, r.Errors)
		}
		fetches += r.Fetches
		fleetWaits += r.FleetWaits
	}
	if got := requests.Load(); got != 1 || fetches != 1 {
		t.Fatalf("%d token requests (%d fetches) for 8 replicas x 100 goroutines, want 1", got, fetches)
	}
	t.Logf("8 processes x 100 goroutines: 1 token request, %d waits for another replica's fetch", fleetWaits)
}

// The lock holder is killed with SIGKILL in the middle of its fetch: its lock, a lease, goes
// within DefaultLockLease (3 s) although the fetch timeout is 30 s, and the waiting replica
// takes over and gets a token within its callers' 10 s (it waited the whole 30 s before).
func TestReplicas_AHolderKilledMidFetchIsTakenOver(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	var requests atomic.Int64
	hang := make(chan struct{})
	defer close(hang)
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			select { // the first fetch never answers: its process is killed meanwhile
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, "token-from-the-survivor")
	}))
	defer tokens.Close()
	env := []string{"REDIS_URL=" + srv.URL(), "TOKEN_URL=" + tokens.URL, "GOROUTINES=1", "FETCH_TIMEOUT=30s", "WITHIN=10s", fmt.Sprint("START_AT=", time.Now().UnixNano())}
	holder, _ := startReplica(t, env...)
	testwait.Eventually(t, "the holder's token request", func() bool { return requests.Load() == 1 })
	_, waitSurvivor := startReplica(t, env...)
	time.Sleep(300 * time.Millisecond) // the survivor finds the lock held and waits
	holder.Process.Kill()
	holder.Wait()
	r := waitSurvivor()
	if len(r.Errors) != 0 || len(r.Values) != 1 || r.Values[0] != "token-from-the-survivor" || r.FleetWaits == 0 {
		t.Fatalf("survivor: %+v", r)
	}
	if got := requests.Load(); got != 2 {
		t.Fatalf("%d token requests, want 2 (the killed holder's and the survivor's)", got)
	}
}
