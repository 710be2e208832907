package scenarios_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

// BenchmarkPlan is the decision stage: the default host behaviour (no
// scenario), and a scenario of 100 rules none of which matches a sale, so
// every rule's expression runs: on the fast path, and (100-rules-machine)
// on expr's machine.
func BenchmarkPlan(b *testing.B) {
	// 100 rules on amounts the request does not have: about refunds (skipped
	// by their txn test, not run) and about sales (each one run).
	rules := func(txn, amount string) string {
		var b strings.Builder
		b.WriteString("name: many\nrules:\n")
		for i := range 100 {
			fmt.Fprintf(&b, "  - match: txn == \"%s\" && %s == %d\n    respond: {rc: \"05\"}\n", txn, amount, i)
		}
		return b.String()
	}
	for _, tt := range []struct {
		name, yaml string
	}{
		{"default", ""},
		{"100-rules", rules("refund", "amount")},
		{"100-rules-run", rules("sale", "amount")},
		{"100-rules-machine", rules("sale", "amount % 100000")}, // arithmetic: no fast path
	} {
		b.Run(tt.name, func(b *testing.B) {
			e := scenarios.NewEngine(approver{}, 1, time.UTC)
			if tt.yaml != "" {
				sc, err := scenarios.Load("bench.yaml", []byte(tt.yaml))
				if err != nil {
					b.Fatal(err)
				}
				e.SetGlobal(sc)
			}
			r := &txn.Request{Type: txn.Sale, MTI: "0200", Amount: 12345, TID: "T0000001", MID: "898100012340001", PAN: "6222021234567890123", STAN: "000001"}
			now := time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			for b.Loop() {
				if p := e.Plan(r, now); p.Decision.RC != txn.Approved {
					b.Fatalf("rc %s", p.Decision.RC)
				}
			}
		})
	}
}

// approver approves everything, so that only the engine is measured.
type approver struct{}

func (approver) Decide(*txn.Request, time.Time) txn.Decision { return txn.Decision{RC: txn.Approved} }
func (approver) Force(_ *txn.Request, _ time.Time, rc string, _ bool) txn.Decision {
	return txn.Decision{RC: rc}
}
func (approver) SignedOn(string, string) bool { return true }
func (approver) Repeated(*txn.Request) bool   { return false }

// BenchmarkWorstExpression is what one request costs a scenario whose rule
// uses about all of the default budget that loading allows: the most a
// scenario's expression can slow an exchange by (on expr's machine, with the
// step count).
func BenchmarkWorstExpression(b *testing.B) {
	f48 := strings.Repeat("ab", 499) + "c" // the longest field 48 (999)
	for _, tt := range []struct{ name, match string }{
		{"flat-1000", `any(1..1000, {# * 3 + 1 == amount && # % 7 == 2})`},
		{"nested-35x35", `let a = 1..35; any(a, {let x = #; any(a, {# * x == amount && # > x})})`},
		{"in-let-array", `let a = 1..1000; any(1..19, {# + amount in a})`},
		{"split-field", `any(split(field(48), ""), {# == "z" && field(48) contains #})`},
		{"split-field-regexp", `any(split(field(48), "")[:15], {field(48) matches # + "+c$" && # == "z"})`},
	} {
		b.Run(tt.name, func(b *testing.B) {
			sc, err := scenarios.Load("worst.yaml", []byte("name: worst\nrules:\n  - match: '"+tt.match+"'\n    respond: {rc: \"05\"}\n"))
			if err != nil {
				b.Fatal(err)
			}
			e := scenarios.NewEngine(approver{}, 1, time.UTC)
			e.SetGlobal(sc)
			r := &txn.Request{Type: txn.Sale, MTI: "0200", Amount: 12345, TID: "T0000001", MID: "898100012340001", PAN: "6222021234567890123", STAN: "000001",
				Field: func(id int) string {
					if id == 48 {
						return f48
					}
					return ""
				}}
			now := time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			for b.Loop() {
				if p := e.Plan(r, now); p.Decision.RC != txn.Approved {
					b.Fatalf("rc %s", p.Decision.RC)
				}
			}
		})
	}
}

// BenchmarkPlanBooks is the decision stage over the host's own books: a
// sale with no scenario, and under a scenario that requires sign-on and
// works out its merchant's fee (each sale with a new STAN).
func BenchmarkPlanBooks(b *testing.B) {
	for _, tt := range []struct{ name, yaml string }{
		{"default", ""},
		{"signon-fees", "name: fees\nsignon_required: true\nmerchants:\n  \"*\":\n    settlement:\n      fees: {debit: 0.005, debit_cap: 2000}\n      faults: [fee-no-cap]\n"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			h, err := books.New(books.Config{})
			if err != nil {
				b.Fatal(err)
			}
			e := scenarios.NewEngine(h, 1, time.UTC)
			if tt.yaml != "" {
				sc, err := scenarios.Load("bench.yaml", []byte(tt.yaml))
				if err != nil {
					b.Fatal(err)
				}
				e.SetGlobal(sc)
			}
			now := time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)
			const tid, mid = "T0000001", "898100012340001"
			if d := h.Decide(&txn.Request{Type: txn.SignOn, MTI: "0800", TID: tid, MID: mid, STAN: "999999"}, now); d.RC != txn.Approved {
				b.Fatalf("sign-on: rc %s", d.RC)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				stan := fmt.Sprintf("%06d", i%999999)
				r := &txn.Request{Type: txn.Sale, MTI: "0200", Amount: 12345, TID: tid, MID: mid,
					PAN: "6222021234567890123", STAN: stan, Fingerprint: stan}
				if p := e.Plan(r, now); p.Decision.RC != txn.Approved && !p.Decision.Cached {
					b.Fatalf("rc %s", p.Decision.RC)
				}
			}
		})
	}
}
