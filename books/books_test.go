package books_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/txn"
)

// settling gives the request the settlement terms a scenario would.
func (s step) settling(terms txn.Terms) step { s.req.Terms = &terms; return s }

// play sends steps to h, the i-th at start plus i minutes, checks each
// answer's RC (and note) and returns the decisions.
func play(t *testing.T, h *books.Host, start time.Time, steps ...step) []txn.Decision {
	t.Helper()
	var ds []txn.Decision
	for i, s := range steps {
		r := s.req
		if s.rrnOf > 0 {
			r.RRN = ds[s.rrnOf-1].RRN
		}
		if s.authOf > 0 {
			r.AuthCode = ds[s.authOf-1].AuthCode
		}
		r.Fingerprint = fingerprint(&r)
		d := h.Decide(&r, start.Add(time.Duration(i)*time.Minute))
		ds = append(ds, d)
		if d.RC != s.rc {
			t.Errorf("step %d (%s STAN %s): RC %q (%s), want %q", i, r.Type, r.STAN, d.RC, d.Note, s.rc)
		}
		if s.note != "" && !strings.Contains(d.Note, s.note) {
			t.Errorf("step %d (%s STAN %s): note %q, want it to say %q", i, r.Type, r.STAN, d.Note, s.note)
		}
	}
	return ds
}

// batchOf returns one batch of testMID's terminal tid as Batches reports it.
func batchOf(t *testing.T, h *books.Host, tid, number string) books.Batch {
	t.Helper()
	for _, b := range h.Batches() {
		if b.MID == testMID && b.TID == tid && b.Batch == number {
			return b
		}
	}
	t.Fatalf("no batch %s of terminal %s in %+v", number, tid, h.Batches())
	return books.Batch{}
}

