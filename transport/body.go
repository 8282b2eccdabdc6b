package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// DefaultMaxBodyBytes is how much of a request body without GetBody a transport buffers so
// that it can send the same bytes again.
const DefaultMaxBodyBytes = 10 << 20

// ErrBodyTooLarge is wrapped when a body must be buffered (to be signed) and is larger than
// the limit.
var ErrBodyTooLarge = errors.New("finauth: transport: request body larger than the buffering limit")

// replayableBody is a request body a transport can send again: from GetBody, or from bytes
// it buffered. A body that could not be buffered (over the limit) is not replayable (ok false).
type replayableBody struct {
	getBody func() (io.ReadCloser, error)
	size    int64 // ContentLength for copies; -1 unknown
	ok      bool
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
	buf, complete, err := readUpTo(req.Body, limit)
	if err != nil {
		req.Body.Close()
		return nil, replayableBody{}, fmt.Errorf("finauth: transport: reading the request body: %w", err)
	}
	if !complete {
		// Too large to keep: send it streaming (prefix + rest); no replay is possible.
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}, replayableBody{}, nil
	}
	req.Body.Close()
	get := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	first, _ = get()
	return first, replayableBody{getBody: get, size: int64(len(buf)), ok: true}, nil
}

// readUpTo reads r until EOF or until more than limit bytes came; complete reports EOF.
func readUpTo(r io.Reader, limit int64) (buf []byte, complete bool, err error) {
	var b bytes.Buffer
	n, err := b.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	return b.Bytes(), n <= limit, nil
}
