package main

import (
	"strings"
	"testing"
)

// validate reports every problem in a file, each as file:line: reason, in
// the file's order; a problem alone reads as it always did.
func TestValidateReportsEveryProblem(t *testing.T) {
	validation := writeFile(t, "rules.yaml", `name: x
rules:
  - respond: {rc: "5"}
  - per: week
limits:
  - {period: year, max_amount: 1}
`)
	decoding := writeFile(t, "decoding.yaml", `name: x
rules:
  - action: explode
  - respnd: {rc: "05"}
  - delay: soon
`)
	good := writeFile(t, "good.yaml", goodScenario)
	code, stdout, stderr := acqsim("validate", validation, good, decoding)
	if code != 1 || !strings.Contains(stdout, good+": ok") {
		t.Fatalf("exit %d, stdout %q; want 1 and the good file ok", code, stdout)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	want := []string{
		validation + `:3: rule 1: rc "5"`,
		validation + `:4: rule "rule 2": per "week"`,
		validation + `:6: limit 1: period "year"`,
		decoding + `:3: unknown action "explode"`,
		decoding + `:4: field respnd not found`,
		decoding + `:5: delay "soon"`,
		"acqsim: 2 of 3 scenario files refused",
	}
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d %q, want it to start %q", i+1, lines[i], w)
		}
	}
}
