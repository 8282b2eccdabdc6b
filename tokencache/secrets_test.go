package tokencache_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/tokencache"
)

const (
	secretAccess  = "SECRET-ACCESS-TOKEN-4242"
	secretRefresh = "SECRET-REFRESH-TOKEN-4242"
	secretExtra   = "eyJSECRET.ID.TOKEN"
)

var secretToken = tokencache.Token{Value: secretAccess, RefreshToken: secretRefresh, Type: "Bearer", Expiry: time.Now().Add(time.Hour),
	Extra: map[string]any{"id_token": secretExtra}}

// holdingTokens are values of every exported type of the package that holds a Token
// (TestTokenHolders_AreAllPrintedHere finds them in the source), filled with secrets.
var holdingTokens = map[string]any{
	"Token":       secretToken,
	"TokenChange": tokencache.TokenChange{Name: "p", Key: "k", Token: secretToken},
	"Claimed":     tokencache.Claimed{Token: secretToken, Found: true},
}

// Issue 31 (14): a token never shows, whatever holds it and however it is printed: every fmt
// verb, encoding/json, and slog's text and JSON handlers (the OnTokenChange hook's
// TokenChange logged with slog's JSON handler showed the access and refresh tokens).
func TestTokens_NeverPrint(t *testing.T) {
	for name, v := range holdingTokens {
		var outs []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		outs = append(outs, string(b))
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v)
		outs = append(outs, text.String(), js.String())
		for _, out := range outs {
			for _, secret := range []string{secretAccess, secretRefresh, secretExtra} {
				if strings.Contains(out, secret) {
					t.Errorf("%s shows a secret: %s", name, out)
				}
			}
		}
	}
	// A token's JSON does not read back as a token: a store of yours that encodes tokens
	// with encoding/json gets an empty one, which the cache refuses, not "[redacted]".
	b, _ := json.Marshal(secretToken)
	var back tokencache.Token
	if err := json.Unmarshal(b, &back); err != nil || back.Value != "" || back.RefreshToken != "" {
		t.Fatalf("a token's JSON read back as %+v (%v)", back, err)
	}
	if err := tokencache.New(nil, tokencache.Options{}).Put("k", back); !errors.Is(err, tokencache.ErrEmptyToken) {
		t.Fatalf("a token read back from JSON was accepted: %v", err)
	}
}

// Every exported struct type of the package with a field of type Token is printed by
// TestTokens_NeverPrint.
func TestTokenHolders_AreAllPrintedHere(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || !ts.Name.IsExported() {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, field := range st.Fields.List {
				if id, ok := field.Type.(*ast.Ident); ok && id.Name == "Token" {
					if _, listed := holdingTokens[ts.Name.Name]; !listed {
						t.Errorf("%s holds a Token: add a value of it to holdingTokens", ts.Name.Name)
					}
				}
			}
			return true
		})
	}
}
