package scenarios

import (
	"maps"
	"slices"
	"testing"

	"github.com/expr-lang/expr/parser"
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
