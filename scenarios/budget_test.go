package scenarios_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

// The expressions of the report that found no cost limit, and their like:
// each cost 0.1 s to several seconds a request, and the loader refuses them
// at their line, saying why.
var costly = []struct {
	name, match, want string
}{
	{"nested any over a let range", `let a = 1..1000; any(a, {let x = #; any(a, {# * x == amount})})`, "nested iterations multiply"},
	{"a range too large", `let a = 1..5000; any(a, {let x = #; any(a, {# * x == amount})})`, "a range of 5000 elements"},
	{"four deep over a let array", `let a = [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]; any(a, {let x = #; any(a, {let y = #; any(a, {let z = #; any(a, {x*y*z*# == amount})})})})`, "nested iterations multiply"},
	{"three deep over a range", `let a = 1..200; any(a, {let x = #; any(a, {let y = #; any(a, {# + x + y == amount})})})`, "nested iterations multiply"},
	{"a million-element range", `amount in 1..1000000`, "a range of 1000000 elements"},
	{"a huge array literal", "amount in [" + strings.Repeat("1,", 1500) + "1]", "an array of 1501 elements"},
	{"a huge map literal", "{" + strings.Repeat(`a: 1, `, 1100) + "b: 1}.b == 1", "a map of"},
	{"a huge string literal", `pan == "` + strings.Repeat("x", 5000) + `"`, "a string literal of 5000 bytes"},
	{"repeat a million times", `len(repeat("x", 1000000)) > 0`, "repeat() 1000000 times"},
	{"too many nodes", strings.Repeat("amount > 1 && ", 300) + "true", "nodes, more than the 500"},
	{"iteration over an unknown size, nested", `any(split(field(48), ""), {let x = #; any(split(field(48), ""), {# == x})})`, "nested iterations multiply"},
	{"the step counter by name", `__step()`, "unknown name"},
}

func TestBudgetRefusesCostlyExpressionsAtLoad(t *testing.T) {
	for _, tt := range costly {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "name: costly\nrules:\n  - name: r\n    match: " + yamlQuote(tt.match) + "\n    respond: {rc: \"05\"}\n"
			_, err := scenarios.Load("costly.yaml", []byte(yaml))
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.HasPrefix(err.Error(), "costly.yaml:4: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want costly.yaml:4: ... %s", err, tt.want)
			}
			if len(err.Error()) > 600 {
				t.Errorf("the error is %d bytes long", len(err.Error()))
			}
		})
	}
}

// A larger budget lets more through: the limits are the caller's.
func TestBudgetIsTheCallers(t *testing.T) {
	yaml := "name: costly\nrules:\n  - match: " + yamlQuote(costly[0].match) + "\n"
	if _, err := scenarios.Load("a.yaml", []byte(yaml)); err == nil {
		t.Fatal("loaded within the default budget")
	}
	if _, err := (scenarios.Budget{Cost: 10_000_000}).Load("a.yaml", []byte(yaml)); err != nil {
		t.Fatal(err)
	}
}

// Ordinary expressions, iterations included, stay well within the budget.
func TestBudgetLetsOrdinaryExpressionsThrough(t *testing.T) {
	for _, match := range []string{
		`txn in ["sale", "void", "refund", "balance", "preauth", "preauth_void", "completion", "advice"] && between("23:50", "00:10")`,
		`any(["622202", "622848", "436742"], {bin == #}) && amount > 100`,
		`let magic = [101, 5100, 9999]; amount in magic || count(split(field(48), ","), # == "X") > 1`,
		`all(1..100, {amount % # != 7})`,
		`pan startsWith "6222" && (amount % 100 == 51 || now.Hour() >= 23)`,
	} {
		yaml := "name: ordinary\nrules:\n  - match: " + yamlQuote(match) + "\n"
		if _, err := scenarios.Load("ordinary.yaml", []byte(yaml)); err != nil {
			t.Errorf("%s: %v", match, err)
		}
	}
}

// An evaluation beyond the run-time budget does not match: the request
// falls through to the next rule, and the journal is told once a rule.
func TestBudgetCutsEvaluationsAtRunTime(t *testing.T) {
	for _, tt := range []struct {
		name   string
		match  string
		budget scenarios.Budget
		want   scenarios.CutReason
	}{
		// Sizes the loader cannot tell: a range to the amount.
		{"steps", `any(1..(amount % 100000), {# == -1})`, scenarios.Budget{Time: time.Hour}, scenarios.CutSteps},
		{"memory", `len(1..amount) > 0`, scenarios.Budget{}, scenarios.CutMemory},
		{"time", `any(1..(amount % 100000), {# == -1})`, scenarios.Budget{Steps: 1 << 40, Memory: 1 << 40, Time: time.Nanosecond}, scenarios.CutTime},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := scenarios.Load("cut.yaml", []byte("name: cut\nrules:\n  - name: costly\n    match: "+yamlQuote(tt.match)+
				"\n    respond: {rc: \"05\"}\n  - name: next\n    respond: {rc: \"51\"}\n"))
			if err != nil {
				t.Fatal(err)
			}
			e := scenarios.NewEngine(newFakeHost(), 1, time.UTC)
			e.Budget = tt.budget
			e.SetGlobal(sc)
			for i := range 3 {
				r := &txn.Request{Type: txn.Sale, MTI: "0200", TID: tid1, MID: mid1, PAN: pan1, Amount: 99_999_999, STAN: fmt.Sprint(i + 1)}
				p := e.Plan(r, noon)
				if p.Decision.RC != "51" || p.Trace.Rule != "next" {
					t.Fatalf("request %d: rc %s by %q, want 51 by the next rule", i+1, p.Decision.RC, p.Trace.Rule)
				}
				switch {
				case i == 0 && (len(p.Cuts) != 1 || p.Cuts[0] != scenarios.Cut{Rule: "costly", Budget: tt.want}):
					t.Errorf("first cut: %+v, want costly over %s", p.Cuts, tt.want)
				case i == 0 && !strings.Contains(p.Trace.Action, "costly: match over its "+string(tt.want)+" budget"):
					t.Errorf("first cut: action %q", p.Trace.Action)
				case i > 0 && (len(p.Cuts) != 0 || strings.Contains(p.Trace.Action, "budget")):
					t.Errorf("request %d: cut told again: %+v, %q", i+1, p.Cuts, p.Trace.Action)
				}
			}
			want := []scenarios.RuleCuts{{Scenario: "cut", Rule: "costly", Count: 3}}
			if got := e.Cuts(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("cuts %+v, want %+v", got, want)
			}
			e.Reset("")
			if got := e.Cuts(); len(got) != 0 {
				t.Errorf("after reset: cuts %+v", got)
			}
		})
	}
}

