package client_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/finauth/finauth/client"
	"github.com/finauth/finauth/client/clientcredentials"
	"github.com/finauth/finauth/client/pismo"
	"github.com/finauth/finauth/client/revolut"
	"github.com/finauth/finauth/client/soldo"
	"github.com/finauth/finauth/signer"
)

// providerConfigs are every provider's configuration type: a new provider adds its own here.
var providerConfigs = []any{pismo.Config{}, soldo.Config{}, clientcredentials.Config{}, revolut.Config{}}

const (
	secretMark   = "SECRET-VALUE-"
	passwordMark = "URL-PASSWORD-"
)

// fill sets, by reflection, every Secret to a marked secret, every string and string slice
// to a URL with a marked password, and recurses into structs, so that a field added later
// is covered without changing this test.
func fill(t *testing.T, v reflect.Value, path string) (secrets, urls int) {
	switch {
	case v.Type() == reflect.TypeFor[client.Secret]():
		v.SetString(secretMark + path)
		return 1, 0
	case v.Type() == reflect.TypeFor[*signer.Key]():
		key, err := signer.GenerateKey(signer.ES256)
		if err != nil {
			t.Fatal(err)
		}
		v.Set(reflect.ValueOf(key))
	case v.Kind() == reflect.String:
		v.SetString("https://svc:" + passwordMark + path + "@api.example.com/" + path)
		return 0, 1
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(t, s.Index(0), path+"0")
		v.Set(s)
		return 0, 1
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
		m := reflect.MakeMap(v.Type())
		for _, k := range []string{"resource", "client_secret"} {
			e := reflect.New(v.Type().Elem()).Elem()
			if e.Kind() != reflect.String && !(e.Kind() == reflect.Slice && e.Type().Elem().Kind() == reflect.String) {
				return 0, 0 // a map of something else: not a place for secrets or URLs
			}
			if k == "client_secret" && e.Kind() == reflect.String {
				e.SetString(secretMark + path)
			} else if k == "client_secret" {
				s := reflect.MakeSlice(e.Type(), 1, 1)
				s.Index(0).SetString(secretMark + path)
				e.Set(s)
			} else {
				fill(t, e, path+k)
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(m)
		return 1, 1
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				s, u := fill(t, v.Field(i), path+f.Name)
				secrets, urls = secrets+s, urls+u
			}
		}
	}
	return secrets, urls
}

func TestProviderConfigs_ShowNoSecretAndNoURLPassword(t *testing.T) {
	t.Parallel()
	for _, zero := range providerConfigs {
		typ := reflect.TypeOf(zero)
		t.Run(typ.String(), func(t *testing.T) {
			t.Parallel()
			v := reflect.New(typ).Elem()
			secrets, urls := fill(t, v, "")
			if secrets < 2 || urls < 1 {
				t.Fatalf("%d secret and %d URL fields filled: the test does not reach the config", secrets, urls)
			}
			cfg := v.Interface()
			outputs := map[string]string{}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
				outputs[verb] = fmt.Sprintf(verb, cfg)
				outputs["pointer "+verb] = fmt.Sprintf(verb, v.Addr().Interface())
			}
			outputs["String"] = cfg.(fmt.Stringer).String()
			b, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			outputs["json"] = string(b)
			var jsonLog, textLog bytes.Buffer
			slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("cfg", "cfg", cfg, "ptr", v.Addr().Interface())
			slog.New(slog.NewTextHandler(&textLog, nil)).Info("cfg", "cfg", cfg, "ptr", v.Addr().Interface())
			outputs["slog json"], outputs["slog text"] = jsonLog.String(), textLog.String()
			for name, out := range outputs {
				if strings.Contains(out, secretMark) || strings.Contains(out, passwordMark) || strings.Contains(out, "PRIVATE KEY") {
					t.Errorf("%s shows a secret:\n%s", name, out)
				}
				if !strings.Contains(out, "svc:***@api.example.com") && name != "%x" && name != "pointer %x" && name != "%d" && name != "pointer %d" {
					t.Errorf("%s hides the URLs themselves:\n%s", name, out)
				}
			}
			exported := 0
			for i := range typ.NumField() {
				if typ.Field(i).IsExported() {
					exported++
				}
			}
			var back map[string]any
			if err := json.Unmarshal([]byte(outputs["json"]), &back); err != nil || len(back) != exported {
				t.Errorf("the JSON form is not an object of every exported field: %v, %d members of %d", err, len(back), exported)
			}
		})
	}
}
