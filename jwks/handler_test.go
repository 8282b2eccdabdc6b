package jwks_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finauth/finauth/jwks"
)

func get(t *testing.T, url string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func kids(t *testing.T, body []byte) []string {
	t.Helper()
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	for _, k := range doc.Keys {
		out = append(out, k.KID)
	}
	return out
}

// The handler answers with the media type, Cache-Control and a strong ETag; a matching
// If-None-Match gets 304 without a body; HEAD has no body; POST is 405.
func TestHandler_CachingHeaders(t *testing.T) {
	dir := t.TempDir()
	cert := writeCert(t, dir, "signing", rsaKeyFile, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	h, err := jwks.NewHandler(jwks.HandlerOptions{Keys: []jwks.Key{{KID: "sig-1", File: cert}}, MaxAge: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp := get(t, srv.URL+"/jwks.json")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != jwks.ContentType || resp.Header.Get("Cache-Control") != "public, max-age=600" ||
		!strings.HasPrefix(etag, `"`) || len(etag) < 10 || strings.Join(kids(t, body), ",") != "sig-1" {
		t.Fatalf("%d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	resp = get(t, srv.URL, "If-None-Match", `"other", `+etag)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
		t.Fatalf("If-None-Match: %d %q", resp.StatusCode, body)
	}
	if resp = get(t, srv.URL, "If-None-Match", `"stale"`); resp.StatusCode != 200 {
		t.Fatalf("a stale If-None-Match: %d", resp.StatusCode)
	}
	resp.Body.Close()
	head, _ := http.Head(srv.URL)
	if head.StatusCode != 200 || head.Header.Get("Content-Length") != resp.Header.Get("Content-Length") {
		t.Fatalf("HEAD: %d %v", head.StatusCode, head.Header)
	}
	post, _ := http.Post(srv.URL, "text/plain", nil)
	if post.StatusCode != http.StatusMethodNotAllowed || post.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d", post.StatusCode)
	}
}

// Publishing the next key is a file change: the handler serves it without a restart, with
// a new ETag (the old If-None-Match gets the new document); a change that breaks the set (an
// expired certificate) keeps the last good document served, logged and reported by Err, until
// the files are fixed.
func TestHandler_ReloadsWhenTheFilesChange(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	cur := writeCert(t, dir, "current", rsaKeyFile, now.Add(-time.Hour), now.Add(time.Hour))
	next := filepath.Join(dir, "next.pem")
	os.WriteFile(next, nil, 0o644) // not published yet: an empty file is refused...
	var logs bytes.Buffer
	if _, err := jwks.NewHandler(jwks.HandlerOptions{Keys: []jwks.Key{{KID: "sig-1", File: cur}, {KID: "sig-2", File: next}}}); err == nil {
		t.Fatal("an empty key file was accepted")
	}
	h, err := jwks.NewHandler(jwks.HandlerOptions{Keys: []jwks.Key{{KID: "sig-1", File: cur}}, CheckInterval: time.Nanosecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp := get(t, srv.URL)
	resp.Body.Close()
	etag1 := resp.Header.Get("ETag")

	nextCert := writeCert(t, dir, "next", ecKeyFile, now.Add(-time.Hour), now.Add(time.Hour))

	// Rotate in place: the file of sig-1 is replaced by the next certificate.
	data, _ := os.ReadFile(nextCert)
	time.Sleep(10 * time.Millisecond) // a new modification time even on coarse clocks
	if err := os.WriteFile(cur, data, 0o644); err != nil {
		t.Fatal(err)
	}
	resp = get(t, srv.URL, "If-None-Match", etag1)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag2 := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag2 == etag1 || !strings.Contains(string(body), `"EC"`) {
		t.Fatalf("after the change: %d %s %s", resp.StatusCode, etag2, body)
	}
	// A broken change: an expired certificate. The last good document stays.
	expired := writeCert(t, dir, "expired", rsaKeyFile, now.Add(-48*time.Hour), now.Add(-time.Hour))
	data, _ = os.ReadFile(expired)
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(cur, data, 0o644)
	resp = get(t, srv.URL)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != etag2 || !strings.Contains(string(body), `"EC"`) {
		t.Fatalf("after a broken change: %d %s", resp.StatusCode, body)
	}
	if h.Err() == nil || !strings.Contains(h.Err().Error(), "expired") || !strings.Contains(logs.String(), "still serving the last good one") {
		t.Fatalf("Err %v, logs %s", h.Err(), logs.String())
	}
	// Fixed again.
	data, _ = os.ReadFile(nextCert)
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(cur, data, 0o644)
	resp = get(t, srv.URL)
	resp.Body.Close()
	if h.Err() != nil || resp.Header.Get("ETag") != etag2 {
		t.Fatalf("after the fix: %v %s", h.Err(), resp.Header.Get("ETag"))
	}
}

// Issue 31 (16): a certificate that expires while it is published is not served as if all
// were well: Err says which kid's certificate expired and when (logged once), and the last
// document stays served (verifiers refuse its signatures either way).
func TestHandler_ACertificateThatExpiresWhilePublishedIsAnError(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	cert := writeCert(t, dir, "signing", rsaKeyFile, start.Add(-time.Hour), start.Add(time.Hour))
	var mu sync.Mutex
	now := start
	var logs bytes.Buffer
	h, err := jwks.NewHandler(jwks.HandlerOptions{Keys: []jwks.Key{{KID: "sig-1", File: cert}}, CheckInterval: time.Nanosecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	if err != nil {
		t.Fatal(err)
	}
	if h.Err() != nil {
		t.Fatal(h.Err())
	}
	mu.Lock()
	now = start.Add(2 * time.Hour)
	mu.Unlock()
	for range 2 {
		if doc, _ := h.Document(); !strings.Contains(string(doc), "sig-1") {
			t.Fatalf("the document stopped being served: %s", doc)
		}
	}
	if err := h.Err(); err == nil || !strings.Contains(err.Error(), `"sig-1"`) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Err after the certificate expired: %v", err)
	}
	if n := strings.Count(logs.String(), "has expired"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, logs.String())
	}
}
