package jwks

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ContentType is the media type the Handler answers with (RFC 7517 section 8.5.1).
const ContentType = "application/jwk-set+json"

// DefaultMaxAge is the Handler's Cache-Control max-age: how long an HTTP cache between the
// Handler and a verifier may keep the document. It adds to how long the verifier itself
// caches it (HandlerOptions.MaxAge is part of the cache time a rotation waits out).
const DefaultMaxAge = 5 * time.Minute

// DefaultCheckInterval is how often the Handler looks at its files for a change.
const DefaultCheckInterval = time.Second

// HandlerOptions configure a Handler.
type HandlerOptions struct {
	// Keys to publish, in order (the one signing now first, by convention). Required.
	Keys []Key
	// MaxAge is the Cache-Control max-age; default DefaultMaxAge, negative for no-cache.
	MaxAge time.Duration
	// CheckInterval is the least time between two looks at the files (their size and
	// modification time); default DefaultCheckInterval.
	CheckInterval time.Duration
	// Now is the clock certificates are checked against; default time.Now.
	Now func() time.Time
	// Logger gets a line for each reload and each reload that failed; default slog.Default().
	Logger *slog.Logger
}

// Handler serves the JWKS of its key files at any path it is mounted on, for GET and HEAD:
// the keys whose file exists (a file not there yet is a key not published yet: create it to
// publish the next key of a rotation, delete it to retire one; at least one must exist).
// Content-Type application/jwk-set+json, Cache-Control public with max-age, a strong ETag
// of the document, and 304 Not Modified for an If-None-Match that matches. It reloads the
// document when a file changes (size or modification time, looked at no more than every
// CheckInterval); a reload that fails (a half-written file, an expired certificate) keeps
// the last good document served and is logged, and Err says why until a reload works. Safe
// for concurrent use.
type Handler struct {
	o HandlerOptions

	mu      sync.Mutex
	checked time.Time
	stamps  []stamp
	doc     []byte
	etag    string
	err     error
	reloads int
	expires expiry // the first published certificate to expire
	expired bool   // its expiry was logged
}

// stamp is what the Handler last saw of a file.
type stamp struct {
	size int64
	mod  time.Time
}

// NewHandler loads the keys (Load) and returns a Handler serving them; a key that cannot be
// published is an error now, not a 500 later.
func NewHandler(o HandlerOptions) (*Handler, error) {
	if len(o.Keys) == 0 {
		return nil, fmt.Errorf("%w: no key given: a JWKS holds at least the key you sign with", ErrKey)
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &Handler{o: o}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.loadLocked(); err != nil {
		return nil, err
	}
	return h, nil
}

// loadLocked reads the files there are and, if they make a key set, serves it.
func (h *Handler) loadLocked() error {
	stamps := h.stat()
	var present, missing []Key
	for i, k := range h.o.Keys {
		if stamps[i] == (stamp{}) {
			if _, err := os.Stat(k.File); errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, k)
				continue
			}
		}
		present = append(present, k)
	}
	if len(present) == 0 {
		return fmt.Errorf("%w: none of the key files exists (%s)", ErrKey, h.o.Keys[0].File)
	}
	set, first, err := load(h.o.Now(), present)
	if err != nil {
		return err
	}
	h.expires, h.expired = first, false
	for _, k := range missing {
		h.o.Logger.Info("finauth: jwks: a key file is not there: its key is not published until it is", "kid", k.KID, "file", k.File)
	}
	doc, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKey, err)
	}
	sum := sha256.Sum256(doc)
	h.doc, h.etag, h.stamps, h.err = doc, `"`+base64.RawURLEncoding.EncodeToString(sum[:16])+`"`, stamps, nil
	h.reloads++
	return nil
}

// stat returns the files' sizes and modification times (zero for a file it cannot stat).
func (h *Handler) stat() []stamp {
	out := make([]stamp, len(h.o.Keys))
	for i, k := range h.o.Keys {
		if fi, err := os.Stat(k.File); err == nil {
			out[i] = stamp{fi.Size(), fi.ModTime()}
		}
	}
	return out
}

// refresh reloads the document if a file changed since the last look.
func (h *Handler) refresh() {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if now.Sub(h.checked) < h.o.CheckInterval {
		return
	}
	h.checked = now
	h.expiredLocked()
	stamps := h.stat()
	changed := false
	for i := range stamps {
		if stamps[i] != h.stamps[i] {
			changed = true
		}
	}
	if !changed {
		return
	}
	old := h.etag
	if err := h.loadLocked(); err != nil {
		if h.err == nil || h.err.Error() != err.Error() {
			h.o.Logger.Error("finauth: jwks: the key files changed but do not make a key set; still serving the last good one", "error", err)
		}
		h.err, h.stamps = err, stamps // looked at again when they change again
		return
	}
	if h.etag != old {
		h.o.Logger.Info("finauth: jwks: reloaded the key set", "keys", len(h.o.Keys), "etag", h.etag)
	}
}

// Reload reads the files now, whether or not they changed, and returns why they do not make
// a key set (the last good one is still served then).
func (h *Handler) Reload() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checked = time.Now()
	if err := h.loadLocked(); err != nil {
		h.err = err
		return err
	}
	return nil
}

// Err is why the last reload failed, or nil when the document served is the files' own.
func (h *Handler) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.expiredLocked(); err != nil && h.err == nil {
		return err
	}
	return h.err
}

// expiredLocked says, once the first published certificate has expired, which and when
// (logged once): a verifier refuses the signatures of its key. The document stays served
// (withdrawing the key changes nothing for them); publish its successor.
func (h *Handler) expiredLocked() error {
	if h.expires.at.IsZero() || h.o.Now().Before(h.expires.at) {
		return nil
	}
	err := fmt.Errorf("%w: the certificate of kid %q expired at %s: publish a new certificate for its key (or its successor)", ErrKey, h.expires.kid, h.expires.at.UTC().Format(time.RFC3339))
	if !h.expired {
		h.expired = true
		h.o.Logger.Error("finauth: jwks: a published certificate has expired: verifiers refuse its key's signatures", "kid", h.expires.kid, "expired_at", h.expires.at.UTC().Format(time.RFC3339))
	}
	return err
}

// Document returns the JWKS served now and its ETag.
func (h *Handler) Document() (doc []byte, etag string) {
	h.refresh()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.doc, h.etag
}

// ServeHTTP answers GET and HEAD with the document (or 304), anything else with 405.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "a JWKS is read with GET", http.StatusMethodNotAllowed)
		return
	}
	doc, etag := h.Document()
	hd := w.Header()
	hd.Set("ETag", etag)
	if h.o.MaxAge < 0 {
		hd.Set("Cache-Control", "no-cache")
	} else {
		hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(h.o.MaxAge/time.Second)))
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && matches(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", ContentType)
	hd.Set("Content-Length", strconv.Itoa(len(doc)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(doc)
}

// matches reports whether an If-None-Match list names etag (or is "*"); weak comparison,
// as RFC 9110 section 13.1.2 asks.
func matches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
