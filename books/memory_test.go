package books_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/txn"
)

// A terminal that never settles (a load test) does not grow the host without
// bound: the host keeps its latest 10,000 transactions, and the older ones
// still count in the batch's totals, as they were when they were let go or
// as a later reversal of their void restores them.
func TestOldTransactionsFoldIntoTotals(t *testing.T) {
	h := newHost(t, iso87Cfg)
	// The first sale, voided just before it is let go; the void itself is
	// still remembered.
	steps := []step{sale("000001", 100).want("00")}
	for i := range 9_998 {
		steps = append(steps, sale(fmt.Sprintf("%06d", 2+i), 1).want("00"))
	}
	steps = append(steps, voidByRRN("100000", 100).naming(0).want("00"))
	for i := range 10 {
		steps = append(steps, sale(fmt.Sprintf("%06d", 100001+i), 1).want("00"))
	}
	ds := play(t, h, now, steps...)
	if n, _ := kept(h); n != 10_000 {
		t.Errorf("the host keeps %d records of a terminal one by one, want its latest 10000", n)
	}
	if _, folded := kept(h); folded != "sale approved 9 of 9; sale voided 1 of 100" {
		t.Errorf("folded records: %s; want the 9 sales of 1 approved and the first sale voided", folded)
	}

	want := debits(9_998+10+1, 9_998+10+100)
	play(t, h, now,
		// The voided sale is gone from memory, yet reversing its void
		// restores it in the totals.
		reversal("100000", 100).want("00").noting("reversed"),
		// An old sale can no longer be found to void.
		voidByRRN("900001", 1).withRRN(ds[1].RRN).want(txn.OriginalNotFound),
		// And the batch balances: every sale, the restored one included.
		settle("900002", want).want("00"),
	)
	if b := batchOf(t, h, testTID, "000001"); b.Host != want {
		t.Errorf("host totals %+v, want %+v", b.Host, want)
	}
	// The restored sale moved to the approved ones in the reports too (with
	// one more sale of 1 let go for the refused void booked since).
	if _, folded := kept(h); folded != "sale approved 11 of 110" {
		t.Errorf("folded records after the reversal of the void: %s; want the 11 sales approved, 110 in all", folded)
	}
}

// kept counts the records Records lists one by one, and says what the
// folded ones sum to: "type state count of amount", by type and state.
func kept(h *books.Host) (n int, folded string) {
	var sums []string
	for _, r := range h.Records() {
		if r.Folded == 0 {
			n++
			continue
		}
		sums = append(sums, fmt.Sprintf("%s %s %d of %d", r.Type, r.State, r.Folded, r.Amount))
	}
	sort.Strings(sums)
	return n, strings.Join(sums, "; ")
}

// A completion whose pre-authorisation has left the window finds nothing
// (25); a kept completion undone gives back its pre-authorisation even once
// that is folded, and the reports see it so.
func TestCompletionAndFoldedPreAuth(t *testing.T) {
	h := newHost(t, cupCfg)
	steps := []step{
		preAuth("000001", 500).want("00"),
		completionOf("000002", 500, "000001").want("00"),
		preAuth("000003", 700).want("00"),
	}
	for i := range 10_000 {
		steps = append(steps, sale(fmt.Sprintf("%06d", 4+i), 1).want("00"))
	}
	ds := play(t, h, now, steps...)
	// The first pre-authorisation and its completion folded; the second
	// pre-authorisation folded; the completion of it finds nothing.
	play(t, h, now, completion("100001", 700).withRRN(ds[2].RRN).want(txn.OriginalNotFound))
	if _, folded := kept(h); folded != "completion approved 1 of 500; preauth approved 1 of 700; preauth completed 1 of 500; sale approved 1 of 1" {
		t.Errorf("folded records: %s", folded)
	}
}

// The same with a completion kept: voiding it gives its folded
// pre-authorisation back.
func TestVoidOfCompletionGivesBackFoldedPreAuth(t *testing.T) {
	h := newHost(t, cupCfg)
	steps := []step{preAuth("000001", 500).want("00")}
	for i := range 9_999 {
		steps = append(steps, sale(fmt.Sprintf("%06d", 2+i), 1).want("00"))
	}
	steps = append(steps, completionOf("100001", 400, "000001").want("00"))
	play(t, h, now, steps...)
	if _, folded := kept(h); folded != "preauth completed 1 of 500" {
		t.Fatalf("folded records: %s; want the pre-authorisation, completed", folded)
	}
	play(t, h, now, voidByTrace("100002", 400, "100001").want("00"))
	if _, folded := kept(h); folded != "preauth approved 1 of 500; sale approved 1 of 1" {
		t.Errorf("folded records after the void of the completion: %s; want the pre-authorisation approved again", folded)
	}
}

// Out of balance is still seen when the difference is in what was folded.
func TestFoldedTotalsStillDisagree(t *testing.T) {
	h := newHost(t, iso87Cfg)
	var steps []step
	for i := range 10_500 {
		steps = append(steps, sale(fmt.Sprintf("%06d", 1+i), 2).want("00"))
	}
	play(t, h, now, steps...)
	play(t, h, now, settle("900001", debits(10_500, 2*10_500-2)).want(txn.OutOfBalance))
}

// An upload of a batch some of whose transactions were folded out of memory
// is compared where it can be, and says what it could not compare, rather
// than calling every folded record a difference.
func TestUploadOfAFoldedBatch(t *testing.T) {
	h := newHost(t, iso87Cfg)
	var steps []step
	var recs []txn.UploadRecord
	for i := range 10_050 {
		stan := fmt.Sprintf("%06d", 1+i)
		steps = append(steps, sale(stan, 2).want("00"))
		recs = append(recs, txn.UploadRecord{STAN: stan, Amount: 2})
	}
	play(t, h, now, steps...)
	play(t, h, now, settle("900001", debits(1, 2)).want(txn.OutOfBalance), upload("900002", recs...).want("00"))
	b := batchOf(t, h, testTID, "000001")
	if len(b.Differences) != 1 || !strings.Contains(b.Differences[0], "not compared") {
		t.Errorf("differences %q, want only the note that folded records were not compared", b.Differences)
	}
}

// A closed batch keeps the differences its upload showed at the close, also
// once its transactions have left the terminal's window.
func TestClosedBatchKeepsItsDifferences(t *testing.T) {
	h := newHost(t, iso87Cfg)
	play(t, h, now,
		sale("000001", 1000).want("00"),
		settle("000002", debits(1, 999)).want(txn.OutOfBalance),
		upload("000003", txn.UploadRecord{STAN: "000001", Amount: 1000}).want("00"),
		uploadEnd("000004", 1).want("00"),
	)
	var steps []step
	for i := range 10_001 {
		steps = append(steps, sale(fmt.Sprintf("%06d", 10+i), 1).want("00"))
	}
	play(t, h, now, steps...)
	b := batchOf(t, h, testTID, "000001")
	if b.State != "closed" || b.Differences != nil || b.Host != debits(1, 1000) {
		t.Errorf("batch 000001 after its records left: state %q, differences %q, host totals %+v; want closed, none, 1 debit of 1000",
			b.State, b.Differences, b.Host)
	}
}
