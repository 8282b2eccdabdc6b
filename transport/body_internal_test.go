package transport

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// readSpool keeps exactly the bytes it read; complete means it saw EOF within the limit,
// otherwise it stopped just past the limit with a prefix of the body.
func TestReadBody(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 30_000) // 300,000 bytes: several chunks
	small := big[:5000]
	readers := map[string]func(src []byte) io.Reader{
		"plain":    func(src []byte) io.Reader { return bytes.NewReader(src) },
		"halves":   func(src []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(src)) },
		"one byte": func(src []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(src)) },
	}
	for _, src := range [][]byte{big, small, nil} {
		n := int64(len(src))
		for _, tc := range []struct {
			limit, hint int64
		}{
			{1 << 20, 0}, {1 << 20, n}, {1 << 20, 10}, {1 << 20, n + 99}, {n, 0}, {max(n-1, 0), 0}, {1000, n},
		} {
			for name, mk := range readers {
				sp, complete, err := readSpool(mk(src), tc.limit, tc.hint)
				if err != nil {
					t.Fatalf("%s %d/%+v: %v", name, n, tc, err)
				}
				r, err := sp.open()
				if err != nil {
					t.Fatal(err)
				}
				if l := r.(*spoolReader).Len(); int64(l) != sp.size {
					t.Fatalf("%s %d/%+v: Len %d of %d bytes", name, n, tc, l, sp.size)
				}
				got, _ := io.ReadAll(iotest.OneByteReader(r)) // chunk boundaries one byte at a time
				r.Close()
				sp.done()
				if !sp.released {
					t.Fatal("the spool was not released after its last reference")
				}
				if want := n <= tc.limit; complete != want {
					t.Fatalf("%s %d/%+v: complete %v", name, n, tc, complete)
				}
				if complete && !bytes.Equal(got, src) {
					t.Fatalf("%s %d/%+v: %d bytes back", name, n, tc, len(got))
				}
				if !complete && (int64(len(got)) != tc.limit+1 || !bytes.HasPrefix(src, got)) {
					t.Fatalf("%s %d/%+v: kept %d bytes, want a prefix of limit+1", name, n, tc, len(got))
				}
			}
		}
	}
	if _, _, err := readSpool(iotest.TimeoutReader(bytes.NewReader(big)), 1<<20, 0); !errors.Is(err, iotest.ErrTimeout) {
		t.Fatalf("a failing reader: %v", err)
	}
}
