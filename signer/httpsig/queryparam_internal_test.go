package httpsig

import (
	"crypto"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/finauth/finauth/signer"
)

// @query-param (RFC 9421 section 2.2.8, its own examples): decoded as a form is, encoded
// again with a space as %20; a name absent, or given twice, cannot be covered.
func TestQueryParam(t *testing.T) {
	t.Parallel()
	for query, c := range map[string]struct{ name, want string }{
		"param=value&foo=bar&baz=batman&qux=":                       {"baz", "batman"},
		"param=value&foo=bar&baz=batman&qux=&x=":                    {"qux", ""},
		"var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace":  {"var", "this%20is%20a%20big%0Avalue"},
		"var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&": {"bar", "with%20plus%20whitespace"},
		"fa%C3%A7ade%22%3A%20=something":                            {"fa%C3%A7ade%22%3A%20", "something"},
	} {
		m := Request(httptest.NewRequest("GET", "https://example.com/path?"+query, nil))
		got, err := m.queryParam(item{value: "@query-param", params: []param{{"name", c.name}}})
		if err != nil || got != c.want {
			t.Errorf("%s, %s: %q %v, want %q", query, c.name, got, err, c.want)
		}
	}
	m := Request(httptest.NewRequest("GET", "https://example.com/?a=1&a=2", nil))
	if _, err := m.queryParam(item{value: "@query-param", params: []param{{"name", "a"}}}); !errors.Is(err, ErrComponent) {
		t.Fatalf("a twice: %v", err)
	}
	if _, err := m.queryParam(item{value: "@query-param", params: []param{{"name", "b"}}}); !errors.Is(err, ErrComponent) {
		t.Fatalf("b absent: %v", err)
	}
}

// A Signer covers a parameterized component written as in Signature-Input, and its
// signature verifies.
func TestSigner_CoversAQueryParam(t *testing.T) {
	t.Parallel()
	_, _, ed := rfcKeys(t)
	key, _ := signerKey(ed)
	s := &Signer{Key: key, KeyID: "test-key-ed25519", Covered: []string{"@method", `@query-param;name="Pet"`}}
	m := rfcRequest()
	in, sig, err := s.Sign(m)
	if err != nil || in == "" {
		t.Fatal(err)
	}
	if want := `sig1=("@method" "@query-param";name="Pet");created=`; len(in) < len(want) || in[:len(want)] != want {
		t.Fatalf("Signature-Input: %s", in)
	}
	m.Header = m.Header.Clone()
	m.Header.Set("Signature-Input", in)
	m.Header.Set("Signature", sig)
	v := &Verifier{Key: keyring(nil, nil, ed)}
	if _, err := v.Verify(m); err != nil {
		t.Fatal(err)
	}
	if _, _, err := (&Signer{Key: key, Covered: []string{`@query-param;name=`}}).Sign(m); !errors.Is(err, ErrComponent) {
		t.Fatalf("a malformed component: %v", err)
	}
}

func signerKey(ed crypto.Signer) (*signer.Key, error) { return signer.NewKey(ed) }