// Records lists every transaction the host booked, oldest first, with the
// card number masked, its settlement terms and its state.
func TestRecords(t *testing.T) {
	h := newHost(t, iso87Cfg)
	scenarioTerms := txn.Terms{
		Mode: "T1", Settlement: day(2026, 6, 12, time.UTC), FundsAt: day(2026, 6, 12, time.UTC).Add(11 * time.Hour),
		CardType: "debit", Fee: 5, Faults: []string{"fee-rounding"},
	}
	// Another terminal's sale, a minute earlier than everything else.
	early := play(t, h, now.Add(-time.Minute), sale("000001", 900).on(otherTID).want("00"))
	ds := play(t, h, now,
		sale("000001", 1000).settling(scenarioTerms).want("00"), // 0
		sale("000002", 2000).want("00"),                         // 1: the host's own terms
		refund("000003", 300).want("00"),                        // 2
		sale("000004", 400).want("00"),                          // 3
		reversal("000004", 400).want("00"),                      // 4: reverses 3, booked as nothing
		sale("000005", 500).want("00"),                          // 5
		voidByRRN("000006", 500).naming(5).want("00"),           // 6: voids 5
		sale("000007", 0).want("13"),                            // 7
		preAuth("000008", 800).want("00"),                       // 8
	)
	forced := sale("000009", 700).req
	if d := h.Force(&forced, now.Add(time.Hour), "51", false); d.RC != "51" {
		t.Fatalf("Force: RC %q, want 51", d.RC)
	}

	hostTerms := txn.Terms{Mode: "T1", Settlement: day(2026, 6, 12, time.UTC), FundsAt: day(2026, 6, 12, time.UTC).Add(9 * time.Hour), CardType: books.CardType(testPAN)}
	type want struct {
		tid, stan string
		typ       txn.Type
		state     string
		amount    int64
		rrn       string
		terms     *txn.Terms // nil: not checked
	}
	wants := []want{
		{otherTID, "000001", txn.Sale, "approved", 900, early[0].RRN, &hostTerms},
		{testTID, "000001", txn.Sale, "approved", 1000, ds[0].RRN, &scenarioTerms},
		{testTID, "000002", txn.Sale, "approved", 2000, ds[1].RRN, &hostTerms},
		{testTID, "000003", txn.Refund, "approved", 300, ds[2].RRN, &hostTerms},
		{testTID, "000004", txn.Sale, "reversed", 400, ds[3].RRN, &hostTerms},
		{testTID, "000005", txn.Sale, "voided", 500, ds[5].RRN, &hostTerms},
		{testTID, "000006", txn.Void, "approved", 500, ds[6].RRN, &hostTerms},
		{testTID, "000007", txn.Sale, "declined", 0, ds[7].RRN, nil},
		{testTID, "000008", txn.PreAuth, "approved", 800, ds[8].RRN, &hostTerms},
		{testTID, "000009", txn.Sale, "declined", 700, "", nil},
	}
	recs := h.Records()
	if len(recs) != len(wants) {
		t.Fatalf("%d records, want %d: %+v", len(recs), len(wants), recs)
	}
	for i, w := range wants {
		r := recs[i]
		if r.TID != w.tid || r.STAN != w.stan || r.Type != w.typ || r.State != w.state || r.Amount != w.amount {
			t.Errorf("record %d: %s STAN %s %s %s %d, want %s STAN %s %s %s %d",
				i, r.TID, r.STAN, r.Type, r.State, r.Amount, w.tid, w.stan, w.typ, w.state, w.amount)
		}
		if r.MID != testMID || r.Batch != "000001" {
			t.Errorf("record %d: MID %q batch %q", i, r.MID, r.Batch)
		}
		if r.Currency != "156" && i != len(wants)-1 { // the forced one: see below
			t.Errorf("record %d: currency %q, want 156", i, r.Currency)
		}
		if r.PAN != "622202*********0123" {
			t.Errorf("record %d: PAN %q, want it masked", i, r.PAN)
		}
		if w.rrn != "" && r.RRN != w.rrn {
			t.Errorf("record %d: RRN %q, want the decision's %q", i, r.RRN, w.rrn)
		}
		if w.terms != nil && !reflect.DeepEqual(r.Terms, *w.terms) {
			t.Errorf("record %d: terms %+v, want %+v", i, r.Terms, *w.terms)
		}
		if i > 0 && r.At.Before(recs[i-1].At) {
			t.Errorf("record %d at %v is before record %d at %v", i, r.At, i-1, recs[i-1].At)
		}
	}
	t.Run("a forced decline keeps its currency", func(t *testing.T) {
		if c := recs[len(recs)-1].Currency; c != "156" {
			t.Errorf("regression (books/host.go Force): a transaction a scenario declines is booked without "+
				"its currency (%q, want 156)", c)
		}
	})
	if !recs[1].At.Equal(now) {
		t.Errorf("record 1 at %v, want the host's time %v", recs[1].At, now)
	}
	raw, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), testPAN) {
		t.Errorf("the records' JSON holds the card number in clear: %s", raw)
	}
	// The records are a copy: changing them changes nothing in the host.
	recs[1].State = "changed"
	if again := h.Records(); again[1].State != "approved" {
		t.Errorf("a record's state changed through Records: %+v", again[1])
	}
}

