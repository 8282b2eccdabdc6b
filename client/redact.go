package client

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
)

// RedactURL returns raw with the password of its userinfo replaced by "***", as net/http
// shows URLs ("https://svc:***@host/path"); any other string is returned as it is.
func RedactURL(raw string) string {
	if !strings.Contains(raw, "@") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, hasPassword := u.User.Password(); !hasPassword {
		return raw
	}
	// net/http's form (its stripPassword): url.URL.Redacted writes "xxxxx" instead.
	return strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1)
}

// Redacted returns a copy of the struct v (or of *v) in which every string that is a URL
// with a password shows "***" instead (see [RedactURL]), in string fields, string slices,
// maps of strings (url.Values, http.Header) and nested structs alike; in maps, the values
// of secret-named keys (client_secret, password, token, assertion, Authorization, ...) show
// "[redacted]". Secret fields stay as they are: they redact themselves. Unexported,
// func and chan fields are left out. Provider configurations print, marshal and log this
// copy, so that a field added later is covered without anyone keeping a list of fields.
func Redacted(v any) any {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return v
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return v
	}
	return redactStruct(rv).Interface()
}

var secretType = reflect.TypeFor[Secret]()

// redactValue returns v with URL passwords redacted; structs become an anonymous struct
// type with the same exported fields (names, tags and field types), without their methods.
func redactValue(v reflect.Value) reflect.Value {
	switch {
	case v.Type() == secretType:
		return v
	case v.Kind() == reflect.String:
		return reflect.ValueOf(RedactURL(v.String())).Convert(v.Type())
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String && v.Type().Elem() != secretType:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(redactValue(v.Index(i)))
		}
		return out
	case v.Kind() == reflect.Struct && holdsStrings(v.Type()):
		return redactStruct(v)
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String && stringish(v.Type().Elem()):
		return redactMap(v)
	}
	return v
}

// stringish is a string or a string slice type.
func stringish(t reflect.Type) bool {
	return t.Kind() == reflect.String || t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String
}

// secretName reports whether a map key names a secret (form parameters such as
// client_secret, headers such as Authorization): its value is shown as [redacted].
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"secret", "password", "passphrase", "token", "assertion", "authorization", "key"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// redactMap copies a map of strings (url.Values, http.Header, map[string]string) with URL
// passwords hidden and the values of secret-named keys redacted.
func redactMap(v reflect.Value) reflect.Value {
	if v.IsNil() {
		return v
	}
	out := reflect.MakeMapWithSize(v.Type(), v.Len())
	iter := v.MapRange()
	for iter.Next() {
		val := redactValue(iter.Value())
		if secretName(iter.Key().String()) {
			val = redactAll(iter.Value())
		}
		out.SetMapIndex(iter.Key(), val)
	}
	return out
}

// redactAll replaces every non-empty string in v (a string or a string slice) by [redacted].
func redactAll(v reflect.Value) reflect.Value {
	if v.Kind() == reflect.String {
		if v.Len() == 0 {
			return v
		}
		return reflect.ValueOf(redactedText).Convert(v.Type())
	}
	out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	for i := range v.Len() {
		out.Index(i).Set(redactAll(v.Index(i)))
	}
	return out
}

// holdsStrings reports whether a struct type has exported string fields, at any depth; one
// without them is kept as it is (with its own type and methods).
func holdsStrings(t reflect.Type) bool {
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case !f.IsExported() || f.Type == secretType:
		case f.Type.Kind() == reflect.String, f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			return true
		case f.Type.Kind() == reflect.Struct && holdsStrings(f.Type):
			return true
		case f.Type.Kind() == reflect.Map && f.Type.Key().Kind() == reflect.String && stringish(f.Type.Elem()):
			return true
		}
	}
	return false
}

func redactStruct(v reflect.Value) reflect.Value {
	t := v.Type()
	var fields []reflect.StructField
	var values []reflect.Value
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Type.Kind() == reflect.Func || f.Type.Kind() == reflect.Chan {
			continue
		}
		rv := redactValue(v.Field(i))
		fields = append(fields, reflect.StructField{Name: f.Name, Type: rv.Type(), Tag: f.Tag})
		values = append(values, rv)
	}
	out := reflect.New(reflect.StructOf(fields)).Elem()
	for i, rv := range values {
		out.Field(i).Set(rv)
	}
	return out
}

// FormatRedacted formats v for fmt as [Redacted] shows it, for every verb; %#v names v's
// type. Provider configurations use it as their Format method.
func FormatRedacted(f fmt.State, verb rune, v any) {
	r := Redacted(v)
	if verb != 'v' || !f.Flag('#') {
		fmt.Fprintf(f, fmt.FormatString(f, verb), r)
		return
	}
	rv := reflect.ValueOf(r)
	io.WriteString(f, reflect.TypeOf(v).String()+"{")
	for i := range rv.NumField() {
		if i > 0 {
			io.WriteString(f, ", ")
		}
		fmt.Fprintf(f, "%s:%#v", rv.Type().Field(i).Name, rv.Field(i).Interface())
	}
	io.WriteString(f, "}")
}

// MarshalRedacted is encoding/json's form of [Redacted].
func MarshalRedacted(v any) ([]byte, error) { return json.Marshal(Redacted(v)) }

// LogValueRedacted is log/slog's form of [Redacted]: the JSON handler marshals it, the text
// handler formats it.
func LogValueRedacted(v any) slog.Value { return slog.AnyValue(Redacted(v)) }
