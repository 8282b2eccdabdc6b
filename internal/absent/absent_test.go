package absent

import (
	"io"
	"net/http"
	"testing"
)

type inner struct{ RT http.RoundTripper }

type opts struct {
	W      io.Writer
	RT     http.RoundTripper
	Inner  inner
	F      func()
	hidden io.Writer
}

func TestClear_EveryNilOfSomeTypeBecomesNil(t *testing.T) {
	var nilTransport *http.Transport
	live := &http.Transport{}
	o := opts{W: (*nopWriter)(nil), RT: nilTransport, Inner: inner{RT: nilTransport}, hidden: (*nopWriter)(nil)}
	Clear(&o)
	if o.W != nil || o.RT != nil || o.Inner.RT != nil {
		t.Fatalf("typed nils left: %#v", o)
	}
	if o.hidden == nil {
		t.Fatal("an unexported field was changed")
	}
	o = opts{RT: live}
	Clear(&o)
	if o.RT != live {
		t.Fatal("a live value was cleared")
	}
	Clear(nil)
	Clear(o) // not a pointer: nothing to do, no panic
}

func TestIsAndOr(t *testing.T) {
	var p *http.Transport
	var rt http.RoundTripper = p
	for _, v := range []any{nil, p, rt, (func())(nil), map[string]int(nil), []int(nil)} {
		if !Is(v) {
			t.Errorf("Is(%#v) = false", v)
		}
	}
	for _, v := range []any{0, "", &http.Transport{}, struct{}{}} {
		if Is(v) {
			t.Errorf("Is(%#v) = true", v)
		}
	}
	if Or(rt) != nil {
		t.Error("Or kept a typed nil")
	}
}

type nopWriter struct{}

func (*nopWriter) Write(p []byte) (int, error) { return len(p), nil }