// Each batch moves from open through reconciling (settlement answered) and
// uploaded (batch upload received) to closed.
func TestBatchStates(t *testing.T) {
	type check struct {
		step    step
		state   string
		outcome string
		claimed *txn.Totals
		up      int
	}
	claimed := func(tot txn.Totals) *txn.Totals { return &tot }
	tests := []struct {
		name   string
		cfg    books.Config
		checks []check
		next   string // the batch the terminal's next sale goes to
	}{
		{"cup balanced: closed by the end of batch", cupCfg, []check{
			{sale("000001", 1000).want("00"), "open", "", nil, 0},
			{settle("000002", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced), "reconciling", "balanced", claimed(debits(1, 1000)), 0},
			{uploadEnd("000003", 0).want("00"), "closed", "balanced", claimed(debits(1, 1000)), 0},
		}, "000002"},
		{"cup out of balance: uploaded, then closed", cupCfg, []check{
			{sale("000001", 1000).want("00"), "open", "", nil, 0},
			{settle("000002", debits(1, 999)).want("00").recon(txn.NotBalanced, txn.Balanced), "reconciling", "out of balance", claimed(debits(1, 999)), 0},
			{upload("000003", txn.UploadRecord{STAN: "000001", Amount: 1000}).want("00"), "uploaded", "out of balance", claimed(debits(1, 999)), 1},
			{upload("000004", txn.UploadRecord{STAN: "000005", Amount: 10}).want("00"), "uploaded", "out of balance", claimed(debits(1, 999)), 2},
			{uploadEnd("000005", 2).want("00"), "closed", "out of balance", claimed(debits(1, 999)), 2},
		}, "000002"},
		{"iso87 balanced: closed at once", iso87Cfg, []check{
			{sale("000001", 1000).want("00"), "open", "", nil, 0},
			{refund("000002", 300).want("00"), "open", "", nil, 0},
			{settle("000003", totals(1, 1000, 1, 300)).want("00"), "closed", "balanced", claimed(totals(1, 1000, 1, 300)), 0},
		}, "000002"},
		{"iso87 out of balance: 95, uploaded, closed", iso87Cfg, []check{
			{sale("000001", 1000).want("00"), "open", "", nil, 0},
			{settle("000002", debits(2, 2000)).want("95"), "reconciling", "out of balance", claimed(debits(2, 2000)), 0},
			{upload("000003", txn.UploadRecord{STAN: "000001", Amount: 1000}).want("00"), "uploaded", "out of balance", claimed(debits(2, 2000)), 1},
			{uploadEnd("000004", 1).want("00"), "closed", "out of balance", claimed(debits(2, 2000)), 1},
		}, "000002"},
		{"a batch nothing settled stays open", cupCfg, []check{
			{sale("000001", 1000).want("00"), "open", "", nil, 0},
			{sale("000002", 1000).want("00"), "open", "", nil, 0},
		}, "000001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t, tt.cfg)
			for i, c := range tt.checks {
				play(t, h, now.Add(time.Duration(i)*time.Minute), c.step)
				b := batchOf(t, h, testTID, "000001")
				if b.State != c.state || b.Outcome != c.outcome || b.Uploaded != c.up {
					t.Errorf("after step %d (%s): state %q outcome %q uploaded %d, want %q %q %d",
						i, c.step.req.Type, b.State, b.Outcome, b.Uploaded, c.state, c.outcome, c.up)
				}
				if !reflect.DeepEqual(b.Claimed, c.claimed) {
					t.Errorf("after step %d (%s): terminal totals %+v, want %+v", i, c.step.req.Type, b.Claimed, c.claimed)
				}
			}
			play(t, h, now.Add(time.Hour), sale("000099", 50).want("00"))
			recs := h.Records()
			if got := recs[len(recs)-1].Batch; got != tt.next {
				t.Errorf("the next sale went to batch %s, want %s", got, tt.next)
			}
			if tt.next != "000001" {
				if b := batchOf(t, h, testTID, tt.next); b.State != "open" || b.Outcome != "" || b.Claimed != nil {
					t.Errorf("the next batch: %+v, want open", b)
				}
			}
		})
	}
}

