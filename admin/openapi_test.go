package admin

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"gopkg.in/yaml.v3"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/clock"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
)

// TestOpenAPIMatchesRoutes: the document served at /openapi.yaml lists
// exactly the routes the API serves, method by method.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	a := &API{
		Journal: journal.New(10), Clock: clock.New(time.Time{}), Reset: func() {}, ResetTerminal: func(string) {},
		Books: emptyBooks{}, Engine: &scenarios.Engine{}, Library: &scenarios.Library{}, Metrics: http.NotFoundHandler(),
		Describe: func([]byte) dialect.Detail { return dialect.Detail{} },
	}
	var routes []string
	for _, rt := range a.routes() {
		// "{$}" only anchors a ServeMux pattern at its end; OpenAPI paths
		// are exact anyway.
		routes = append(routes, rt.method+" "+strings.TrimSuffix(rt.path, "{$}"))
	}

	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("GET /openapi.yaml does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(routes)
	sort.Strings(documented)
	if strings.Join(routes, "\n") != strings.Join(documented, "\n") {
		t.Errorf("routes and openapi.yaml differ\nroutes:\n  %s\ndocumented:\n  %s",
			strings.Join(routes, "\n  "), strings.Join(documented, "\n  "))
	}
}

type emptyBooks struct{}

func (emptyBooks) Records() []books.Record { return nil }
func (emptyBooks) Batches() []books.Batch  { return nil }

// TestOpenAPIValidates holds the document to the OpenAPI 3.1 schema with an
// OpenAPI validator (pb33f/libopenapi-validator), builds its model (every
// $ref resolves), and refuses a key with no value: in a flow mapping an
// unquoted comma ends the value, and what follows becomes a stray key that
// the schema lets through where it allows any keyword (a schema object).
func TestOpenAPIValidates(t *testing.T) {
	doc, err := libopenapi.NewDocument(openAPI)
	if err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	if ok, errs := schema_validation.ValidateOpenAPIDocument(doc); !ok {
		for _, e := range errs {
			t.Errorf("openapi.yaml:%d:%d: %s: %s", e.SpecLine, e.SpecCol, e.Message, e.Reason)
			for _, f := range e.SchemaValidationErrors {
				t.Errorf("  openapi.yaml:%d:%d: %s (%s)", f.Line, f.Column, f.Reason, f.FieldPath)
			}
		}
	}
	if _, err := doc.BuildV3Model(); err != nil {
		t.Errorf("openapi.yaml: building the model: %v", err)
	}

	var root yaml.Node
	if err := yaml.Unmarshal(openAPI, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if v := n.Content[i+1]; v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
					t.Errorf("openapi.yaml:%d:%d: key %q has no value (a comma inside an unquoted flow value?)",
						n.Content[i].Line, n.Content[i].Column, n.Content[i].Value)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
}
