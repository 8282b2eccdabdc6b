package transport

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
)

// DefaultMaxBodyBytes is how much of a request body without GetBody a transport buffers so
// that it can send (or sign) the same bytes again.
const DefaultMaxBodyBytes = 10 << 20

// ErrBodyTooLarge is wrapped when a body must be buffered (to be signed) and is larger than
// the limit.
var ErrBodyTooLarge = errors.New("finauth: transport: request body larger than the buffering limit")

// BodyTooLargeError says a body that had to be buffered exceeded Limit.
type BodyTooLargeError struct{ Limit int64 }

// Error names the limit and the way around it.
func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("%s (%d bytes): nothing was sent; raise MaxBodyBytes, or give the request a GetBody (http.NewRequest does for bytes.Reader, bytes.Buffer and strings.Reader bodies) so that the body is streamed instead of buffered", ErrBodyTooLarge, e.Limit)
}

// Unwrap returns ErrBodyTooLarge.
func (e *BodyTooLargeError) Unwrap() error { return ErrBodyTooLarge }

// A body without GetBody is read into a spool: pooled chunks, reused once nothing can read
// them any more. A RoundTripper may not know when that is (http.Transport can go on writing
// a body, and close it, after RoundTrip returned), so the spool counts references: one held
// by the RoundTrip that read it, until it returns, and one per reader handed out (the first
// body, each GetBody call, the signer's), until that reader is closed. The chunks go back to
// the pool when the count reaches zero. A reader takes the spool's lock to copy, and Close
// takes it too, so no Read copies from a chunk after the reader was closed, even when the
// transport closes the body from another goroutine during a Read; a reader that is never
// closed keeps its chunks from the pool (the garbage collector takes them).

// Chunk sizes: the first chunk of a body is small unless its declared length is larger, so
// that many small bodies in flight hold little; the rest are large, so that a large body
// is few chunks.
const (
	smallChunk = 4 << 10
	largeChunk = 64 << 10
)

var (
	smallChunks = sync.Pool{New: func() any { return new([smallChunk]byte) }}
	largeChunks = sync.Pool{New: func() any { return new([largeChunk]byte) }}
)

// spoolTest, switched on by tests, counts spools and zeroes chunks as they go back to the
// pool, so that a read after release shows as wrong bytes (and, with -race, as a race).
var spoolTest struct {
	on                atomic.Bool
	created, released atomic.Int64
}

// spool is a body held in pooled chunks.
type spool struct {
	mu       sync.Mutex
	chunks   [][]byte // the bytes, each a prefix of a pooled array
	small    []*[smallChunk]byte
	large    []*[largeChunk]byte
	size     int64
	refs     int  // guarded by mu
	released bool // guarded by mu
}

// errSpoolReleased is returned by a Read after Close, and by a GetBody after the round trip
// that buffered the body is over.
var errSpoolReleased = errors.New("finauth: transport: the buffered request body is no longer available (read after close, or GetBody after the round trip ended)")

// readSpool reads r to EOF, or until more than limit bytes came (complete false; what was
// read is kept, so the caller can still stream it). hint is the declared length, if any.
// The spool holds one reference for the caller, who gives it up with done.
func readSpool(r io.Reader, limit, hint int64) (s *spool, complete bool, err error) {
	s = &spool{refs: 1}
	if spoolTest.on.Load() {
		spoolTest.created.Add(1)
	}
	for {
		if s.size > limit {
			return s, false, nil
		}
		room := limit - s.size // up to limit, and one byte more to see that there is more
		if room < math.MaxInt64 {
			room++
		}
		var chunk []byte
		if len(s.chunks) == 0 && (hint <= 0 || hint < smallChunk) {
			a := smallChunks.Get().(*[smallChunk]byte)
			s.small = append(s.small, a)
			chunk = a[:]
		} else {
			a := largeChunks.Get().(*[largeChunk]byte)
			s.large = append(s.large, a)
			chunk = a[:]
		}
		chunk = chunk[:min(int64(len(chunk)), room)]
		n, err := io.ReadFull(r, chunk)
		if n > 0 {
			s.chunks = append(s.chunks, chunk[:n])
			s.size += int64(n)
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return s, s.size <= limit, nil
		case err != nil:
			s.done()
			return nil, false, err
		}
	}
}