// A batch's host totals are what the host approved, less what was reversed
// or voided; cup counts a void as a credit.
func TestBatchHostTotals(t *testing.T) {
	steps := []step{
		sale("000001", 1000).want("00"),
		sale("000002", 2000).want("00"),
		voidByTrace("000003", 2000, "000002").want("00"),
		sale("000004", 400).want("00"),
		reversal("000004", 400).want("00"),
		refund("000005", 300).want("00"),
		sale("000006", 0).want("13"),
		preAuth("000007", 5000).want("00"),
	}
	for _, tt := range []struct {
		name string
		cfg  books.Config
		want txn.Totals
	}{
		{"iso87", iso87Cfg, totals(1, 1000, 1, 300)},
		{"cup", cupCfg, totals(2, 3000, 2, 2300)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t, tt.cfg)
			play(t, h, now, steps...)
			if b := batchOf(t, h, testTID, "000001"); b.Host != tt.want {
				t.Errorf("host totals %+v, want %+v", b.Host, tt.want)
			}
		})
	}
}

// Batches lists every batch by merchant, terminal and number, including one
// with nothing but declined transactions.
func TestBatchesOrder(t *testing.T) {
	h := newHost(t, cupCfg)
	play(t, h, now,
		sale("000001", 1000).on(otherTID).want("00"),
		sale("000002", 0).want("13"),
		settle("000003", txn.Totals{}).want("00"),
		uploadEnd("000004", 0).want("00"),
		sale("000005", 100).want("00"),
	)
	other := sale("000001", 100)
	other.req.MID = "898310048990000"
	play(t, h, now, other.want("00"))
	var got []string
	for _, b := range h.Batches() {
		got = append(got, b.MID+"/"+b.TID+"/"+b.Batch+":"+b.State)
	}
	want := []string{
		"898310048990000/" + testTID + "/000001:open",
		testMID + "/" + testTID + "/000001:closed",
		testMID + "/" + testTID + "/000002:open",
		testMID + "/" + otherTID + "/000001:open",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Batches:\n got %v\nwant %v", got, want)
	}
}

