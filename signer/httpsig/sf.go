package httpsig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The subset of Structured Field Values (RFC 8941) that Signature-Input and Signature use:
// a dictionary whose members are inner lists of strings with parameters (Signature-Input) or
// byte sequences (Signature); parameter values are strings, integers, tokens or booleans.

// param is one parameter: its name and its value (string, int64, token or bool).
type param struct {
	name  string
	value any
}

// token is a bare token value (RFC 8941 section 3.3.4).
type token string

// item is an inner-list member: a string with its parameters (a component identifier, such
// as "content-digest";sf).
type item struct {
	value  string
	params []param
}

// member is one dictionary member: an inner list with parameters, or a byte sequence.
type member struct {
	list   []item
	params []param
	isList bool
	bytes  []byte
}

// errSF is wrapped by every parsing error of a structured field.
var errSF = errors.New("not a structured field")

// maxFieldLen bounds what is parsed: a Signature-Input or Signature value longer than this
// is refused (a signature of finauth's or the RFC's is far shorter).
const maxFieldLen = 16 << 10

// parseDictionary parses a dictionary (RFC 8941 section 4.2.2), keeping the members' order.
func parseDictionary(s string) (keys []string, members map[string]member, err error) {
	if len(s) > maxFieldLen {
		return nil, nil, fmt.Errorf("%w: longer than %d bytes", errSF, maxFieldLen)
	}
	p := &sfParser{s: s}
	members = map[string]member{}
	p.spaces()
	for !p.done() {
		k, err := p.key()
		if err != nil {
			return nil, nil, err
		}
		var m member
		if p.peek() == '=' {
			p.i++
			if m, err = p.member(); err != nil {
				return nil, nil, err
			}
		} else {
			// A bare key is the boolean true: no member of ours.
			if m.params, err = p.params(); err != nil {
				return nil, nil, err
			}
		}
		if _, dup := members[k]; !dup {
			keys = append(keys, k)
		}
		members[k] = m // a later duplicate replaces the earlier (RFC 8941 4.2.2)
		p.ows()
		if p.done() {
			break
		}
		if p.peek() != ',' {
			return nil, nil, p.errorf("expected , between members")
		}
		p.i++
		p.ows()
		if p.done() {
			return nil, nil, p.errorf("a trailing ,")
		}
	}
	return keys, members, nil
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) done() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", errSF, p.i, fmt.Sprintf(format, args...))
}

func (p *sfParser) spaces() {
	for !p.done() && p.s[p.i] == ' ' {
		p.i++
	}
}

// ows skips optional whitespace (space and tab) around dictionary commas.
func (p *sfParser) ows() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *sfParser) key() (string, error) {
	start := p.i
	if c := p.peek(); !(c >= 'a' && c <= 'z' || c == '*') {
		return "", p.errorf("a key must start with a lowercase letter or *")
	}
	for !p.done() {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) member() (member, error) {
	var m member
	var err error
	if p.peek() == '(' {
		m.isList = true
		if m.list, err = p.innerList(); err != nil {
			return m, err
		}
	} else {
		v, err := p.bareItem()
		if err != nil {
			return m, err
		}
		b, ok := v.([]byte)
		if !ok {
			return m, p.errorf("expected an inner list or a byte sequence")
		}
		m.bytes = b
	}
	m.params, err = p.params()
	return m, err
}

func (p *sfParser) innerList() ([]item, error) {
	p.i++ // (
	var out []item
	for {
		p.spaces()
		if p.done() {
			return nil, p.errorf("an inner list without its )")
		}
		if p.peek() == ')' {
			p.i++
			return out, nil
		}
		v, err := p.bareItem()
		if err != nil {
			return nil, err
		}
		str, ok := v.(string)
		if !ok {
			return nil, p.errorf("a covered component must be a string")
		}
		it := item{value: str}
		if it.params, err = p.params(); err != nil {
			return nil, err
		}
		out = append(out, it)
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, p.errorf("expected a space or ) in an inner list")
		}
	}
}

