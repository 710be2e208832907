// Package docs_test holds the documentation to what the code does: the
// built-in scenario table in scenarios.md is the library's, the scenario
// examples load, and the README's acqsimtest example is one that compiles
// and runs (acqsimtest/example_test.go).
package docs_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

var update = flag.Bool("update", false, "rewrite the generated table of docs/scenarios.md from the scenario library")

const (
	scenariosDoc = "scenarios.md"
	tableBegin   = "<!-- begin generated: go test ./docs -update -->\n"
	tableEnd     = "<!-- end generated -->\n"
)

// scenarioTable is the built-in library as a Markdown table, one row a
// scenario, its description on one line.
func scenarioTable(t *testing.T) string {
	t.Helper()
	lib, err := scenarios.BuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("| name | what it reproduces, and what a terminal sees |\n|---|---|\n")
	for _, c := range lib.All() {
		desc := strings.Join(strings.Fields(c.Description), " ")
		desc = strings.ReplaceAll(desc, "|", `\|`)
		fmt.Fprintf(&b, "| `%s` | %s |\n", c.Name, desc)
	}
	return b.String()
}

// TestScenarioTable: the table of built-in scenarios in scenarios.md lists
// every scenario of fixtures/scenarios with its own description, and no other.
func TestScenarioTable(t *testing.T) {
	generated(t, scenariosDoc, tableBegin, tableEnd, scenarioTable(t), "the built-in scenario table is not the library's (fixtures/scenarios)")
}

// txnTable is txn.Types as a Markdown table.
func txnTable() string {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return ""
	}
	side := map[txn.Side]string{txn.Debit: "debit", txn.Credit: "credit", txn.Undo: "undoes its original (cup: a credit)"}
	var b strings.Builder
	b.WriteString("| `txn` | what it is | booked | totals | settles | needs sign-on | risk limits | closes books | voids |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, i := range txn.Types {
		var voids []string
		for _, v := range i.Voids {
			voids = append(voids, "`"+string(v)+"`")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n", i.Type, i.Says, yes(i.Financial), side[i.Side],
			yes(i.Settles), yes(i.NeedsSignOn), yes(i.LimitBearing), yes(i.ClosesBooks), strings.Join(voids, ", "))
	}
	return b.String()
}

// TestTxnTable: the table of transaction types in scenarios.md is txn.Types,
// and the README's list of journal txn names is its names in its order.
func TestTxnTable(t *testing.T) {
	generated(t, scenariosDoc, "<!-- begin generated txn: go test ./docs -update -->\n", tableEnd, txnTable(),
		"the table of transaction types is not txn.Types (txn/table.go)")

	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(string(raw)), " ")
	var names []string
	for _, i := range txn.Types {
		names = append(names, "`"+string(i.Type)+"`")
	}
	if want := "`txn` is one of " + strings.Join(names, ", ") + ";"; !strings.Contains(flat, want) {
		t.Errorf("README.md: the journal's txn names are not txn.Types; want the sentence\n\t%s", want)
	}
}

// generated holds the section of file between begin and end to want, or
// rewrites it with -update.
func generated(t *testing.T, file, begin, end, want, what string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	b := strings.Index(doc, begin)
	e := b + len(begin) + strings.Index(doc[b+len(begin):], end)
	if b < 0 || e < b+len(begin) {
		t.Fatalf("%s lacks the generated section's markers %q and %q", file, begin, end)
	}
	got := doc[b+len(begin) : e]
	if *update {
		doc = doc[:b+len(begin)] + want + doc[e:]
		if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("docs/%s: %s; rewrite it with:\n\tgo test ./docs -update\n%s", file, what, lineDiff(got, want))
	}
}

// lineDiff lists the lines only one of a and b has.
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ina, inb := in(a), in(b)
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if !inb[l] {
			fmt.Fprintf(&out, "- %s\n", l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ina[l] {
			fmt.Fprintf(&out, "+ %s\n", l)
		}
	}
	return out.String()
}

