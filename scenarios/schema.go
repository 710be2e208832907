package scenarios

import (
	_ "embed"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/invopop/jsonschema"

	"github.com/acqsim/acqsim/host/fault"
)

// Schema returns a JSON Schema (draft 2020-12) of the scenario format, for
// editors and other tools; the loader remains the judge of what is valid. It
// is reflected from Scenario, with the field comments as descriptions, and
// is as strict as the loader about keys: none that the format lacks.
func Schema() ([]byte, error) {
	r := reflector()
	r.ExpandedStruct = true
	s := r.Reflect(&Scenario{})
	s.Title = "acqsim scenario"
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// reflector reflects this package's types by their YAML names, describing
// them from their doc comments, with durations as the strings the loader
// reads.
func reflector() *jsonschema.Reflector {
	return &jsonschema.Reflector{
		FieldNameTag:  "yaml",
		Anonymous:     true, // no $id: the schema is a file, not published at a URL
		LookupComment: lookupDoc,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == reflect.TypeFor[time.Duration]() {
				return durationSchema()
			}
			return nil
		},
	}
}

// durationPattern is what time.ParseDuration reads, without a sign: "0",
// "45s", "1m30s", "1.5h", "500ms".
const durationPattern = `(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)`

func durationSchema() *jsonschema.Schema {
	return &jsonschema.Schema{Type: "string", Pattern: "^" + durationPattern + "$", Examples: []any{"45s", "500ms", "1m30s"}}
}

// scenarioSource is the format's definition. Its comments are the format's
// documentation, so the schema describes fields with them rather than with
// copies that would drift.
//
//go:embed scenario.go
var scenarioSource string

var docs = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	f, err := parser.ParseFile(token.NewFileSet(), "scenario.go", scenarioSource, parser.ParseComments)
	if err != nil {
		panic("scenarios: parsing the embedded scenario.go: " + err.Error()) // it compiled
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil && len(gd.Specs) == 1 {
				doc = gd.Doc
			}
			out[ts.Name.Name] = oneParagraph(doc.Text())
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, field := range st.Fields.List {
				for _, n := range field.Names {
					out[ts.Name.Name+"."+n.Name] = oneParagraph(field.Doc.Text())
				}
			}
		}
	}
	return out
})

func oneParagraph(s string) string { return strings.Join(strings.Fields(s), " ") }

// lookupDoc describes this package's types and fields (field "" for the
// type itself).
func lookupDoc(t reflect.Type, field string) string {
	if t.PkgPath() != reflect.TypeFor[Scenario]().PkgPath() {
		return ""
	}
	if field == "" {
		return docs()[t.Name()]
	}
	return docs()[t.Name()+"."+field]
}

// JSONSchema describes an action: a fault's name, or an object whose one key
// is a fault's name and whose value is its parameters.
func (Action) JSONSchema() *jsonschema.Schema {
	names := fault.Names()
	params := jsonschema.NewProperties()
	r := reflector()
	r.DoNotReference = true
	r.RequiredFromJSONSchemaTags = true // every parameter has a default
	for _, name := range names {
		spec, err := fault.Lookup(name)
		if err != nil {
			panic(err) // a registered name
		}
		p := r.Reflect(spec)
		p.Version = ""
		params.Set(name, &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{Type: "null"}, p}})
	}
	return &jsonschema.Schema{
		Description: lookupDoc(reflect.TypeFor[Action](), ""),
		OneOf: []*jsonschema.Schema{
			{Type: "string", Enum: anys(names)},
			{
				Type:                 "object",
				Properties:           params,
				AdditionalProperties: jsonschema.FalseSchema,
				MinProperties:        ptr[uint64](1),
				MaxProperties:        ptr[uint64](1),
			},
		},
	}
}

// JSONSchema describes a delay: "45s", "1s..5s", or a distribution.
func (Delay) JSONSchema() *jsonschema.Schema {
	props := jsonschema.NewProperties()
	props.Set("distribution", &jsonschema.Schema{Type: "string", Enum: anys([]string{"fixed", "uniform", "normal", "exponential"})})
	for _, k := range []string{"min", "max", "mean", "stddev"} {
		props.Set(k, durationSchema())
	}
	noMeanNorStdDev := withProperty(withProperty(&jsonschema.Schema{}, "mean", jsonschema.FalseSchema), "stddev", jsonschema.FalseSchema)
	return &jsonschema.Schema{
		Description: lookupDoc(reflect.TypeFor[Delay](), ""),
		OneOf: []*jsonschema.Schema{
			{
				Type:     "string",
				Pattern:  `^\s*` + durationPattern + `\s*(\.\.\s*` + durationPattern + `\s*)?$`,
				Examples: []any{"45s", "1s..5s"},
			},
			{
				Type:                 "object",
				Properties:           props,
				AdditionalProperties: jsonschema.FalseSchema,
				AllOf: []*jsonschema.Schema{
					{ // normal and exponential need a mean
						If:   withProperty(&jsonschema.Schema{Required: []string{"distribution"}}, "distribution", &jsonschema.Schema{Enum: []any{"normal", "exponential"}}),
						Then: &jsonschema.Schema{Required: []string{"mean"}},
					},
					{ // a fixed delay has no mean or stddev
						If: &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
							{Not: &jsonschema.Schema{Required: []string{"distribution"}}},
							withProperty(&jsonschema.Schema{}, "distribution", &jsonschema.Schema{Const: "fixed"}),
						}},
						Then: noMeanNorStdDev,
					},
				},
			},
		},
	}
}

