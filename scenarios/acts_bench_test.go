package scenarios_test

import (
	"testing"

	"github.com/acqsim/acqsim/txn"
)

// BenchmarkPlanScripted measures a plan that does several things (a books
// fault, a response, a delay, a fault): what recording its acts costs.
func BenchmarkPlanScripted(b *testing.B) {
	e, _ := newEngine(b, `name: scripted
merchants:
  "*":
    settlement:
      fees: { debit: 0.005, debit_cap: 2000 }
      faults: [fee-no-cap]
rules:
  - name: everything at once
    match: txn == "sale"
    respond: {rc: "05"}
    delay: 45s
    action: {duplicate: {gap: 1s}}
`)
	r := request(txn.Sale, 100)
	b.ReportAllocs()
	for b.Loop() {
		if p := e.Plan(r, noon); p.Trace.Action == "" {
			b.Fatal("no action")
		}
	}
}
