package signer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Header is an ordered list of protected-header fields. A Signer writes "alg" first, then
// its "kid" and "typ" unless the list sets them, then the fields in the order given, so
// the header bytes are exactly what the caller described (Soldo's method, host, path, ...).
type Header []Field

// Field is one protected-header member. Value is written as JSON: strings and integers
// directly, json.RawMessage as given (it must be valid JSON), anything else through
// encoding/json.
type Field struct {
	Name  string
	Value any
}

// Get returns the value of the field called name.
func (h Header) Get(name string) (any, bool) {
	for _, f := range h {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// has reports whether name is set.
func (h Header) has(name string) bool {
	_, ok := h.Get(name)
	return ok
}

// appendHeaderJSON writes {"alg":..., [kid], [typ], [extra...], fields...}.
func appendHeaderJSON(dst []byte, alg Algorithm, kid, typ string, pre, h Header) ([]byte, error) {
	dst = append(dst, `{"alg":`...)
	dst = appendJSONString(dst, string(alg))
	if kid != "" && !h.has("kid") {
		dst = append(dst, `,"kid":`...)
		dst = appendJSONString(dst, kid)
	}
	if typ != "" && !h.has("typ") {
		dst = append(dst, `,"typ":`...)
		dst = appendJSONString(dst, typ)
	}
	for _, list := range [2]Header{pre, h} {
		for i, f := range list {
			if f.Name == "" {
				return nil, fmt.Errorf("%w: field %d has no name", ErrInvalidHeader, i)
			}
			if f.Name == "alg" {
				return nil, fmt.Errorf(`%w: "alg" is set by the Signer's algorithm, not by the header`, ErrInvalidHeader)
			}
			for _, g := range list[:i] {
				if g.Name == f.Name {
					return nil, fmt.Errorf("%w: field %q appears twice", ErrInvalidHeader, f.Name)
				}
			}
			dst = append(dst, ',')
			dst = appendJSONString(dst, f.Name)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSONValue(dst, f.Value); err != nil {
				return nil, fmt.Errorf("%w: field %q: %v", ErrInvalidHeader, f.Name, err)
			}
		}
	}
	return append(dst, '}'), nil
}

func appendJSONValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return appendJSONString(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case json.RawMessage:
		if !json.Valid(x) {
			return nil, fmt.Errorf("json.RawMessage is not valid JSON")
		}
		return append(dst, x...), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// appendJSONString writes s as a JSON string. Unlike encoding/json it does not escape
// <, > and &: header values (paths, queries) stay byte-for-byte readable.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
