package redact

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
)

// module is the import path prefix of the types Value walks into.
const module = "github.com/finauth/finauth"

// Tag is the struct tag that marks a field as secret whatever its type:
// `finauth:"secret"` shows the field as "[redacted]" (or empty when it is the zero value).
const Tag = "finauth"

// Value returns a copy of the struct v (or of *v) for printing, in which
//
//   - every string that is a URL with a password shows "***" instead ([URL]), in string
//     fields, string slices, maps of strings (url.Values, http.Header) and nested structs
//     alike;
//   - in maps, the values of secret-named keys (client_secret, password, token, assertion,
//     Authorization, ...) show "[redacted]";
//   - fields tagged `finauth:"secret"` show "[redacted]";
//   - a struct, pointer or interface of a type from outside this module shows as its type
//     name only, since nothing says what it holds (a *tls.Config holds private keys);
//   - Secret fields stay as they are (they redact themselves); unexported, func and chan
//     fields are left out.
//
// Configurations print, marshal and log this copy, so that a field added later is covered
// without anyone keeping a list of fields. Any other v is returned as it is.
func Value(v any) any {
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

// redactValue returns v ready to print: URL passwords hidden, foreign structs named only;
// structs become an anonymous struct type with the same exported fields (names, tags and
// field types), without their methods.
func redactValue(v reflect.Value) reflect.Value {
	t := v.Type()
	switch {
	case t == secretType:
		return v
	case t.Kind() == reflect.String:
		return reflect.ValueOf(URL(v.String())).Convert(t)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String && t.Elem() != secretType:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(t, v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(redactValue(v.Index(i)))
		}
		return out
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && stringish(t.Elem()):
		return redactMap(v)
	case opaque(t):
		return reflect.ValueOf(typeName(v))
	case t.Kind() == reflect.Struct && holdsStrings(t):
		return redactStruct(v)
	}
	return v
}

// opaque reports a type Value does not look into: an interface, or a struct (or a pointer
// to one, or a slice of them) whose type comes from outside this module (time.Time
// excepted: it prints its value).
func opaque(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return opaque(t.Elem())
	case reflect.Struct:
		return t.PkgPath() != "time" && t.PkgPath() != "" && !strings.HasPrefix(t.PkgPath(), module)
	}
	return false
}

// typeName is what an opaque value shows: its (dynamic) type in parentheses, or nothing
// for the zero value.
func typeName(v reflect.Value) string {
	if isZero(v) {
		return ""
	}
	t := v.Type()
	if t.Kind() == reflect.Interface {
		t = v.Elem().Type()
	}
	if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		return fmt.Sprintf("(%d × %s)", v.Len(), t.Elem())
	}
	return "(" + t.String() + ")"
}

func isZero(v reflect.Value) bool { return !v.IsValid() || v.IsZero() }

// stringish is a string or a string slice type.
func stringish(t reflect.Type) bool {
	return t.Kind() == reflect.String || t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String
}

// SecretName reports whether a name (a map key, a header, a form parameter) names a secret:
// client_secret, password, passphrase, token, assertion, Authorization, api_key, cookie.
func SecretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"secret", "password", "passphrase", "token", "assertion", "authorization", "key", "cookie"} {
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
		if SecretName(iter.Key().String()) {
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
		return reflect.ValueOf(Redacted).Convert(v.Type())
	}
	out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	for i := range v.Len() {
		out.Index(i).Set(redactAll(v.Index(i)))
	}
	return out
}

// holdsStrings reports whether a struct type has exported fields Value changes (strings,
// maps of strings, secret-tagged or opaque fields), at any depth; one without them is kept
// as it is (with its own type and methods).
func holdsStrings(t reflect.Type) bool {
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case !f.IsExported() || f.Type == secretType:
		case f.Tag.Get(Tag) == "secret", opaque(f.Type):
			return true
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
		rv := v.Field(i)
		if f.Tag.Get(Tag) == "secret" {
			shown := ""
			if !isZero(rv) {
				shown = Redacted
			}
			rv = reflect.ValueOf(shown)
		} else {
			rv = redactValue(rv)
		}
		tag := f.Tag
		if f.Tag.Get(Tag) != "" {
			tag = "" // the marker is not for encoding/json
		}
		fields = append(fields, reflect.StructField{Name: f.Name, Type: rv.Type(), Tag: tag})
		values = append(values, rv)
	}
	out := reflect.New(reflect.StructOf(fields)).Elem()
	for i, rv := range values {
		out.Field(i).Set(rv)
	}
	return out
}

// Format formats v for fmt as [Value] shows it. Every verb prints the fields (%s and %q
// too, which would otherwise print a bool field as %!s(bool=false)); %+v names them and %#v
// names v's type. Configurations use it as their Format method.
func Format(f fmt.State, verb rune, v any) {
	r := Value(v)
	switch {
	case verb == 'v' && f.Flag('#'):
		rv := reflect.ValueOf(r)
		io.WriteString(f, reflect.TypeOf(v).String()+"{")
		for i := range rv.NumField() {
			if i > 0 {
				io.WriteString(f, ", ")
			}
			fmt.Fprintf(f, "%s:%#v", rv.Type().Field(i).Name, rv.Field(i).Interface())
		}
		io.WriteString(f, "}")
	case verb == 'q':
		io.WriteString(f, strconv.Quote(fmt.Sprintf("%+v", r)))
	case f.Flag('+'):
		fmt.Fprintf(f, "%+v", r)
	case reflect.ValueOf(r).Kind() == reflect.Struct:
		// %v and %s: the type and the fields that are set, by name, so that a printed
		// Config reads as what was configured rather than a row of positional blanks.
		rv := reflect.ValueOf(r)
		io.WriteString(f, reflect.TypeOf(v).String()+"{")
		n := 0
		for i := range rv.NumField() {
			if !rv.Type().Field(i).IsExported() || rv.Field(i).IsZero() {
				continue
			}
			if n > 0 {
				io.WriteString(f, " ")
			}
			n++
			fmt.Fprintf(f, "%s:%v", rv.Type().Field(i).Name, rv.Field(i).Interface())
		}
		io.WriteString(f, "}")
	default:
		fmt.Fprintf(f, "%v", r)
	}
}

// JSON is encoding/json's form of [Value].
func JSON(v any) ([]byte, error) { return json.Marshal(Value(v)) }

// LogValue is log/slog's form of [Value]: the JSON handler marshals it, the text handler
// formats it.
func LogValue(v any) slog.Value { return slog.AnyValue(Value(v)) }

// Summary describes a value that holds secrets only in unexported state (a transport and
// its tokens, a store and its keys) by a name and a struct of what may be shown, which is
// printed through [Value].
type Summary struct {
	Name   string
	Fields any
}

// String is the name followed by the fields, e.g. pismo.Transport{TokenURL:https://...}.
func (s Summary) String() string { return s.Name + fmt.Sprintf("%+v", Value(s.Fields)) }