// An out-of-balance batch's upload is compared with the host's own record by
// STAN; a balanced one is not.
func TestBatchDifferences(t *testing.T) {
	t.Run("out of balance", func(t *testing.T) {
		h := newHost(t, iso87Cfg)
		play(t, h, now,
			sale("000001", 1000).want("00"),
			sale("000002", 2000).want("00"),
			sale("000003", 3000).want("00"),
			sale("000004", 400).want("00"),
			reversal("000004", 400).want("00"),
			sale("000005", 0).want("13"),
			settle("000006", debits(3, 6500)).want("95"),
		)
		if b := batchOf(t, h, testTID, "000001"); b.Differences != nil {
			t.Errorf("differences before any upload: %q", b.Differences)
		}
		play(t, h, now.Add(time.Hour),
			upload("000007",
				txn.UploadRecord{STAN: "000001", Amount: 1000},
				txn.UploadRecord{STAN: "000002", Amount: 2500},
			).want("00"),
			upload("000008",
				txn.UploadRecord{STAN: "000009", Amount: 700},
				txn.UploadRecord{STAN: "000004", Amount: 400},
			).want("00"),
		)
		want := []string{
			"STAN 000002: amount 2500 uploaded, 2000 approved",
			"STAN 000003: approved by the host, not uploaded",
			"STAN 000004: uploaded, not in the host's record", // reversed
			"STAN 000009: uploaded, not in the host's record",
		}
		b := batchOf(t, h, testTID, "000001")
		if b.State != "uploaded" || !reflect.DeepEqual(b.Differences, want) {
			t.Errorf("uploaded: state %q differences\n%q\nwant\n%q", b.State, b.Differences, want)
		}
		play(t, h, now.Add(2*time.Hour), uploadEnd("000009", 4).want("00"))
		b = batchOf(t, h, testTID, "000001")
		if b.State != "closed" || !reflect.DeepEqual(b.Differences, want) {
			t.Errorf("closed: state %q differences\n%q\nwant\n%q", b.State, b.Differences, want)
		}
	})
	t.Run("none when the upload agrees", func(t *testing.T) {
		h := newHost(t, iso87Cfg)
		play(t, h, now,
			sale("000001", 1000).want("00"),
			settle("000002", debits(1, 999)).want("95"),
			upload("000003", txn.UploadRecord{STAN: "000001", Amount: 1000}).want("00"),
			uploadEnd("000004", 1).want("00"),
		)
		if b := batchOf(t, h, testTID, "000001"); b.Outcome != "out of balance" || b.Differences != nil {
			t.Errorf("outcome %q, differences %q; want out of balance and none", b.Outcome, b.Differences)
		}
	})
	// iso87: a voided sale and its void count nothing; the terminal may
	// upload them or leave them out, and neither is a difference.
	for _, withVoids := range []bool{true, false} {
		t.Run(fmt.Sprintf("voids uploaded %v", withVoids), func(t *testing.T) {
			h := newHost(t, iso87Cfg)
			play(t, h, now,
				sale("000001", 1000).want("00"),
				sale("000002", 2000).want("00"),
				voidByRRN("000003", 2000).naming(1).want("00"),
				settle("000004", debits(1, 999)).want("95"),
			)
			recs := []txn.UploadRecord{{STAN: "000001", Amount: 1000}}
			if withVoids {
				recs = append(recs, txn.UploadRecord{STAN: "000002", Amount: 2000}, txn.UploadRecord{STAN: "000003", Amount: 2000})
			}
			play(t, h, now.Add(time.Hour), upload("000005", recs...).want("00"))
			if b := batchOf(t, h, testTID, "000001"); b.Differences != nil {
				t.Errorf("differences %q, want none", b.Differences)
			}
		})
	}
	t.Run("none when the batch balanced", func(t *testing.T) {
		h := newHost(t, cupCfg)
		play(t, h, now,
			sale("000001", 1000).want("00"),
			sale("000002", 2000).want("00"),
			settle("000003", debits(2, 3000)).want("00"),
			upload("000004", txn.UploadRecord{STAN: "000001", Amount: 1}, txn.UploadRecord{STAN: "000077", Amount: 5}).want("00"),
			uploadEnd("000005", 2).want("00"),
		)
		b := batchOf(t, h, testTID, "000001")
		if b.Outcome != "balanced" || b.Uploaded != 2 || b.Differences != nil {
			t.Errorf("outcome %q uploaded %d differences %q; want balanced, 2, none", b.Outcome, b.Uploaded, b.Differences)
		}
	})
	// The upload is compared with what the host's own totals count, so
	// what they leave out is not expected in it.
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"an approved pre-authorisation", []step{
			preAuth("000001", 5000).want("00"),
			sale("000002", 1000).want("00"),
			settle("000003", debits(1, 900)).want("95"),
			upload("000004", txn.UploadRecord{STAN: "000002", Amount: 1000}).want("00"),
		}},
		{"an iso87 voided sale and its void", []step{
			sale("000001", 5000).want("00"),
			voidByRRN("000002", 5000).naming(0).want("00"),
			sale("000003", 1000).want("00"),
			settle("000004", debits(1, 900)).want("95"),
			upload("000005", txn.UploadRecord{STAN: "000003", Amount: 1000}).want("00"),
		}},
	} {
		t.Run("not expected: "+tt.name, func(t *testing.T) {
			h := newHost(t, iso87Cfg)
			play(t, h, now, tt.steps...)
			if b := batchOf(t, h, testTID, "000001"); b.Differences != nil {
				t.Errorf("regression (books/books.go differences): records the host's own totals leave out are "+
					"reported as not uploaded: %q", b.Differences)
			}
		})
	}
}

