package books_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/txn"
)

// completionAdvice is a completion sent as an advice (0220), named like an
// online one.
func completionAdvice(stan string, amount int64) step {
	return request(txn.Completion, "0220", "000000", stan, amount)
}

// withCard gives the request another card.
func (s step) withCard(pan string) step { s.req.PAN = pan; return s }

// tolerant is cfg with completions allowed pct percent above their
// pre-authorisation.
func tolerant(cfg books.Config, pct int) books.Config {
	cfg.CompletionTolerancePercent = pct
	return cfg
}

// A completion is matched to its pre-authorisation, by trace (cup F61), RRN
// (F37) or auth code (F38): once, for no more than it reserved (plus the
// configured tolerance), never one voided, reversed, declined or unknown.
func TestCompletion(t *testing.T) {
	tests := []struct {
		name  string
		cfg   books.Config
		steps []step
	}{
		// Matching.
		{"by trace (cup), once", cupCfg, []step{
			preAuth("000001", 1000).want("00"),
			completionOf("000002", 1000, "000001").want("00").noting("pre-authorisation STAN 000001"),
			completionOf("000003", 1000, "000001").want("12").noting("already completed"),
			completionOf("000004", 1, "000001").want("12"),
			settle("000005", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"by auth code (iso87), once", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			completion("000002", 1000).authorisedBy(0).want("00").noting("000001"),
			completion("000003", 500).authorisedBy(0).want("12"),
			settle("000004", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"by RRN", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			completion("000002", 1000).naming(0).want("00"),
			completion("000003", 1000).naming(0).want("12"),
		}},
		{"trace and auth code both given (cup, as terminals send them)", cupCfg, []step{
			preAuth("000001", 1000).want("00"),
			completionOf("000002", 1000, "000001").authorisedBy(0).want("00"),
		}},
		{"each of two pre-authorisations completes once", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			preAuth("000002", 2000).want("00"),
			completion("000003", 2000).authorisedBy(1).want("00").noting("000002"),
			completion("000004", 1000).authorisedBy(0).want("00").noting("000001"),
			completion("000005", 1000).authorisedBy(0).want("12"),
			settle("000006", debits(2, 3000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"advice (0220), and its repeat (0221) is the same advice", cupCfg, []step{
			preAuth("000001", 1000).want("00"),
			completionAdvice("000002", 900).authorisedBy(0).want("00"),
			completionAdvice("000002", 900).authorisedBy(0).withMTI("0221").want("00").repeating(1),
			completionAdvice("000003", 900).authorisedBy(0).want("12"),
			completion("000004", 900).authorisedBy(0).want("12"),
		}},
		{"a resent completion gets its first answer, not 12", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			completion("000002", 1000).authorisedBy(0).want("00"),
			completion("000002", 1000).authorisedBy(0).want("00").repeating(1).noting("duplicate"),
		}},
		{"a pre-authorisation in a settled batch can still be completed", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			settle("000002", debits(0, 0)).want("00").noting("closed"),
			completion("000003", 1000).authorisedBy(0).want("00"),
			settle("000004", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},

		// Amounts.
		{"less than reserved", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			completion("000002", 400).authorisedBy(0).want("00"),
			settle("000003", debits(1, 400)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"above the pre-authorisation: 64, then the right amount", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			completion("000002", 9900).authorisedBy(0).want("64"),
			completion("000003", 1001).authorisedBy(0).want("64"),
			completion("000004", 1000).authorisedBy(0).want("00"),
			settle("000005", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"within a 15% tolerance", tolerant(cupCfg, 15), []step{
			preAuth("000001", 1000).want("00"),
			completionOf("000002", 1150, "000001").want("00"),
		}},
		{"beyond a 15% tolerance", tolerant(cupCfg, 15), []step{
			preAuth("000001", 1000).want("00"),
			completionOf("000002", 1151, "000001").want("64"),
		}},
		{"a tolerance rounds down to the minor unit", tolerant(iso87Cfg, 10), []step{
			preAuth("000001", 1005).want("00"),                    // 10%: 100.5
			completion("000002", 1106).authorisedBy(0).want("64"), // above 1105
			completion("000003", 1105).authorisedBy(0).want("00"),
		}},
		{"nothing: 13", cupCfg, []step{
			preAuth("000001", 1000).want("00"),
			completionOf("000002", 0, "000001").want("13"),
			completionOf("000003", 1000, "000001").want("00"),
		}},

		// Not found, or not completable.
		{"naming nothing: 25", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			completion("000002", 1000).want("25").noting("names no pre-authorisation"),
		}},
		{"unknown trace, RRN, auth code: 25", cupCfg, []step{
			preAuth("000001", 1000).want("00"),
			completionOf("000002", 1000, "000099").want("25"),
			completion("000003", 1000).withRRN("999999999999").want("25"),
			func() step { s := completion("000004", 1000); s.req.AuthCode = "000000"; return s }().want("25"),
			completionOf("000005", 1000, "000001").inBatch("000007").want("25"),
			completionOf("000006", 1000, "000001").want("00"),
		}},
		{"the trace's pre-authorisation under another auth code: 25", cupCfg, []step{
			preAuth("000001", 1000).want("00"),
			func() step { s := completionOf("000002", 1000, "000001"); s.req.AuthCode = "XXXXXX"; return s }().want("25"),
		}},
		{"another card's auth code: 25", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			completion("000002", 1000).authorisedBy(0).withCard("6222029999999999999").want("25"),
			completion("000003", 1000).authorisedBy(0).want("00"),
		}},
		{"another terminal's pre-authorisation: 25", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			completion("000002", 1000).authorisedBy(0).on(otherTID).want("25"),
		}},
		{"a sale: 12", cupCfg, []step{
			sale("000001", 1000).want("00"),
			completionOf("000002", 1000, "000001").want("12").noting("original is a sale"),
		}},
		{"a voided pre-authorisation: 12", cupCfg, []step{
			preAuth("000001", 1000).want("00"),
			preAuthVoid("000002", 1000, "000001").want("00"),
			completionOf("000003", 1000, "000001").want("12").noting("voided"),
		}},
		{"a reversed pre-authorisation: 12", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			reversal("000001", 1000).want("00"),
			completion("000002", 1000).naming(0).want("12").noting("reversed"),
		}},
		{"a declined pre-authorisation: 12", cupCfg, []step{
			preAuth("000001", 0).want("13"),
			completionOf("000002", 1000, "000001").want("12").noting("declined"),
		}},

		// Voids and reversals around a completion.
		{"a completed pre-authorisation cannot be voided or reversed: 12", cupCfg, []step{
			preAuth("000001", 1000).want("00"),
			completionOf("000002", 1000, "000001").want("00"),
			preAuthVoid("000003", 1000, "000001").want("12").noting("completed"),
			reversal("000001", 1000).want("12").noting("completed"),
			settle("000004", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"voiding the completion gives the pre-authorisation back", cupCfg, []step{
			preAuth("000001", 1000).want("00"),
			completionOf("000002", 1000, "000001").want("00"),
			voidByTrace("000003", 1000, "000002").want("00"),
			completionOf("000004", 800, "000001").want("00"),
			// cup: the voided completion stays a debit, its void a credit.
			settle("000005", totals(2, 1800, 1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"or voiding it instead", cupCfg, []step{
			preAuth("000001", 1000).want("00"),
			completionOf("000002", 1000, "000001").want("00"),
			voidByTrace("000003", 1000, "000002").want("00"),
			preAuthVoid("000004", 1000, "000001").want("00"),
			completionOf("000005", 1000, "000001").want("12"),
		}},
		{"reversing the completion gives the pre-authorisation back", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			completion("000002", 1000).authorisedBy(0).want("00"),
			reversal("000002", 1000).want("00"),
			completion("000003", 700).authorisedBy(0).want("00"),
			settle("000004", debits(1, 700)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"reversing the void of the completion takes the pre-authorisation again", iso87Cfg, []step{
			preAuth("000001", 1000).want("00"),
			completion("000002", 1000).authorisedBy(0).want("00"),
			voidByRRN("000003", 1000).naming(1).want("00"),
			reversal("000003", 1000).want("00"),
			completion("000004", 1000).authorisedBy(0).want("12"),
			settle("000005", debits(1, 1000)).want("00").recon(txn.Balanced, txn.Balanced),
		}},
		{"a void of the completion with the wrong amount: 64, still completed", cupCfg, []step{
			preAuth("000001", 1000).want("00"),
			completionOf("000002", 900, "000001").want("00"),
			voidByTrace("000003", 1000, "000002").want("64"),
			completionOf("000004", 900, "000001").want("12"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, tt.cfg, tt.steps)
		})
	}
}

// A scripted decline of a completion leaves its pre-authorisation open.
func TestForcedCompletionDeclineLeavesPreAuth(t *testing.T) {
	h := newHost(t, cupCfg)
	play(t, h, now, preAuth("000001", 1000).want("00"))
	r := completionOf("000002", 1000, "000001").req
	r.Fingerprint = fingerprint(&r)
	if d := h.Force(&r, now, "05", false); d.RC != "05" {
		t.Fatalf("forced completion: RC %q, want 05", d.RC)
	}
	play(t, h, now, completionOf("000003", 1000, "000001").want("00"))
}

func TestNewRejectsNegativeTolerance(t *testing.T) {
	if _, err := books.New(tolerant(iso87Cfg, -1)); err == nil {
		t.Error("New with a completion tolerance of -1%: no error")
	}
}

// A durable journal replayed after a restart rebuilds which
// pre-authorisations are completed: matched by auth code and card, which the
// journal holds masked.
func TestReplayRebuildsCompletions(t *testing.T) {
	cfg := iso87Cfg
	cfg.Events = true
	h := newHost(t, cfg)
	ds := play(t, h, now,
		preAuth("000001", 1000).want("00"),                                             // 0: completed below
		preAuth("000002", 2000).want("00"),                                             // 1: completed, completion voided
		completion("000003", 1000).authorisedBy(0).want("00"),                          // 2
		completion("000004", 2000).authorisedBy(1).want("00"),                          // 3
		voidByRRN("000005", 2000).naming(3).want("00"),                                 // 4
		completion("000006", 1500).authorisedBy(0).want("12"),                          // 5
		preAuth("000007", 300).want("00"),                                              // 6: voided
		request(txn.PreAuthVoid, "0100", "020000", "000008", 300).naming(6).want("00"), // 7
	)
	restarted := newHost(t, cfg)
	for i, d := range ds {
		if err := restarted.Replay(d.Replay); err != nil {
			t.Fatalf("replaying event %d: %v", i, err)
		}
	}
	if got, want := fmt.Sprint(restarted.Records()), fmt.Sprint(h.Records()); got != want {
		t.Errorf("records after the replay:\n%s\nwant\n%s", got, want)
	}
	// Both hosts answer what comes next alike.
	next := []step{
		completion("000009", 1000).authorisedBy(0).want("12"), // completed
		completion("000010", 2000).authorisedBy(1).want("00"), // given back by the void
		completion("000011", 300).authorisedBy(6).want("12"),  // voided
	}
	for i, s := range next {
		s.req.AuthCode = ds[s.authOf-1].AuthCode
		s.authOf = 0
		next[i] = s
	}
	a := play(t, h, now.Add(time.Hour), next...)
	b := play(t, restarted, now.Add(time.Hour), next...)
	for i := range a {
		if a[i].RC != b[i].RC || a[i].RRN != b[i].RRN {
			t.Errorf("step %d after the replay: RC %s RRN %s; without a restart RC %s RRN %s", i, b[i].RC, b[i].RRN, a[i].RC, a[i].RRN)
		}
	}
}