// block is a fenced code block of a Markdown file.
type block struct {
	line int // of its first line of code
	code string
}

var fence = regexp.MustCompile("(?ms)^```([a-z]*)\n(.*?)^```")

// blocks returns the code blocks of md in language lang.
func blocks(md, lang string) []block {
	var out []block
	for _, m := range fence.FindAllStringSubmatchIndex(md, -1) {
		if md[m[2]:m[3]] != lang {
			continue
		}
		out = append(out, block{line: strings.Count(md[:m[4]], "\n") + 1, code: md[m[4]:m[5]]})
	}
	return out
}

// TestScenarioExamples: every whole scenario in scenarios.md (a YAML block
// with a name) is taken by a running host as `acqsim scenario load` gives it
// (PUT /scenario): it validates, and its name is not a built-in one's (409).
func TestScenarioExamples(t *testing.T) {
	raw, err := os.ReadFile(scenariosDoc)
	if err != nil {
		t.Fatal(err)
	}
	h := acqsimtest.New(t)
	loaded := 0
	for _, b := range blocks(string(raw), "yaml") {
		var top map[string]any
		if yaml.Unmarshal([]byte(b.code), &top) != nil || top["name"] == nil {
			continue // a fragment: a rule, a match, a limit
		}
		loaded++
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, h.AdminURL()+"/scenario", strings.NewReader(b.code))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("docs/%s:%d: the example scenario %v: PUT /scenario answered %d: %s (body:N is line %d+N-1 of the file)",
				scenariosDoc, b.line, top["name"], resp.StatusCode, bytes.TrimSpace(body), b.line)
		}
	}
	if loaded == 0 {
		t.Errorf("docs/%s has no example scenario (a YAML block with a name)", scenariosDoc)
	}
}

// TestReadmeAcqsimtest: the README's acqsimtest example is a test that
// compiles and runs: acqsimtest/example_test.go has its function, word for
// word, and its imports.
func TestReadmeAcqsimtest(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "## In Go tests: `acqsimtest`"
	i := bytes.Index(readme, []byte(heading))
	if i < 0 {
		t.Fatalf("README.md has no section %q", heading)
	}
	section := string(readme[i+len(heading):])
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	code := blocks(section, "go")
	if len(code) == 0 {
		t.Fatalf("README.md, %s: no Go example", heading)
	}
	example, err := os.ReadFile("../acqsimtest/example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	snippet := code[0].code
	fn := strings.Index(snippet, "func ")
	if fn < 0 {
		t.Fatalf("README.md, %s: the Go example has no function:\n%s", heading, snippet)
	}
	if !strings.Contains(string(example), snippet[fn:]) {
		t.Errorf("README.md, %s: acqsimtest/example_test.go lacks the example's function as written:\n%s", heading, snippet[fn:])
	}
	imports := regexp.MustCompile(`(?m)^\s+"[^"]+"$`).FindAllString(snippet[:fn], -1)
	if len(imports) == 0 {
		t.Errorf("README.md, %s: the Go example imports nothing: say where acqsimtest comes from", heading)
	}
	for _, imp := range imports {
		if !strings.Contains(string(example), imp+"\n") {
			t.Errorf("README.md, %s: acqsimtest/example_test.go does not import %s", heading, strings.TrimSpace(imp))
		}
	}
}

// TestBooksFaultsInREADME: the README's list of books faults is the books'
// registry, in its order.
func TestBooksFaultsInREADME(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(raw)), " ")
	_, after, ok := strings.Cut(text, "get the books wrong on purpose: ")
	if !ok {
		t.Fatal(`the README has no "get the books wrong on purpose: " list of books faults`)
	}
	list, _, _ := strings.Cut(after, ";")
	var got []string
	for _, m := range regexp.MustCompile("`([a-z0-9-]+)`").FindAllStringSubmatch(list, -1) {
		got = append(got, m[1])
	}
	if want := books.FaultNames(); !slices.Equal(got, want) {
		t.Errorf("the README lists the books faults %v, the registry %v", got, want)
	}
}