// DOMAIN 5: a sale settled T+0 cannot be voided or reversed (12); it is
// refunded instead. Its approval carries the T+0 settlement date.
func TestT0OriginalCannotBeUndone(t *testing.T) {
	t0 := txn.Terms{Mode: "T0", Settlement: day(2026, 6, 11, time.UTC), FundsAt: now, CardType: "debit"}
	t1 := txn.Terms{Mode: "T1", Settlement: day(2026, 6, 12, time.UTC), FundsAt: day(2026, 6, 12, time.UTC).Add(9 * time.Hour)}
	t.Run("iso87", func(t *testing.T) {
		h := newHost(t, iso87Cfg)
		ds := play(t, h, now,
			sale("000001", 1000).settling(t0).want("00"),
			voidByRRN("000002", 1000).naming(0).want("12").noting("T+0"),
			reversal("000001", 1000).want("12").noting("T+0"),
			reversal("000001", 999).want("25"), // the amount is checked first
			voidByRRN("000003", 1000).naming(0).want("12"),
			refund("000004", 1000).settling(t0).want("00"),
			sale("000005", 1000).settling(t1).want("00"),
			voidByRRN("000006", 1000).naming(6).want("00"),
			sale("000007", 1000).settling(t1).want("00"),
			reversal("000007", 1000).want("00"),
		)
		if !ds[0].Settlement.Equal(t0.Settlement) {
			t.Errorf("T0 sale settles %v, want %v", ds[0].Settlement, t0.Settlement)
		}
		states := map[string]string{}
		for _, r := range h.Records() {
			states[r.STAN] = r.State + " " + r.Terms.Mode
		}
		// The refused voids are booked as declined (with the RRN they were
		// answered with), without terms: they settle nothing.
		want := map[string]string{
			"000001": "approved T0", "000002": "declined ", "000003": "declined ", "000004": "approved T0",
			"000005": "voided T1", "000006": "approved T1", "000007": "reversed T1",
		}
		if !reflect.DeepEqual(states, want) {
			t.Errorf("records %v, want %v", states, want)
		}
	})
	t.Run("cup", func(t *testing.T) {
		run(t, cupCfg, []step{
			sale("000001", 1000).settling(t0).want("00"),
			voidByTrace("000002", 1000, "000001").want("12").noting("T+0"),
			reversal("000001", 1000).want("12"),
			settle("000003", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		})
	})
}

// A settlement a scenario declines (issuer down, merchant suspended) leaves
// the batch open and the terminal's claims unrecorded.
func TestBatchForcedSettlementLeavesBatchOpen(t *testing.T) {
	h := newHost(t, cupCfg)
	play(t, h, now, sale("000001", 1000).want("00"))
	for i, rc := range []string{"91", "03", "96"} {
		r := settle("00000"+string(rune('2'+i)), debits(1, 1000)).req
		if d := h.Force(&r, now.Add(time.Minute), rc, false); d.RC != rc {
			t.Errorf("Force %s: RC %q", rc, d.RC)
		}
		b := batchOf(t, h, testTID, "000001")
		if b.State != "open" || b.Outcome != "" || b.Claimed != nil {
			t.Errorf("after a settlement answered %s: %+v, want the batch open", rc, b)
		}
	}
	if n := len(h.Records()); n != 1 {
		t.Errorf("%d records, want the sale alone: a declined settlement is not a transaction", n)
	}
}

// A settlement that names a batch already closed (iso87 F60) does not move it
// back: the host still treats the batch as closed (a void of it gets 12).
func TestSettlementOfClosedBatch(t *testing.T) {
	h := newHost(t, iso87Cfg)
	again := settle("000003", debits(1, 5))
	again.req.Batch = "000001"
	play(t, h, now,
		sale("000001", 1000).want("00"),
		settle("000002", debits(1, 1000)).want("00"),
		again.want("95"),
		voidByTrace("000004", 1000, "000001").want("12").noting("settled"),
	)
	if b := batchOf(t, h, testTID, "000001"); b.State != "closed" || b.Outcome != "balanced" || *b.Claimed != debits(1, 1000) {
		t.Errorf("regression (books/host.go settle): a settlement naming a closed batch reopens its state: "+
			"state %q outcome %q terminal totals %+v, want closed, balanced, the first settlement's", b.State, b.Outcome, *b.Claimed)
	}
}
