package scenarios

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/expr-lang/expr/parser"

	"github.com/acqsim/acqsim/txn"
)

func TestTxnSet(t *testing.T) {
	for _, tt := range []struct {
		match string
		want  []string // nil: any transaction
	}{
		{`txn == "sale"`, []string{"sale"}},
		{`"void" == txn`, []string{"void"}},
		{`txn in ["sale", "refund"]`, []string{"refund", "sale"}},
		{`txn == "sale" && amount > 5`, []string{"sale"}},
		{`amount > 5 && txn == "sale"`, []string{"sale"}},
		{`txn in ["sale", "refund"] && txn == "sale"`, []string{"sale"}},
		{`txn == "sale" || txn == "void"`, []string{"sale", "void"}},
		{`txn == "sale" || amount > 5`, nil},
		{`not (txn == "sale")`, nil},
		{`txn != "echo"`, nil},
		{`amount > 5`, nil},
		{`(txn == "sale" || txn == "advice") && between("23:00", "01:00")`, []string{"advice", "sale"}},
		{`txn == "sale" && txn == "void"`, []string{}}, // never true
	} {
		tree, err := parser.Parse(tt.match)
		if err != nil {
			t.Fatalf("%s: %v", tt.match, err)
		}
		got := txnSet(tree.Node)
		if (got == nil) != (tt.want == nil) {
			t.Errorf("%s: %v, want %v", tt.match, got, tt.want)
			continue
		}
		if keys := slices.Sorted(maps.Keys(got)); got != nil && !slices.Equal(keys, tt.want) && !(len(keys) == 0 && len(tt.want) == 0) {
			t.Errorf("%s: %v, want %v", tt.match, keys, tt.want)
		}
	}
}

// A rule is skipped, without running its match, only for transaction types
// its match can never be true for; a type the host has no name for still
// runs the rules that do not say which types they are for.
func TestTxnPrefilter(t *testing.T) {
	c, err := Load("prefilter.yaml", []byte(`name: prefilter
rules:
  - name: sale-or-void
    match: txn in ["sale", "void"]
    respond: {rc: "05"}
  - name: never
    match: txn == "sale" && txn == "refund"
    respond: {rc: "06"}
  - name: not-echo
    match: txn != "echo"
    respond: {rc: "12"}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(approveAll{}, 1, time.UTC)
	e.SetGlobal(c)
	for typ, want := range map[txn.Type]string{
		txn.Sale: "sale-or-void", txn.Void: "sale-or-void", txn.Refund: "not-echo",
		txn.Echo: "", txn.Unknown: "not-echo", "bogus": "not-echo",
	} {
		r := &txn.Request{Type: typ, TID: "T0000001"}
		if got := e.Plan(r, time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)).Trace.Rule; got != want {
			t.Errorf("%s: rule %q, want %q", typ, got, want)
		}
	}
}
