package books_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/txn"
)

const (
	testMID  = "898310048990001"
	testTID  = "10000001"
	otherTID = "10000002"
	testPAN  = "6222021234567890123"
)

// now is a Thursday morning, well away from the cut-over.
var now = time.Date(2026, 6, 11, 10, 30, 0, 0, time.UTC)

var testCalendar = books.Calendar{CutOver: books.DefaultCutOver, Location: time.UTC}

// The two settlement styles the host is configured for.
var (
	iso87Cfg = books.Config{Calendar: testCalendar, Seed: 1, BalancedCloses: true}
	cupCfg   = books.Config{Calendar: testCalendar, Seed: 1, VoidsAsCredits: true}
)

func newHost(t *testing.T, cfg books.Config) *books.Host {
	t.Helper()
	h, err := books.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

// fingerprint is what host/dialect makes of a request's content.
func fingerprint(r *txn.Request) string {
	return r.PAN + "|" + r.Proc + "|" + strconv.FormatInt(r.Amount, 10) + "|" + r.RRN + "|" + r.Orig.STAN
}

// step is one request in a scenario and what the host must answer.
type step struct {
	req      txn.Request
	rrnOf    int // 1 + the index of the earlier step whose RRN the request names; 0: none
	authOf   int // 1 + the index of the earlier step whose auth code the request names (F38); 0: none
	sameAs   int // 1 + the index of the earlier step whose decision this one repeats; 0: none
	rc       string
	note     string // a substring of the decision's note; "": not checked
	domestic txn.Reconciliation
	foreign  txn.Reconciliation
}

func (s step) want(rc string) step       { s.rc = rc; return s }
func (s step) noting(note string) step   { s.note = note; return s }
func (s step) naming(i int) step         { s.rrnOf = i + 1; return s }
func (s step) repeating(i int) step      { s.sameAs = i + 1; return s }
func (s step) authorisedBy(i int) step   { s.authOf = i + 1; return s }
func (s step) on(tid string) step        { s.req.TID = tid; return s }
func (s step) withRRN(rrn string) step   { s.req.RRN = rrn; return s }
func (s step) withMTI(mti string) step   { s.req.MTI = mti; return s }
func (s step) inBatch(batch string) step { s.req.Orig.Batch = batch; return s }
func (s step) recon(domestic, foreign txn.Reconciliation) step {
	s.domestic, s.foreign = domestic, foreign
	return s
}

func request(typ txn.Type, mti, proc, stan string, amount int64) step {
	return step{req: txn.Request{
		Type: typ, MTI: mti, Proc: proc, STAN: stan, Amount: amount,
		TID: testTID, MID: testMID, PAN: testPAN, Currency: "156",
	}}
}

func sale(stan string, amount int64) step {
	return request(txn.Sale, "0200", "000000", stan, amount)
}

func refund(stan string, amount int64) step {
	return request(txn.Refund, "0220", "200000", stan, amount)
}

// completion names its pre-authorisation with naming (F37), authorisedBy
// (F38) or of (cup F61), or not at all.
func completion(stan string, amount int64) step {
	return request(txn.Completion, "0200", "000000", stan, amount)
}

// completionOf completes the pre-authorisation with trace orig (cup F61).
func completionOf(stan string, amount int64, orig string) step {
	s := completion(stan, amount)
	s.req.Orig = txn.Original{Batch: "000001", STAN: orig, Date: "0611"}
	return s
}

func advice(stan string, amount int64) step {
	return request(txn.Advice, "0220", "000000", stan, amount)
}

func preAuth(stan string, amount int64) step {
	return request(txn.PreAuth, "0100", "030000", stan, amount)
}

// preAuthVoid cancels a pre-authorisation found by its trace (cup F61).
func preAuthVoid(stan string, amount int64, orig string) step {
	s := request(txn.PreAuthVoid, "0100", "200000", stan, amount)
	s.req.Orig = txn.Original{Batch: "000001", STAN: orig, Date: "0611"}
	return s
}

// reversal carries its original's STAN and amount.
func reversal(stan string, amount int64) step {
	s := request(txn.Reversal, "0400", "000000", stan, amount)
	s.req.ReversalReason = "98"
	return s
}

// voidByTrace is a cup void: the original is named by batch and trace in F61.
func voidByTrace(stan string, amount int64, orig string) step {
	s := request(txn.Void, "0200", "200000", stan, amount)
	s.req.Orig = txn.Original{Batch: "000001", STAN: orig, Date: "0611"}
	return s
}

// voidByRRN is an iso87 void: the original is named by its RRN in F37, set
// with naming or withRRN.
func voidByRRN(stan string, amount int64) step {
	return request(txn.Void, "0200", "020000", stan, amount)
}

func settle(stan string, tot txn.Totals) step {
	return step{req: txn.Request{
		Type: txn.Settlement, MTI: "0500", Proc: "920000", STAN: stan,
		TID: testTID, MID: testMID, Totals: tot,
	}}
}

func upload(stan string, recs ...txn.UploadRecord) step {
	return step{req: txn.Request{
		Type: txn.Upload, MTI: "0320", STAN: stan, NetCode: "201",
		TID: testTID, MID: testMID, Uploads: recs,
	}}
}

func uploadEnd(stan string, count int) step {
	return step{req: txn.Request{
		Type: txn.UploadEnd, MTI: "0320", STAN: stan, NetCode: "202",
		TID: testTID, MID: testMID, UploadCount: count,
	}}
}

func debits(n int, amount int64) txn.Totals { return txn.Totals{DebitCount: n, DebitAmount: amount} }

func totals(dn int, da int64, cn int, ca int64) txn.Totals {
	return txn.Totals{DebitCount: dn, DebitAmount: da, CreditCount: cn, CreditAmount: ca}
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// financial types are the ones an approval gives an RRN and an auth code to.
var financial = map[txn.Type]bool{
	txn.Sale: true, txn.Void: true, txn.Refund: true, txn.Balance: true, txn.PreAuth: true,
	txn.PreAuthVoid: true, txn.Completion: true, txn.Advice: true,
}

// run plays steps against a new host, checks each decision and returns them.
func run(t *testing.T, cfg books.Config, steps []step) []txn.Decision {
	t.Helper()
	h := newHost(t, cfg)
	var ds []txn.Decision
	for i, s := range steps {
		r := s.req
		if s.rrnOf > 0 {
			r.RRN = ds[s.rrnOf-1].RRN
			if r.RRN == "" {
				t.Fatalf("step %d names the RRN of step %d, which has none", i, s.rrnOf-1)
			}
		}
		if s.authOf > 0 {
			r.AuthCode = ds[s.authOf-1].AuthCode
			if r.AuthCode == "" {
				t.Fatalf("step %d names the auth code of step %d, which has none", i, s.authOf-1)
			}
		}
		r.Fingerprint = fingerprint(&r)
		d := h.Decide(&r, now)
		ds = append(ds, d)
		where := fmt.Sprintf("step %d (%s %s STAN %s)", i, r.MTI, r.Type, r.STAN)
		if d.RC != s.rc {
			t.Errorf("%s: RC %q (%s), want %q", where, d.RC, d.Note, s.rc)
			continue
		}
		if s.note != "" && !strings.Contains(d.Note, s.note) {
			t.Errorf("%s: note %q, want it to say %q", where, d.Note, s.note)
		}
		if s.domestic != 0 && d.Domestic != s.domestic {
			t.Errorf("%s: domestic reconciliation %q, want %q", where, d.Domestic, s.domestic)
		}
		if s.foreign != 0 && d.Foreign != s.foreign {
			t.Errorf("%s: foreign reconciliation %q, want %q", where, d.Foreign, s.foreign)
		}
		if d.RC == txn.Approved && financial[r.Type] {
			if !isDigits(d.RRN, 12) {
				t.Errorf("%s: RRN %q, want 12 digits", where, d.RRN)
			}
			if !isDigits(d.AuthCode, 6) {
				t.Errorf("%s: auth code %q, want 6 digits", where, d.AuthCode)
			}
		}
		if s.sameAs > 0 {
			first := ds[s.sameAs-1]
			if d.RC != first.RC || d.RRN != first.RRN || d.AuthCode != first.AuthCode || !d.Settlement.Equal(first.Settlement) {
				t.Errorf("%s: decision RC %q RRN %q auth %q settles %v, want step %d's again: RC %q RRN %q auth %q settles %v",
					where, d.RC, d.RRN, d.AuthCode, d.Settlement, s.sameAs-1, first.RC, first.RRN, first.AuthCode, first.Settlement)
			}
		}
	}
	return ds
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name  string
		cfg   books.Config
		steps []step
	}{
		// Reversals.
		{"reversal of a transaction never seen is approved", iso87Cfg, []step{
			reversal("000001", 1000).want("00").noting("not found"),
		}},
		{"reversal with a different amount is refused and leaves the original", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			reversal("000001", 999).want("25"),
			settle("000002", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"reversal resent is approved again", cupCfg, []step{
			sale("000001", 1000).want("00"),
			reversal("000001", 1000).want("00").noting("reversed"),
			reversal("000001", 1000).withMTI("0401").want("00").noting("already reversed"),
		}},
		{"approved reversal takes the original out of the totals", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			sale("000002", 2500).want("00"),
			reversal("000002", 2500).want("00"),
			settle("000003", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"totals that still count a reversed sale are out of balance", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			sale("000002", 2500).want("00"),
			reversal("000002", 2500).want("00"),
			settle("000003", debits(2, 3500)).want("95").recon(txn.NotBalanced, txn.Balanced),
		}},
		{"reversal on another terminal does not match", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			reversal("000001", 1000).on(otherTID).want("00").noting("not found"),
			settle("000002", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"reversed refund leaves the credits", cupCfg, []step{
			sale("000001", 1000).want("00"),
			refund("000002", 400).want("00"),
			reversal("000002", 400).want("00"),
			settle("000003", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"reversal of a void restores the sale", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			voidByRRN("000002", 1000).naming(0).want("00"),
			reversal("000002", 1000).want("00"),
			settle("000003", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},

		// Voids.
		{"void of an RRN never issued", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			voidByRRN("000002", 1000).withRRN("999999999999").want("25"),
		}},
		{"void of a trace never seen", cupCfg, []step{
			sale("000001", 1000).want("00"),
			voidByTrace("000002", 1000, "000099").want("25"),
		}},
		{"void naming the trace in another batch", cupCfg, []step{
			sale("000001", 1000).want("00"),
			voidByTrace("000002", 1000, "000001").inBatch("000007").want("25"),
		}},
		{"void of another terminal's sale", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			voidByRRN("000001", 1000).naming(0).on(otherTID).want("25"),
		}},
		{"void with a different amount, then the right one", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			voidByRRN("000002", 100).naming(0).want("64"),
			voidByRRN("000003", 1000).naming(0).want("00"),
		}},
		{"void of a voided sale", cupCfg, []step{
			sale("000001", 1000).want("00"),
			voidByTrace("000002", 1000, "000001").want("00"),
			voidByTrace("000003", 1000, "000001").want("12"),
		}},
		{"void of a reversed sale", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			reversal("000001", 1000).want("00"),
			voidByRRN("000002", 1000).naming(0).want("12"),
		}},
		{"void by original trace (cup)", cupCfg, []step{
			sale("000001", 1000).want("00"),
			voidByTrace("000002", 1000, "000001").want("00").noting("000001"),
		}},
		{"void by original RRN (iso87)", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			sale("000002", 700).want("00"),
			voidByRRN("000003", 1000).naming(0).want("00").noting("000001"),
			settle("000004", debits(1, 700)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"void of a completion", cupCfg, []step{
			preAuth("000001", 5000).want("00"),
			completionOf("000002", 1000, "000001").want("00"),
			voidByTrace("000003", 1000, "000002").want("00"),
		}},
		{"void of a refund is invalid", iso87Cfg, []step{
			refund("000001", 1000).want("00"),
			voidByRRN("000002", 1000).naming(0).want("12"),
		}},
		{"pre-authorisation void", cupCfg, []step{
			preAuth("000001", 5000).want("00"),
			sale("000002", 1000).want("00"),
			preAuthVoid("000003", 5000, "000002").want("12"), // not a pre-authorisation
			voidByTrace("000004", 5000, "000001").want("12"), // a sale void cannot cancel one
			preAuthVoid("000005", 5000, "000001").want("00"),
			preAuthVoid("000006", 5000, "000001").want("12"),
		}},

		// Duplicates.
		{"identical retransmission gets the first answer, once in the totals", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			sale("000001", 1000).want("00").repeating(0).noting("duplicate"),
			settle("000002", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"a repeat advice (0221) is a retransmission of 0220", cupCfg, []step{
			advice("000001", 1000).want("00"),
			advice("000001", 1000).withMTI("0221").want("00").repeating(0),
		}},
		{"a resent void is answered as the first, not refused as a second void", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			voidByRRN("000002", 1000).naming(0).want("00"),
			voidByRRN("000002", 1000).naming(0).want("00").repeating(1),
		}},
		{"a resent decline is declined again", iso87Cfg, []step{
			sale("000001", 0).want("13"),
			sale("000001", 0).want("13").repeating(0),
		}},
		{"same STAN, different content", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			sale("000001", 2000).want("94"),
			settle("000002", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"same STAN, different card", cupCfg, []step{
			sale("000001", 1000).want("00"),
			func() step { s := sale("000001", 1000); s.req.PAN = "6222029999999999999"; return s }().want("94"),
		}},
		{"same STAN on another terminal is not a duplicate", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			sale("000001", 2000).on(otherTID).want("00"),
		}},
		{"same STAN in the next batch is not a duplicate", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			settle("000002", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
			sale("000001", 2000).want("00"),
		}},

		// Requests refused outright.
		{"sale of nothing", iso87Cfg, []step{
			sale("000001", 0).want("13"),
			sale("000002", -100).want("13"),
			settle("000003", debits(0, 0)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"unknown request", cupCfg, []step{
			request(txn.Unknown, "0600", "000000", "000001", 0).want("40"),
		}},
		{"echo and sign-off", cupCfg, []step{
			request(txn.Echo, "0820", "", "000001", 0).want("00"),
			request(txn.SignOff, "0820", "", "000002", 0).want("00"),
		}},

		// Settlement.
		{"balanced settlement closes the batch (iso87), and its sale can no longer be voided", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			settle("000002", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced).noting("closed"),
			voidByRRN("000003", 1000).naming(0).want("12"),
			// Reversals look in open batches only: a settled STAN is not the original.
			reversal("000001", 1000).want("00").noting("original not found"),
			settle("000004", debits(0, 0)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"a resent settlement gets its first answer, not a comparison with the next batch (iso87)", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			settle("000002", debits(1, 1000)).want("00").noting("closed"),
			settle("000002", debits(1, 1000)).want("00").noting("duplicate"),
			settle("000003", debits(1, 1000)).want("95"),
		}},
		{"balanced settlement leaves the batch open for its upload (cup)", cupCfg, []step{
			sale("000001", 1000).want("00"),
			settle("000002", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
			voidByTrace("000003", 1000, "000001").want("00"),
		}},
		{"settlement out of balance (iso87): 95, the batch stays open", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			settle("000002", debits(2, 2000)).want("95").recon(txn.NotBalanced, txn.Balanced),
			voidByRRN("000003", 1000).naming(0).want("00"),
		}},
		{"settlement out of balance (cup): 00, said in the reconciliation code", cupCfg, []step{
			sale("000001", 1000).want("00"),
			settle("000002", debits(1, 1001)).want("00").recon(txn.NotBalanced, txn.Balanced),
		}},
		{"settlement with a credit count that differs", cupCfg, []step{
			sale("000001", 1000).want("00"),
			settle("000002", totals(1, 1000, 1, 0)).want("00").recon(txn.NotBalanced, txn.Balanced),
		}},
		{"voids as credits: the voided sale stays a debit, the void is a credit", cupCfg, []step{
			sale("000001", 1000).want("00"),
			sale("000002", 500).want("00"),
			voidByTrace("000003", 1000, "000001").want("00"),
			settle("000004", totals(2, 1500, 1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"voids as credits: dropping the voided sale is out of balance", cupCfg, []step{
			sale("000001", 1000).want("00"),
			sale("000002", 500).want("00"),
			voidByTrace("000003", 1000, "000001").want("00"),
			settle("000004", debits(1, 500)).want("00").recon(txn.NotBalanced, txn.Balanced),
		}},
		{"voided sale drops out (iso87)", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			sale("000002", 500).want("00"),
			voidByRRN("000003", 1000).naming(0).want("00"),
			settle("000004", debits(1, 500)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"voided sale drops out (iso87): counting the void as a credit is out of balance", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			sale("000002", 500).want("00"),
			voidByRRN("000003", 1000).naming(0).want("00"),
			settle("000004", totals(2, 1500, 1, 1000)).want("95"),
		}},
		{"debits are sales and completions, credits refunds; pre-authorisations and inquiries neither", cupCfg, []step{
			sale("000001", 1000).want("00"),
			preAuth("000002", 9000).want("00"),
			completionOf("000003", 2000, "000002").want("00"),
			advice("000004", 300).want("00"),
			refund("000005", 400).want("00"),
			request(txn.Balance, "0200", "310000", "000006", 0).want("00"),
			settle("000007", totals(3, 3300, 1, 400)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"foreign totals the host never booked", cupCfg, []step{
			sale("000001", 1000).want("00"),
			settle("000002", txn.Totals{DebitCount: 1, DebitAmount: 1000, ForeignDebitCount: 1, ForeignDebitAmount: 500}).
				want("00").recon(txn.Balanced, txn.NotBalanced),
		}},
		{"foreign credits the host never booked", cupCfg, []step{
			settle("000001", txn.Totals{ForeignCreditCount: 1}).want("00").recon(txn.Balanced, txn.NotBalanced),
		}},
		{"foreign totals out of balance (iso87) do not close the batch", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			settle("000002", txn.Totals{DebitCount: 1, DebitAmount: 1000, ForeignDebitAmount: 1}).
				want("95").recon(txn.Balanced, txn.NotBalanced),
			voidByRRN("000003", 1000).naming(0).want("00"),
		}},
		{"upload then upload end closes the batch (cup)", cupCfg, []step{
			sale("000001", 1000).want("00"),
			settle("000002", debits(2, 2000)).want("00").recon(txn.NotBalanced, txn.Balanced),
			upload("000003", txn.UploadRecord{MTI: "0200", Proc: "000000", STAN: "000001", Amount: 1000}).want("00"),
			uploadEnd("000004", 1).want("00").noting("closed"),
			voidByTrace("000005", 1000, "000001").want("12"),
			settle("000006", debits(0, 0)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"upload then upload end closes the batch (iso87)", iso87Cfg, []step{
			sale("000001", 1000).want("00"),
			settle("000002", debits(1, 999)).want("95"),
			upload("000003", txn.UploadRecord{MTI: "0200", Proc: "000000", STAN: "000001", Amount: 1000}).want("00"),
			func() step { s := uploadEnd("000004", 0); s.req.MTI, s.req.Proc = "0500", "960000"; return s }().want("00").noting("closed"),
			voidByRRN("000005", 1000).naming(0).want("12"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, tt.cfg, tt.steps)
		})
	}
}

// Every approval carries the settlement date the calendar gives for the
// host's time at the request.
func TestDecideSettlementDate(t *testing.T) {
	shanghai := mustLoad(t, "Asia/Shanghai")
	cals := []struct {
		name string
		cal  books.Calendar
	}{
		{"UTC", testCalendar},
		{"Shanghai", books.Calendar{CutOver: books.DefaultCutOver, Location: shanghai}},
	}
	times := []time.Time{
		time.Date(2026, 6, 11, 10, 30, 0, 0, time.UTC), // Thursday
		time.Date(2026, 6, 11, 15, 30, 0, 0, time.UTC), // Thursday, after the cut-over in Shanghai
		time.Date(2026, 6, 11, 23, 30, 0, 0, time.UTC), // Thursday, after the cut-over in UTC
		time.Date(2026, 6, 12, 22, 0, 0, 0, time.UTC),  // Friday
		time.Date(2026, 6, 13, 12, 0, 0, 0, time.UTC),  // Saturday
	}
	for _, c := range cals {
		for _, at := range times {
			t.Run(c.name+"/"+at.Format(time.RFC3339), func(t *testing.T) {
				cfg := iso87Cfg
				cfg.Calendar = c.cal
				h := newHost(t, cfg)
				want := c.cal.SettlementDate(at)
				if want.IsZero() {
					t.Fatal("the calendar gives no settlement date")
				}
				s := sale("000001", 1000).req
				s.Fingerprint = fingerprint(&s)
				d := h.Decide(&s, at)
				if d.RC != txn.Approved || !d.Settlement.Equal(want) {
					t.Fatalf("sale: RC %q, settlement %v; want 00 settling %v", d.RC, d.Settlement, want)
				}
				v := voidByRRN("000002", 1000).req
				v.RRN = d.RRN
				v.Fingerprint = fingerprint(&v)
				if d := h.Decide(&v, at); d.RC != txn.Approved || !d.Settlement.Equal(want) {
					t.Errorf("void: RC %q, settlement %v; want 00 settling %v", d.RC, d.Settlement, want)
				}
			})
		}
	}
}

// RRNs are 12 digits and never repeat within a host's run, across terminals
// and across resets.
func TestDecideRRNsUnique(t *testing.T) {
	h := newHost(t, cupCfg)
	seen := map[string]string{}
	for round := 0; round < 3; round++ {
		for _, tid := range []string{testTID, otherTID} {
			for i := 1; i <= 40; i++ {
				s := sale(fmt.Sprintf("%06d", i), int64(i*100)).on(tid).req
				s.Fingerprint = fingerprint(&s)
				d := h.Decide(&s, now)
				where := fmt.Sprintf("round %d terminal %s STAN %s", round, tid, s.STAN)
				if d.RC != txn.Approved {
					t.Fatalf("%s: RC %q (%s)", where, d.RC, d.Note)
				}
				if !isDigits(d.RRN, 12) {
					t.Errorf("%s: RRN %q, want 12 digits", where, d.RRN)
				}
				if prev, ok := seen[d.RRN]; ok {
					t.Errorf("%s: RRN %s already given to %s", where, d.RRN, prev)
				}
				seen[d.RRN] = where
			}
		}
		h.Reset()
	}
}

func TestDecideBalance(t *testing.T) {
	tests := []struct {
		configured, want int64
	}{
		{0, books.DefaultBalance},
		{123456, 123456},
	}
	for _, tt := range tests {
		cfg := cupCfg
		cfg.Balance = tt.configured
		h := newHost(t, cfg)
		r := request(txn.Balance, "0200", "310000", "000001", 0).req
		d := h.Decide(&r, now)
		if d.RC != txn.Approved || d.Balance != tt.want {
			t.Errorf("Balance %d configured: RC %q balance %d, want 00 and %d", tt.configured, d.RC, d.Balance, tt.want)
		}
	}
}

func TestReset(t *testing.T) {
	h := newHost(t, iso87Cfg)
	decide := func(s step) txn.Decision {
		r := s.req
		r.Fingerprint = fingerprint(&r)
		return h.Decide(&r, now)
	}
	so := signOn("001")
	so.Batch = "000123"
	if d := h.Decide(so, now); d.Batch != "000123" {
		t.Fatalf("sign-on with batch 000123 gave batch %q", d.Batch)
	}
	first := decide(sale("000001", 1000))
	if first.RC != txn.Approved {
		t.Fatalf("sale: RC %q", first.RC)
	}
	if d := decide(sale("000002", 500)); d.RC != txn.Approved {
		t.Fatalf("sale: RC %q", d.RC)
	}

	h.Reset()

	if d := h.Decide(signOn("001"), now); d.Batch != "000001" {
		t.Errorf("after Reset a sign-on without a batch gave batch %q, want the first one, 000001", d.Batch)
	}
	if d := decide(reversal("000002", 500)); d.RC != txn.Approved || !strings.Contains(d.Note, "not found") {
		t.Errorf("after Reset a reversal of a forgotten sale: RC %q note %q, want 00, original not found", d.RC, d.Note)
	}
	if d := decide(voidByRRN("000003", 1000).withRRN(first.RRN)); d.RC != txn.OriginalNotFound {
		t.Errorf("after Reset a void of a forgotten sale: RC %q (%s), want 25", d.RC, d.Note)
	}
	again := decide(sale("000001", 1000))
	if again.RC != txn.Approved || again.RRN == first.RRN || strings.Contains(again.Note, "duplicate") {
		t.Errorf("after Reset the same sale again: RC %q RRN %q note %q; want a new approval, not the cached one (RRN %s)",
			again.RC, again.RRN, again.Note, first.RRN)
	}
	if d := decide(settle("000004", debits(1, 1000))); d.RC != txn.Approved || d.Domestic != txn.Balanced {
		t.Errorf("after Reset settlement of the one new sale: RC %q domestic %q (%s), want 00 balanced", d.RC, d.Domestic, d.Note)
	}
}

// Terminals are decided concurrently; run with -race.
func TestDecideConcurrentTerminals(t *testing.T) {
	h := newHost(t, iso87Cfg)
	const terminals, sales = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, terminals)
	rrns := make(chan string, terminals*sales)
	for n := 0; n < terminals; n++ {
		tid := fmt.Sprintf("T%07d", n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sum int64
			for i := 1; i <= sales; i++ {
				s := sale(fmt.Sprintf("%06d", i), int64(i)).on(tid).req
				s.Fingerprint = fingerprint(&s)
				d := h.Decide(&s, now)
				if d.RC != txn.Approved {
					errs <- fmt.Errorf("terminal %s STAN %s: RC %q", tid, s.STAN, d.RC)
					return
				}
				rrns <- d.RRN
				sum += s.Amount
			}
			st := settle("000999", debits(sales, sum)).on(tid).req
			if d := h.Decide(&st, now); d.RC != txn.Approved {
				errs <- fmt.Errorf("terminal %s settlement: RC %q (%s)", tid, d.RC, d.Note)
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(rrns)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for rrn := range rrns {
		if seen[rrn] {
			t.Errorf("RRN %s given twice", rrn)
		}
		seen[rrn] = true
	}
	if len(seen) != terminals*sales {
		t.Errorf("%d distinct RRNs, want %d", len(seen), terminals*sales)
	}
}

// DOMAIN 5: a void whose original failed is invalid (12), not unknown (25):
// the original did reach the host.
func TestVoidOfFailedOriginal(t *testing.T) {
	run(t, cupCfg, []step{
		sale("000001", 0).want("13"),
		voidByTrace("000002", 0, "000001").want("12"),
	})
}
