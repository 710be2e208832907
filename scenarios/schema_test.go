package scenarios_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/acqsim/acqsim/scenarios"
)

var updateSchema = flag.Bool("update", false, "rewrite fixtures/scenario.schema.json from scenarios.Schema()")

const schemaFile = "../fixtures/scenario.schema.json"

// The committed schema is the one the Go types make.
func TestSchema(t *testing.T) {
	got, err := scenarios.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *updateSchema {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v; make it with: go test ./scenarios -run TestSchema -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("fixtures/scenario.schema.json is not what scenarios.Schema() makes from the Go types and their comments; regenerate it with:\n\tgo test ./scenarios -run TestSchema -update")
	}
}

// compileSchema compiles Schema() with a JSON Schema validator, which also
// checks it against the draft 2020-12 meta-schema.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := scenarios.Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("scenario.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("scenario.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return sch
}

// yamlToJSON reads a YAML document as the JSON value a YAML-aware editor
// checks against the schema: mapping keys become strings (field numbers
// too), scalars keep their YAML types.
func yamlToJSON(t *testing.T, src []byte) any {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	var conv func(n *yaml.Node) any
	conv = func(n *yaml.Node) any {
		switch n.Kind {
		case yaml.DocumentNode:
			return conv(n.Content[0])
		case yaml.AliasNode:
			return conv(n.Alias)
		case yaml.MappingNode:
			m := map[string]any{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				m[n.Content[i].Value] = conv(n.Content[i+1])
			}
			return m
		case yaml.SequenceNode:
			s := []any{}
			for _, c := range n.Content {
				s = append(s, conv(c))
			}
			return s
		}
		var v any
		if err := n.Decode(&v); err != nil {
			t.Fatalf("line %d: %v", n.Line, err)
		}
		return v
	}
	b, err := json.Marshal(conv(&root))
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSchemaAcceptsBuiltIns(t *testing.T) {
	sch := compileSchema(t)
	files, err := filepath.Glob("../fixtures/scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no built-in scenarios (%v)", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(yamlToJSON(t, src)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The schema and the loader agree on what is a scenario.
func TestSchemaAgreesWithLoader(t *testing.T) {
	rule := func(yaml string) string { return "name: x\nrules:\n  - " + yaml + "\n" }
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"just a name", "name: x\n", true},
		{"action by name", rule("action: reset"), true},
		{"action with parameters", rule("action: { garbage: { bytes: 32 } }"), true},
		{"action with duration parameter", rule("action: { duplicate: { gap: 500ms } }"), true},
		{"action with null parameters", rule("action: { reset: }"), true},
		{"action with empty parameters", rule("action: { no-response: {} }"), true},
		{"fixed delay", rule("delay: 45s"), true},
		{"range delay", rule("delay: 1s..5s"), true},
		{"normal delay", rule("delay: { distribution: normal, mean: 2s, stddev: 500ms }"), true},
		{"fixed delay as an object", rule("delay: { min: 1m30s }"), true},
		{"field set and unset", rule(`respond: { rc: "00", set: { 44: "A1", 128: "" }, unset: [2, 55] }`), true},
		{"steps", rule("steps: [ { times: 2, action: no-response }, { respond: { rc: \"00\" } } ]"), true},
		{"registry and limits", "name: x\nmerchants: { \"898100012340001\": { status: frozen } }\nterminals: { T1: { status: unregistered, rc: \"05\" } }\nlimits: [ { per: card, period: day, max_count: 20 } ]\n", true},

		{"no name", "description: x\n", false},
		{"empty name", "name: \"\"\n", false},
		{"unknown top-level key", "name: x\nrulez: []\n", false},
		{"unknown rule key", rule("respnd: { rc: \"05\" }"), false},
		{"unknown respond key", rule("respond: { code: \"05\" }"), false},
		{"unknown action", rule("action: explode"), false},
		{"unknown action with parameters", rule("action: { explode: { bytes: 1 } }"), false},
		{"two actions in one", rule("action: { reset: {}, close: {} }"), false},
		{"unknown action parameter", rule("action: { garbage: { byts: 32 } }"), false},
		{"parameter of a fault that has none", rule("action: { reset: { after: true } }"), false},
		{"action parameters not a mapping", rule("action: { close: 5 }"), false},
		{"duration without a unit", rule("action: { duplicate: { gap: 5 } }"), false},
		{"delay not a duration", rule("delay: soon"), false},
		{"delay unknown key", rule("delay: { distribution: normal, mean: 2s, sigma: 1s }"), false},
		{"delay unknown distribution", rule("delay: { distribution: poisson, mean: 2s }"), false},
		{"normal delay without a mean", rule("delay: { distribution: normal, stddev: 1s }"), false},
		{"fixed delay with a mean", rule("delay: { min: 1s, mean: 2s }"), false},
		{"short rc", rule(`respond: { rc: "5" }`), false},
		{"set F39", rule(`respond: { set: { 39: "00" } }`), false},
		{"set F129", rule(`respond: { set: { 129: "x" } }`), false},
		{"unset F1", rule("respond: { unset: [1] }"), false},
		{"requirement 8", rule("respond: { requirement: 8 }"), false},
		{"per week", rule("per: week"), false},
		{"probability above 1", rule("probability: 1.5"), false},
		{"steps and an outcome", rule("respond: { rc: \"05\" }\n    steps: [ { times: 1 } ]"), false},
		{"negative times", rule("steps: [ { times: -1 } ]"), false},
		{"limit period year", "name: x\nlimits: [ { period: year, max_amount: 1 } ]\n", false},
		{"limit without a maximum", "name: x\nlimits: [ { period: day } ]\n", false},
		{"limit with two maxima", "name: x\nlimits: [ { period: day, max_amount: 1, max_count: 1 } ]\n", false},
		{"status unknown", "name: x\nmerchants: { M: { status: asleep } }\n", false},
		{"a list", "- name: x\n", false},
	}
	sch := compileSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schemaErr := sch.Validate(yamlToJSON(t, []byte(tt.doc)))
			_, loadErr := scenarios.Load("test.yaml", []byte(tt.doc))
			for who, err := range map[string]error{"schema": schemaErr, "loader": loadErr} {
				if (err == nil) != tt.ok {
					t.Errorf("%s: %s, want it %s\n%s", who, schemaVerdict(err), map[bool]string{true: "accepted", false: "refused"}[tt.ok], tt.doc)
				}
			}
		})
	}
}

func schemaVerdict(err error) string {
	if err == nil {
		return "accepted"
	}
	return fmt.Sprintf("refused (%v)", err)
}
