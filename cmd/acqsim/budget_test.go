package main

import (
	"strings"
	"testing"
)

// validate holds expressions to the load-time budget, at their line, and
// its flags move the budget.
func TestValidateExpressionBudget(t *testing.T) {
	costly := writeFile(t, "costly.yaml", `name: costly
rules:
  - match: 'let a = 1..1000; any(a, {let x = #; any(a, {# * x == amount})})'
    respond: {rc: "05"}
`)
	code, _, stderr := acqsim("validate", costly)
	if code != 1 || !strings.Contains(stderr, costly+":3:") {
		t.Fatalf("a costly expression: exit %d, stderr %q; want 1 and %s:3: why", code, stderr, costly)
	}

	plain := writeFile(t, "plain.yaml", `name: plain
rules:
  - match: 'amount > 100 && tid == "TERM0001"'
    respond: {rc: "05"}
`)
	if code, stdout, stderr := acqsim("validate", plain); code != 0 {
		t.Fatalf("a plain expression: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = acqsim("validate", "--expr-max-nodes", "3", plain)
	if code != 1 || !strings.Contains(stderr, plain+":3:") || !strings.Contains(stderr, "nodes") {
		t.Fatalf("--expr-max-nodes 3: exit %d, stderr %q; want 1 and the nodes at line 3", code, stderr)
	}
	if code, _, stderr := acqsim("validate", "--expr-max-cost", "100000000", "--expr-max-literal", "100000", costly); code != 0 {
		t.Fatalf("a raised budget: exit %d, stderr %q; want the costly file ok", code, stderr)
	}
}
