package clientcredentials_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/tokencache"
)

// tokenServer issues "tok-<client_id>-<n>" to any client_secret_post request, and its API
// answers with the Authorization it got.
func tokenServer(t *testing.T) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			r.ParseForm()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"tok-%s-%d","expires_in":3600}`, r.PostForm.Get("client_id"), n.Add(1))
			return
		}
		io.WriteString(w, r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// recordingStore is a user's wrapper around a store (metrics, tracing): a FleetStore that is
// not a tokencache.Scoper. It records the keys it is asked for.
type recordingStore struct {
	tokencache.FleetStore
	mu   sync.Mutex
	keys map[string]bool
}

func (r *recordingStore) note(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = map[string]bool{}
	}
	r.keys[key] = true
}

func (r *recordingStore) Load(ctx context.Context, key string) (tokencache.Token, bool, error) {
	r.note(key)
	return r.FleetStore.Load(ctx, key)
}

func (r *recordingStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	r.note(key)
	return r.FleetStore.Lock(ctx, key, ttl)
}

// Two clients with different client IDs sharing one store, a MemoryStore or a wrapper of the
// user's that is not a Scoper: each sends its own token, never the other's, and the store
// sees different keys for them.
func TestTransport_ASharedStoreNeverHandsOneClientsTokenToAnother(t *testing.T) {
	t.Parallel()
	srv := tokenServer(t)
	for name, store := range map[string]tokencache.Store{
		"MemoryStore":      tokencache.NewMemoryStore(nil, 0),
		"a user's wrapper": &recordingStore{FleetStore: tokencache.NewMemoryStore(nil, 0)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, id := range []string{"client-a", "client-b", "client-a"} {
				tr, err := clientcredentials.NewTransport(clientcredentials.Config{TokenURL: srv.URL + "/token", APIURLs: []string{srv.URL},
					ClientID: id, AuthMethod: clientcredentials.ClientSecretPost, ClientSecret: "s"}, clientcredentials.WithTokenStore(store))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/api")
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				tr.Close()
				if !strings.HasPrefix(string(got), "Bearer tok-"+id+"-") {
					t.Fatalf("%s sent %q", id, got)
				}
			}
			if r, ok := store.(*recordingStore); ok && len(r.keys) != 2 {
				t.Fatalf("the wrapped store saw keys %v: want one per client", r.keys)
			}
		})
	}
}
