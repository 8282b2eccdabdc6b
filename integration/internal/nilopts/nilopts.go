// Package nilopts gives every option of a provider a nil of its type, to check that a nil of
// any type means "absent" (issue 31): each interface an option takes gets a nil pointer of a
// type that implements it, and the provider's source is read for options left out.
package nilopts

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/finauth/finauth/tokencache"
	"github.com/finauth/finauth/tokencache/redisstore"
	"github.com/finauth/finauth/tokencache/tokencachetest"
)

// TypedNils holds, for each interface an option takes, a nil pointer of a type that
// implements it: what a variable of that type holds when a constructor said "none"
// (redisstore.FromEnv without FINAUTH_REDIS_URL returns a nil *Store).
var TypedNils = map[reflect.Type]reflect.Value{
	reflect.TypeFor[tokencache.Store]():     reflect.ValueOf((*redisstore.Store)(nil)),
	reflect.TypeFor[tokencache.Clock]():     reflect.ValueOf((*tokencachetest.FakeClock)(nil)),
	reflect.TypeFor[http.RoundTripper]():    reflect.ValueOf((*http.Transport)(nil)),
	reflect.TypeFor[metric.MeterProvider](): reflect.ValueOf((*sdkmetric.MeterProvider)(nil)),
	reflect.TypeFor[trace.TracerProvider](): reflect.ValueOf((*sdktrace.TracerProvider)(nil)),
}

// Of returns the typed nil an option's parameter of type typ gets: a nil pointer of an
// implementation for an interface, the zero value for a pointer, func, map or slice, and
// tokencache.Options with every such field set so. ok is false for a type that holds no nil
// (a string, a duration).
func Of(t *testing.T, typ reflect.Type) (v reflect.Value, ok bool) {
	t.Helper()
	switch {
	case typ == reflect.TypeFor[tokencache.Options]():
		v = reflect.New(typ).Elem()
		for i := range typ.NumField() {
			if f, ok := Of(t, typ.Field(i).Type); ok && typ.Field(i).IsExported() {
				v.Field(i).Set(f)
			}
		}
		return v, true
	case typ.Kind() == reflect.Interface:
		n, known := TypedNils[typ]
		if !known {
			t.Fatalf("an option takes a %s: give TypedNils a nil pointer of a type that implements it", typ)
		}
		return n, true
	case typ.Kind() == reflect.Pointer, typ.Kind() == reflect.Func, typ.Kind() == reflect.Map, typ.Kind() == reflect.Slice:
		return reflect.Zero(typ), true
	}
	return reflect.Value{}, false
}

// Options calls every option constructor of withs that takes something that can be nil,
// with a typed nil, and checks that withs holds every With* function of the provider's
// package (read from its source) that does.
func Options[O any](t *testing.T, pkg string, withs ...any) []O {
	t.Helper()
	var opts []O
	given := map[string]bool{}
	for _, w := range withs {
		fv := reflect.ValueOf(w)
		name := runtime.FuncForPC(fv.Pointer()).Name()
		given[name[strings.LastIndex(name, ".")+1:]] = true
		var args []reflect.Value
		for i := range fv.Type().NumIn() {
			a, ok := Of(t, fv.Type().In(i))
			if !ok {
				a = reflect.Zero(fv.Type().In(i))
			}
			args = append(args, a)
		}
		call := fv.Call
		if fv.Type().IsVariadic() { // the last parameter is the slice itself: a nil one
			call = fv.CallSlice
		}
		opts = append(opts, call(args)[0].Interface().(O))
	}
	for _, name := range nillableOptions(t, pkg) {
		if !given[name] {
			t.Errorf("%s.%s takes a parameter that can be nil: add it to this test", filepath.Base(pkg), name)
		}
	}
	return opts
}

// nillableOptions lists the exported With* functions of the package in dir that return its Option and whose parameters
// include an interface, pointer, func, map or slice (by their syntax).
func nillableOptions(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, n), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
	}
	var names []string
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !strings.HasPrefix(fd.Name.Name, "With") || !fd.Name.IsExported() || !returnsOption(fd) {
				continue
			}
			for _, p := range fd.Type.Params.List {
				switch p.Type.(type) {
				case *ast.StarExpr, *ast.FuncType, *ast.MapType, *ast.ArrayType, *ast.InterfaceType, *ast.SelectorExpr, *ast.Ident:
					if nillable(p.Type) {
						names = append(names, fd.Name.Name)
					}
				}
			}
		}
	}

	return names
}

// returnsOption tells a function that returns the package's Option (not a context helper
// such as WithScope(ctx, ...)).
func returnsOption(fd *ast.FuncDecl) bool {
	r := fd.Type.Results
	if r == nil || len(r.List) != 1 {
		return false
	}
	id, ok := r.List[0].Type.(*ast.Ident)
	return ok && id.Name == "Option"
}

// nillable tells, from the syntax, whether a parameter type can be nil: a pointer, func,
// map, slice, or a named type that is one or an interface (the named types options take are
// those of the standard library, OpenTelemetry and this module, checked by nilOf).
func nillable(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.StarExpr, *ast.FuncType, *ast.MapType, *ast.InterfaceType:
		return true
	case *ast.ArrayType:
		return e.Len == nil
	case *ast.SelectorExpr:
		switch e.Sel.Name {
		case "Duration", "Time", "Options":
			return e.Sel.Name == "Options"
		}
		return true
	case *ast.Ident:
		switch e.Name {
		case "string", "bool", "int", "int64", "float64", "uint64":
			return false
		}
		return true
	}
	return false
}