// JSONSchemaExtend adds what the loader checks beyond the types.
func (Scenario) JSONSchemaExtend(s *jsonschema.Schema) {
	set(s, "name", func(p *jsonschema.Schema) { p.MinLength = ptr[uint64](1) })
}

// JSONSchemaExtend adds what the loader checks beyond the types.
func (Rule) JSONSchemaExtend(s *jsonschema.Schema) {
	set(s, "per", func(p *jsonschema.Schema) { p.Enum = anys([]string{"terminal", "card", "merchant", "global"}) })
	set(s, "probability", func(p *jsonschema.Schema) { p.Minimum, p.Maximum = "0", "1" })
	set(s, "every", func(p *jsonschema.Schema) { p.Minimum = "0" })
	// A rule has steps, or an outcome of its own, not both.
	s.DependentSchemas = map[string]*jsonschema.Schema{"steps": {Not: &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
		{Required: []string{"respond"}}, {Required: []string{"delay"}}, {Required: []string{"action"}},
	}}}}
}

// JSONSchemaExtend adds what the loader checks beyond the types.
func (Step) JSONSchemaExtend(s *jsonschema.Schema) {
	set(s, "times", func(p *jsonschema.Schema) { p.Minimum = "0" })
}

// JSONSchemaExtend adds what the loader checks beyond the types.
func (Respond) JSONSchemaExtend(s *jsonschema.Schema) {
	set(s, "rc", func(p *jsonschema.Schema) { p.Pattern = rcPattern.String() })
	set(s, "requirement", func(p *jsonschema.Schema) { p.Minimum, p.Maximum = "0", "7" })
	set(s, "set", func(p *jsonschema.Schema) {
		// Fields 2 to 128 but 39, which is rc.
		p.PatternProperties = map[string]*jsonschema.Schema{
			"^([2-9]|[124-9][0-9]|3[0-8]|1[01][0-9]|12[0-8])$": {Type: "string"},
		}
	})
	set(s, "unset", func(p *jsonschema.Schema) { p.Items.Minimum, p.Items.Maximum = "2", "128" })
}

// JSONSchemaExtend adds what the loader checks beyond the types.
func (Limit) JSONSchemaExtend(s *jsonschema.Schema) {
	set(s, "per", func(p *jsonschema.Schema) { p.Enum = anys([]string{"card", "terminal", "merchant"}) })
	set(s, "period", func(p *jsonschema.Schema) { p.Enum = anys([]string{"txn", "day", "month"}) })
	set(s, "max_amount", func(p *jsonschema.Schema) { p.Minimum = "1" })
	set(s, "max_count", func(p *jsonschema.Schema) { p.Minimum = "1" })
	set(s, "rc", func(p *jsonschema.Schema) { p.Pattern = rcPattern.String() })
	// One maximum per limit.
	s.OneOf = []*jsonschema.Schema{{Required: []string{"max_amount"}}, {Required: []string{"max_count"}}}
}

// JSONSchemaExtend adds what the loader checks beyond the types.
func (Party) JSONSchemaExtend(s *jsonschema.Schema) {
	set(s, "status", func(p *jsonschema.Schema) {
		p.Enum = anys([]string{"active", "frozen", "closed", "unregistered", "settlement-suspended", "void-disabled"})
	})
	set(s, "rc", func(p *jsonschema.Schema) { p.Pattern = rcPattern.String() })
}

// set changes a property the reflector made; a missing one is a mistake in
// this file, which the schema test finds.
func set(s *jsonschema.Schema, name string, f func(*jsonschema.Schema)) {
	p, ok := s.Properties.Get(name)
	if !ok {
		panic("scenarios: schema: no property " + name)
	}
	f(p)
}

// withProperty adds a property to s and returns s.
func withProperty(s *jsonschema.Schema, name string, p *jsonschema.Schema) *jsonschema.Schema {
	if s.Properties == nil {
		s.Properties = jsonschema.NewProperties()
	}
	s.Properties.Set(name, p)
	return s
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func ptr[T any](v T) *T { return &v }
