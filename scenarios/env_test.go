package scenarios

import (
	"reflect"
	"testing"
)

// Every field of Env reaches the expressions under its expr name, with a
// value of its type: a field added to Env and not to fill fails here.
func TestEnvFillHasEveryField(t *testing.T) {
	typ := reflect.TypeOf(Env{})
	if len(envTypes) != typ.NumField() {
		t.Errorf("the expressions see %d names, Env has %d fields", len(envTypes), typ.NumField())
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		v, ok := envTypes[f.Tag.Get("expr")]
		if !ok {
			t.Errorf("Env.%s (%q) is not in the expressions' map", f.Name, f.Tag.Get("expr"))
			continue
		}
		if reflect.TypeOf(v) != f.Type {
			t.Errorf("Env.%s is a %s in the expressions' map, want %s", f.Name, reflect.TypeOf(v), f.Type)
		}
	}
}
