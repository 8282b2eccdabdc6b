// Package absent makes a nil of any type mean "absent": an interface that holds a nil
// pointer (redisstore.FromEnv's nil *Store given to WithTokenStore, a nil *http.Transport
// given as a RoundTripper) is not nil to Go's == nil, and calling it panics. Options are
// cleared of such values once, when they are collected, by walking every field, so that no
// field is left to a hand-kept list.
package absent

import "reflect"

// Is reports whether v is nil or holds a nil pointer, func, map, slice, channel or
// interface: "none", whatever its type.
func Is(v any) bool {
	if v == nil {
		return true
	}
	return isNil(reflect.ValueOf(v))
}

func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Slice, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return v.IsNil()
	}
	return false
}

// Clear sets every interface field of the struct ptr points to (and of the structs it
// holds by value, embedded ones included) that holds a nil of some type to a plain nil, so
// that the code reading it sees "absent" with == nil. Unexported fields are left alone.
func Clear(ptr any) {
	v := reflect.ValueOf(ptr)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	clear(v.Elem())
}

func clear(s reflect.Value) {
	for i := range s.NumField() {
		f := s.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Struct:
			clear(f)
		case reflect.Interface:
			if !f.IsNil() && isNil(f.Elem()) {
				f.SetZero()
			}
		}
	}
}

// Or returns v, or the zero value of T (a plain nil for an interface) when v is absent.
func Or[T any](v T) T {
	if Is(v) {
		var zero T
		return zero
	}
	return v
}
