package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
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

// bodyBuffer is a request body held in memory as a list of chunks, so that reading an
// unknown length never copies what it already read (a doubling buffer would allocate about
// twice the body).
type bodyBuffer struct {
	chunks [][]byte
	size   int64
}

// Chunks grow from firstChunk to maxChunk, so small bodies stay small and large ones waste
// at most one chunk.
const (
	firstChunk = 4 << 10
	maxChunk   = 64 << 10
)

// readBody reads r to EOF, or until more than limit bytes came (complete false; what was
// read is kept, so the caller can still stream it). hint is the declared length, if any:
// with it the body is read into one exact allocation.
func readBody(r io.Reader, limit, hint int64) (b *bodyBuffer, complete bool, err error) {
	b = &bodyBuffer{}
	next := int64(firstChunk)
	if hint > 0 && hint <= limit {
		next = hint + 1 // +1 sees EOF without a second allocation when the hint is right
	}
	for {
		room := min(next, limit+1-b.size)
		if room <= 0 {
			return b, false, nil
		}
		chunk := make([]byte, room)
		n, err := io.ReadFull(r, chunk)
		if n > 0 {
			b.chunks = append(b.chunks, chunk[:n])
			b.size += int64(n)
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return b, b.size <= limit, nil
		case err != nil:
			return nil, false, err
		}
		if b.size > limit {
			return b, false, nil
		}
		next = min(max(next*2, firstChunk), maxChunk)
	}
}

// reader returns a new reader over the buffered bytes.
func (b *bodyBuffer) reader() io.Reader {
	switch len(b.chunks) {
	case 0:
		return bytes.NewReader(nil)
	case 1:
		return bytes.NewReader(b.chunks[0])
	}
	rs := make([]io.Reader, len(b.chunks))
	for i, c := range b.chunks {
		rs[i] = bytes.NewReader(c)
	}
	return io.MultiReader(rs...)
}

// readCloser is reader as an io.ReadCloser.
func (b *bodyBuffer) readCloser() (io.ReadCloser, error) { return io.NopCloser(b.reader()), nil }

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
var noBody = replayableBody{getBody: func() (io.ReadCloser, error) { return http.NoBody, nil }, ok: true}

// captureBody makes req's body replayable without changing req. It returns the body to
// send first and how to get it again (not ok when it cannot be had again: a stream larger
// than limit, which is then sent as it is).
func captureBody(req *http.Request, limit int64) (first io.ReadCloser, again replayableBody, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, noBody, nil
	}
	if req.GetBody != nil {
		return req.Body, replayableBody{getBody: req.GetBody, size: req.ContentLength, ok: true}, nil
	}
	buf, complete, err := readBody(req.Body, limit, req.ContentLength)
	if err != nil {
		return nil, replayableBody{}, fmt.Errorf("finauth: transport: reading the request body: %w", err)
	}
	if !complete {
		// Too large to keep: send it streaming (what was read, then the rest); no replay.
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(buf.reader(), req.Body), req.Body}, replayableBody{}, nil
	}
	first, _ = buf.readCloser()
	return first, replayableBody{getBody: buf.readCloser, size: buf.size, ok: true, copied: true}, nil
}
