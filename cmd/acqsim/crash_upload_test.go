package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// TestHardKillBatchUpload kills the host in the middle of a batch upload: the
// settlement of batch 2 is answered out of balance (a scenario forces it), the
// terminal uploads its records (0320), and the host dies before the end of the
// batch (iso87 0500 960000, cup 0320 202). After the restart the terminal
// does the settlement again from the start: settlement, the whole upload, end
// of batch. The batch must end closed with exactly the terminal's records
// uploaded, and the next batch must settle on its own transactions alone.
// When the end of batch itself was answered and the answer lost, the
// terminal sends it again and gets the first answer.
func TestHardKillBatchUpload(t *testing.T) {
	const sales = 5 // in batch 2, so five records uploaded
	cases := []struct {
		scenario string
		trig     trigger
	}{
		{"settlement-out-of-balance-once", trigger{txn.Upload, 3, beforeHost}},
		{"settlement-out-of-balance-once", trigger{txn.Upload, 3, answerLost}},
		{"settlement-out-of-balance-once", trigger{txn.Upload, 3, racing}},
		{"settlement-out-of-balance-once", trigger{txn.UploadEnd, 1, beforeHost}},
		{"settlement-out-of-balance-once", trigger{txn.UploadEnd, 1, answerLost}},
		{"settlement-out-of-balance", trigger{txn.Upload, 3, answerLost}},
	}
	for _, dn := range fixtures.DialectNames() {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s/%v", dn, tc.scenario, tc.trig), func(t *testing.T) {
				cup := dn == "cup"
				d, err := fixtures.Dialect(dn)
				if err != nil {
					t.Fatal(err)
				}
				h := startCrashHost(t, filepath.Join(t.TempDir(), "journal.db"), "--dialect", dn, "--scenario", tc.scenario)
				c := newCrashTerminal(t, d, h.addr, "UPLK0001")
				if err := c.signOn(); err != nil {
					t.Fatal(err)
				}
				amount := int64(1000)
				sell := func(n int) {
					t.Helper()
					for range n {
						amount += 10
						if !c.do(c.t.Sale(amount)) {
							t.Fatalf("sale: %v %v", c.failure, c.unanswered)
						}
					}
				}
				// Batch 1, settled before any trouble (balanced, or with the
				// scenario that never balances, uploaded).
				sell(2)
				if _, err := c.t.Settle(); err != nil {
					t.Fatalf("settlement of batch 1: %v", err)
				}

				// Batch 2: the settlement through a tap, which stops at the trigger.
				sell(sales)
				batch, totals := c.t.State.Batch, c.t.Totals()
				p := newTap(t, d, h.addr, &tc.trig)
				c.redial(t, p.addr)
				type result struct {
					xs  []*terminal.Exchange
					err error
				}
				first := make(chan result, 1)
				go func() {
					xs, err := c.t.Settle()
					first <- result{xs, err}
				}()
				var r result
				select {
				case <-p.armed:
				case r = <-first:
					t.Fatalf("the settlement ended (%v) before %v", r.err, tc.trig)
				}
				h.kill(t)
				p.cut()
				if r = <-first; r.err == nil {
					t.Fatalf("the settlement completed through a dead host")
				}
				unanswered := r.xs[len(r.xs)-1]
				h.restart(t)
				c.redial(t, h.addr)
				if got := c.t.State.Batch; got != batch || len(c.t.State.Records) != sales {
					t.Fatalf("the terminal's batch after an unfinished settlement: %s with %d records, want %s with %d", got, len(c.t.State.Records), batch, sales)
				}

				// The host, before the terminal comes back: what the journal
				// replayed of the unfinished settlement.
				before := h.batch(t, c.cfg.TID, batch)
				endAnswered := tc.trig.typ == txn.UploadEnd && tc.trig.at == answerLost
				wantState, wantUploaded := books.BatchUploaded, []int{tc.trig.nth - 1}
				switch {
				case endAnswered:
					wantState, wantUploaded = books.BatchClosed, []int{sales}
				case tc.trig.typ == txn.UploadEnd:
					wantUploaded = []int{sales}
				case tc.trig.at == answerLost:
					wantUploaded = []int{tc.trig.nth}
				case tc.trig.at == racing:
					wantUploaded = append(wantUploaded, tc.trig.nth)
				}
				if before.State != wantState || !slices.Contains(wantUploaded, before.Uploaded) {
					t.Errorf("batch %s after the restart: %s, %d records uploaded; want %s, %v", batch, before.State, before.Uploaded, wantState, wantUploaded)
				}

				if endAnswered {
					// It has the terminal's request; it sends it again.
					again, err := c.t.Send(txn.UploadEnd, unanswered.Request)
					if err != nil || again.RC() != txn.Approved {
						t.Fatalf("end of batch %s sent again after the restart: %v (RC %s), want the first answer", batch, err, again.RC())
					}
					closeBatch(&c.t.State)
				} else {
					xs, err := c.t.Settle()
					if err != nil {
						t.Fatalf("settlement of batch %s again after the restart: %v", batch, err)
					}
					if uploads := countType(xs, txn.Upload); uploads != sales {
						t.Errorf("settlement of batch %s again: %d records uploaded, want %d", batch, uploads, sales)
					}
				}
				b := h.batch(t, c.cfg.TID, batch)
				if b.State != books.BatchClosed || b.Outcome != "out of balance" || b.Host != totals ||
					b.Uploaded != sales || len(b.Differences) != 0 {
					t.Errorf("batch %s once settled again: %s, %s, host totals %+v, %d uploaded, differences %q;\n"+
						"want closed, out of balance, the terminal's totals %+v, its %d records uploaded, no differences",
						batch, b.State, b.Outcome, b.Host, b.Uploaded, b.Differences, totals, sales)
				}

				// Batch 3: its own two sales, nothing of batch 2.
				sell(2)
				next := c.t.State.Batch
				if next == batch {
					t.Fatalf("the terminal is still in batch %s", batch)
				}
				xs, err := c.t.Settle()
				if err != nil {
					t.Fatalf("settlement of batch %s: %v", next, err)
				}
				if tc.scenario == "settlement-out-of-balance-once" && !settled(xs, cup) {
					t.Errorf("settlement of batch %s (two sales) after batch %s: %d exchanges, RC %s; want balanced at once",
						next, batch, len(xs), xs[0].RC())
				}
				nb := h.batch(t, c.cfg.TID, next)
				if nb.State != books.BatchClosed || nb.Host.DebitCount != 2 || len(nb.Differences) != 0 {
					t.Errorf("batch %s: %s, host totals %+v, differences %q; want closed with its two sales", next, nb.State, nb.Host, nb.Differences)
				}
				if again := h.batch(t, c.cfg.TID, batch); again.State != books.BatchClosed || again.Host != totals {
					t.Errorf("batch %s after batch %s settled: %s, %+v; want it as it closed", batch, next, again.State, again.Host)
				}
			})
		}
	}
}

func countType(xs []*terminal.Exchange, typ txn.Type) int {
	n := 0
	for _, x := range xs {
		if x.Type == typ {
			n++
		}
	}
	return n
}