// open returns a new reader over the bytes, holding a reference until it is closed.
// It is GetBody.
func (s *spool) open() (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return nil, errSpoolReleased
	}
	s.refs++
	return &spoolReader{s: s}, nil
}

// done gives up the reference of the RoundTrip that read the body.
func (s *spool) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unrefLocked()
}

func (s *spool) unrefLocked() {
	if s.refs--; s.refs > 0 {
		return
	}
	s.released = true
	poison := spoolTest.on.Load()
	if poison {
		spoolTest.released.Add(1)
	}
	for _, a := range s.small {
		if poison {
			*a = [smallChunk]byte{}
		}
		smallChunks.Put(a)
	}
	for _, a := range s.large {
		if poison {
			*a = [largeChunk]byte{}
		}
		largeChunks.Put(a)
	}
	s.chunks, s.small, s.large = nil, nil, nil
}

// spoolReader reads a spool from the start. It is safe to Close concurrently with Read.
type spoolReader struct {
	s      *spool
	chunk  int // guarded by s.mu, as are off and closed
	off    int
	closed bool
}

// Read copies the next bytes.
func (r *spoolReader) Read(p []byte) (int, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.closed {
		return 0, errSpoolReleased
	}
	n := 0
	for n < len(p) && r.chunk < len(r.s.chunks) {
		c := r.s.chunks[r.chunk]
		k := copy(p[n:], c[r.off:])
		n += k
		if r.off += k; r.off == len(c) {
			r.chunk, r.off = r.chunk+1, 0
		}
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Len is how many bytes are left to read (a sizing hint for the signer).
func (r *spoolReader) Len() int {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.closed {
		return 0
	}
	left := r.s.size
	for i := range r.chunk {
		left -= int64(len(r.s.chunks[i]))
	}
	return int(left) - r.off
}

// Close gives up the reader's reference; it is idempotent.
func (r *spoolReader) Close() error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.s.unrefLocked()
	}
	return nil
}

// spilled is a body too large to keep: the spooled prefix, then the rest of the caller's
// body. Close closes both.
type spilled struct {
	head io.ReadCloser
	rest io.ReadCloser
	r    io.Reader
}

func (s *spilled) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *spilled) Close() error {
	s.head.Close()
	return s.rest.Close()
}

// replayableBody is a request body a transport can send again: from GetBody, or from bytes
// it buffered. A body that could not be buffered (over the limit) is not replayable (ok false).
type replayableBody struct {
	getBody func() (io.ReadCloser, error)
	size    int64 // ContentLength for copies; -1 unknown
	ok      bool
	// copied: the first body is a buffered copy, and req.Body (read to its end) is still
	// the transport's to close. Otherwise the first body is req.Body or wraps it.
	copied bool
}

// noBody is the replayable empty body, shared so that body-less requests allocate nothing.
var noBody = replayableBody{getBody: getNoBody, ok: true}

func getNoBody() (io.ReadCloser, error) { return http.NoBody, nil }

// captureBody makes req's body replayable without changing req. It returns the body to
// send first and how to get it again (not ok when it cannot be had again: a stream larger
// than limit, which is then sent as it is). A spooled body comes with its spool (else nil),
// whose reference the caller gives up with done when its RoundTrip returns.
func captureBody(req *http.Request, limit int64) (first io.ReadCloser, again replayableBody, sp *spool, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, noBody, nil, nil
	}
	if req.GetBody != nil {
		return req.Body, replayableBody{getBody: req.GetBody, size: req.ContentLength, ok: true}, nil, nil
	}
	sp, complete, err := readSpool(req.Body, limit, req.ContentLength)
	if err != nil {
		return nil, replayableBody{}, nil, fmt.Errorf("finauth: transport: reading the request body: %w", err)
	}
	head, _ := sp.open()
	if !complete {
		// Too large to keep: send it streaming (what was read, then the rest); no replay.
		return &spilled{head: head, rest: req.Body, r: io.MultiReader(head, req.Body)}, replayableBody{}, sp, nil
	}
	if sp.size == 0 {
		head.Close()
		return http.NoBody, replayableBody{getBody: getNoBody, size: 0, ok: true, copied: true}, sp, nil
	}
	return head, replayableBody{getBody: sp.open, size: sp.size, ok: true, copied: true}, sp, nil
}
