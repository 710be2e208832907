package scenarios_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/scenarios"
)

// The format's documentation of a merchant's settlement faults (the field's
// doc comment, which the schema and the editors show) names every books
// fault the registry has, in its order, and says of each what its
// documentation line says, where it says anything.
func TestBooksFaultsDocumented(t *testing.T) {
	raw, err := scenarios.Schema()
	if err != nil {
		t.Fatal(err)
	}
	var schema any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	doc := faultsDescription(schema)
	if doc == "" {
		t.Fatal("the schema does not describe settlement faults")
	}
	rest := doc
	for _, name := range books.FaultNames() {
		i := strings.Index(rest, name)
		if i < 0 {
			t.Errorf("settlement faults documentation %q does not name %s (after the ones before it)", doc, name)
			continue
		}
		rest = rest[i+len(name):]
		f, _ := books.LookupFault(name)
		if said, ok := strings.CutPrefix(rest, " ("); ok {
			if said, _, _ = strings.Cut(said, ")"); said != f.Doc() {
				t.Errorf("the documentation says %s is %q, its Doc %q", name, said, f.Doc())
			}
		}
	}
}

// faultsDescription finds the description of the "faults" property in a
// JSON schema.
func faultsDescription(v any) string {
	switch v := v.(type) {
	case map[string]any:
		if props, ok := v["properties"].(map[string]any); ok {
			if f, ok := props["faults"].(map[string]any); ok {
				if d, ok := f["description"].(string); ok && strings.Contains(d, "books") {
					return d
				}
			}
		}
		for _, x := range v {
			if d := faultsDescription(x); d != "" {
				return d
			}
		}
	case []any:
		for _, x := range v {
			if d := faultsDescription(x); d != "" {
				return d
			}
		}
	}
	return ""
}

// A books fault the registry does not have fails at load, naming the ones
// it has, in its order.
func TestBooksFaultUnknown(t *testing.T) {
	_, err := scenarios.Load("typo.yaml", []byte("name: typo\nmerchants:\n  \"*\":\n    settlement:\n      faults: [fee-typo]\n"))
	const want = `merchants "*": books fault "fee-typo": want one of fee-wrong-tier, fee-no-cap, fee-rounding, fee-on-void, holiday-ignored, t0-settled-t1`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("loading an unknown books fault: %v, want an error saying %s", err, want)
	}
}