func (p *sfParser) params() ([]param, error) {
	var out []param
	for p.peek() == ';' {
		p.i++
		p.spaces()
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		var v any = true
		if p.peek() == '=' {
			p.i++
			if v, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		replaced := false
		for i := range out {
			if out[i].name == k {
				out[i].value, replaced = v, true
			}
		}
		if !replaced {
			out = append(out, param{k, v})
		}
	}
	return out, nil
}

// bareItem parses a string, an integer, a token, a byte sequence or a boolean (decimals
// are not used here and refused).
func (p *sfParser) bareItem() (any, error) {
	switch c := p.peek(); {
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.integer()
	case c == ':':
		return p.byteSeq()
	case c == '?':
		p.i++
		switch p.peek() {
		case '1':
			p.i++
			return true, nil
		case '0':
			p.i++
			return false, nil
		}
		return nil, p.errorf("a boolean must be ?0 or ?1")
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*':
		start := p.i
		for !p.done() {
			ch := p.s[p.i]
			if ch > ' ' && ch < 0x7f && !strings.ContainsRune(`"(),;<=>?@[\]{}`, rune(ch)) || ch == ':' || ch == '/' {
				p.i++
				continue
			}
			break
		}
		return token(p.s[start:p.i]), nil
	}
	return nil, p.errorf("unexpected %q", p.peek())
}

func (p *sfParser) str() (string, error) {
	p.i++ // "
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.done() {
				return "", p.errorf("a string ends in \\")
			}
			n := p.s[p.i]
			if n != '"' && n != '\\' {
				return "", p.errorf("only \\\" and \\\\ escape in a string")
			}
			b.WriteByte(n)
			p.i++
		case c == '"':
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", p.errorf("a string holds only visible ASCII")
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("a string without its closing quote")
}

func (p *sfParser) integer() (int64, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	digits := 0
	for !p.done() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
		digits++
	}
	if digits == 0 || digits > 15 {
		return 0, p.errorf("an integer has 1 to 15 digits")
	}
	if p.peek() == '.' {
		return 0, p.errorf("decimals are not used in signatures")
	}
	return strconv.ParseInt(p.s[start:p.i], 10, 64)
}

func (p *sfParser) byteSeq() ([]byte, error) {
	p.i++ // :
	end := strings.IndexByte(p.s[p.i:], ':')
	if end < 0 {
		return nil, p.errorf("a byte sequence without its closing :")
	}
	enc := p.s[p.i : p.i+end]
	p.i += end + 1
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, p.errorf("a byte sequence is not base64: %v", err)
	}
	return b, nil
}

// serializeString is a structured-field string.
func serializeString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// serializeParams writes ;name=value for each parameter (a true boolean as ;name).
func serializeParams(b *strings.Builder, ps []param) error {
	for _, p := range ps {
		b.WriteByte(';')
		b.WriteString(p.name)
		switch v := p.value.(type) {
		case bool:
			if !v {
				b.WriteString("=?0")
			}
		case string:
			b.WriteByte('=')
			b.WriteString(serializeString(v))
		case int64:
			b.WriteByte('=')
			b.WriteString(strconv.FormatInt(v, 10))
		case token:
			b.WriteByte('=')
			b.WriteString(string(v))
		case []byte:
			b.WriteString("=:" + base64.StdEncoding.EncodeToString(v) + ":")
		default:
			return fmt.Errorf("httpsig: parameter %s: a %T cannot be serialized", p.name, v)
		}
	}
	return nil
}

// serializeInnerList is an inner list of component identifiers with its parameters: the
// value of @signature-params and of a Signature-Input member.
func serializeInnerList(items []item, ps []param) (string, error) {
	var b strings.Builder
	b.WriteByte('(')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(serializeString(it.value))
		if err := serializeParams(&b, it.params); err != nil {
			return "", err
		}
	}
	b.WriteByte(')')
	if err := serializeParams(&b, ps); err != nil {
		return "", err
	}
	return b.String(), nil
}