// One terminal's evaluation in progress holds up no other terminal's
// decision on the same (global) scenario: the first terminal's expression
// is stopped inside field(), which its request controls, while the second
// terminal is decided.
func TestEvaluationDoesNotBlockOtherTerminals(t *testing.T) {
	sc, err := scenarios.Load("slow.yaml", []byte(`name: slow
rules:
  - name: field
    match: field(48) == "x"
    respond: {rc: "05"}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := scenarios.NewEngine(newFakeHost(), 1, time.UTC)
	e.SetGlobal(sc)

	entered, release := make(chan struct{}), make(chan struct{})
	slow := &txn.Request{Type: txn.Sale, MTI: "0200", TID: tid1, MID: mid1, PAN: pan1, Amount: 100, STAN: "000001",
		Field: func(int) string {
			close(entered)
			<-release
			return "x"
		}}
	first := make(chan scenarios.Plan)
	go func() { first <- e.Plan(slow, noon) }()
	<-entered

	other := make(chan scenarios.Plan)
	go func() {
		other <- e.Plan(&txn.Request{Type: txn.Sale, MTI: "0200", TID: tid2, MID: mid1, PAN: pan2, Amount: 100, STAN: "000001",
			Field: func(int) string { return "x" }}, noon)
	}()
	select {
	case p := <-other:
		if p.Decision.RC != "05" {
			t.Errorf("the other terminal: rc %s, want 05", p.Decision.RC)
		}
	case <-time.After(10 * time.Second): // generous: it is stuck, not slow
		t.Error("the other terminal's decision waits for the first terminal's evaluation")
		close(release)
		<-other
		<-first
		return
	}
	close(release)
	if p := <-first; p.Decision.RC != "05" {
		t.Errorf("the first terminal: rc %s, want 05", p.Decision.RC)
	}
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// A load error quotes a value of the file in a few bytes, whatever its size,
// and masks card numbers: a 900 KB literal is not echoed back, nor a PAN.
func TestLoadErrorsQuoteLittle(t *testing.T) {
	huge := strings.Repeat("A", 900_000)
	for _, tt := range []struct {
		name, file string
		not        []string
	}{
		{"a huge rc", "name: bad\nrules:\n  - respond: {rc: " + huge + "}\n", []string{strings.Repeat("A", 41)}},
		{"a huge per", "name: bad\nrules:\n  - per: " + huge + "\n", []string{strings.Repeat("A", 41)}},
		{"a huge delay", "name: bad\nrules:\n  - delay: " + huge + "\n", []string{strings.Repeat("A", 41)}},
		{"a huge rule name", "name: bad\nrules:\n  - name: " + huge + "\n    per: planet\n", []string{strings.Repeat("A", 41)}},
		{"a huge unknown key", "name: bad\n" + huge + ": 1\n", []string{strings.Repeat("A", 401)}},
		{"a huge match", "name: bad\nrules:\n  - match: " + huge + "\n", []string{strings.Repeat("A", 401)}},
		{"a huge txn", "name: bad\nrules:\n  - match: txn == \"" + huge + "\"\n", []string{strings.Repeat("A", 41)}},
		{"a PAN in a match", "name: bad\nrules:\n  - match: pan == \"6222021234567890123\" && txn == \"6222021234567890123\"\n", []string{"6222021234567890123"}},
		{"a PAN as an rc", "name: bad\nrules:\n  - respond: {rc: \"4111111111111111\"}\n", []string{"4111111111111111"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scenarios.Load("bad.yaml", []byte(tt.file))
			if err == nil {
				t.Fatal("loaded")
			}
			msg := err.Error()
			if len(msg) > 600 {
				t.Errorf("the error is %d bytes long: %.200s", len(msg), msg)
			}
			for _, s := range tt.not {
				if strings.Contains(msg, s) {
					t.Errorf("the error echoes %.50q: %.200s", s, msg)
				}
			}
			if !strings.HasPrefix(msg, "bad.yaml:") {
				t.Errorf("error %.200q has no line", msg)
			}
		})
	}
}
