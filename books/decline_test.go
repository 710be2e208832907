package books_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/txn"
)

// declineCase is a request the host processes and refuses (or, for a
// reversal, answers without booking), after setup.
type declineCase struct {
	name    string
	cfg     books.Config
	setup   []step
	decline step
	// force, when set, has a scenario answer decline with this RC.
	force string
	// names is 1 + the setup step whose RRN the answer carries (a reversal
	// names its original's); 0: an RRN of its own.
	names int
}

var t0Terms = txn.Terms{Mode: "T0", Settlement: time.Date(2026, 6, 11, 0, 0, 0, 0, time.UTC), FundsAt: now, CardType: "debit"}

// withNames is the case answered with the RRN of setup step i.
func (c declineCase) withNames(i int) declineCase { c.names = i + 1; return c }

// declineCases are every way the host refuses a financial request it
// processed, and the reversals it answers.
func declineCases() []declineCase {
	return []declineCase{
		// Voids (DOMAIN 5: not found 25; failed, voided, reversed 12; amount 64; settled 12).
		{name: "void of an RRN never issued: 25", cfg: iso87Cfg,
			setup: []step{sale("000001", 1000).want("00")}, decline: voidByRRN("000002", 1000).withRRN("999999999999").want("25")},
		{name: "void of a trace never seen: 25", cfg: cupCfg,
			setup: []step{sale("000001", 1000).want("00")}, decline: voidByTrace("000002", 1000, "000099").want("25")},
		{name: "void naming no original at all: 25", cfg: iso87Cfg,
			setup: []step{sale("000001", 1000).want("00")}, decline: voidByRRN("000002", 1000).want("25")},
		{name: "void of a declined original: 12", cfg: iso87Cfg,
			setup: []step{sale("000001", 0).want("13")}, decline: voidByRRN("000002", 0).naming(0).want("12")},
		{name: "void of a voided original: 12", cfg: cupCfg,
			setup:   []step{sale("000001", 1000).want("00"), voidByTrace("000002", 1000, "000001").want("00")},
			decline: voidByTrace("000003", 1000, "000001").want("12")},
		{name: "void of a reversed original: 12", cfg: iso87Cfg,
			setup:   []step{sale("000001", 1000).want("00"), reversal("000001", 1000).want("00")},
			decline: voidByRRN("000002", 1000).naming(0).want("12")},
		{name: "void whose amount differs: 64", cfg: iso87Cfg,
			setup: []step{sale("000001", 1000).want("00")}, decline: voidByRRN("000002", 999).naming(0).want("64")},
		{name: "void after settlement: 12", cfg: iso87Cfg,
			setup:   []step{sale("000001", 1000).want("00"), settle("000002", debits(1, 1000)).want("00")},
			decline: voidByRRN("000003", 1000).naming(0).want("12")},
		{name: "void of a refund: 12", cfg: iso87Cfg,
			setup: []step{refund("000001", 1000).want("00")}, decline: voidByRRN("000002", 1000).naming(0).want("12")},
		{name: "void of a T+0 sale: 12", cfg: iso87Cfg,
			setup: []step{sale("000001", 1000).settling(t0Terms).want("00")}, decline: voidByRRN("000002", 1000).naming(0).want("12")},
		{name: "void of a declined void: 12", cfg: iso87Cfg,
			setup:   []step{sale("000001", 1000).want("00"), voidByRRN("000002", 999).naming(0).want("64")},
			decline: voidByRRN("000003", 999).naming(1).want("12")},
		{name: "pre-authorisation void of a sale: 12", cfg: cupCfg,
			setup: []step{sale("000001", 1000).want("00")}, decline: preAuthVoid("000002", 1000, "000001").want("12")},
		{name: "pre-authorisation void not found: 25", cfg: cupCfg,
			setup: []step{preAuth("000001", 5000).want("00")}, decline: preAuthVoid("000002", 5000, "000099").want("25")},

		// Completions (a pre-authorisation completes once, for no more than
		// it reserved, and must be named).
		{name: "completion naming no pre-authorisation: 25", cfg: iso87Cfg,
			setup: []step{preAuth("000001", 1000).want("00")}, decline: completion("000002", 1000).want("25")},
		{name: "completion of a trace never seen: 25", cfg: cupCfg,
			setup: []step{preAuth("000001", 1000).want("00")}, decline: completionOf("000002", 1000, "000099").want("25")},
		{name: "completion of an auth code never given: 25", cfg: iso87Cfg,
			setup:   []step{preAuth("000001", 1000).want("00")},
			decline: func() step { s := completion("000002", 1000); s.req.AuthCode = "XYZ999"; return s }().want("25")},
		{name: "second completion: 12", cfg: iso87Cfg,
			setup:   []step{preAuth("000001", 1000).want("00"), completion("000002", 1000).authorisedBy(0).want("00")},
			decline: completion("000003", 1000).authorisedBy(0).want("12")},
		{name: "completion above the pre-authorisation: 64", cfg: cupCfg,
			setup: []step{preAuth("000001", 1000).want("00")}, decline: completionOf("000002", 1001, "000001").want("64")},
		{name: "completion of a voided pre-authorisation: 12", cfg: cupCfg,
			setup:   []step{preAuth("000001", 1000).want("00"), preAuthVoid("000002", 1000, "000001").want("00")},
			decline: completionOf("000003", 1000, "000001").want("12")},
		{name: "completion of a sale: 12", cfg: iso87Cfg,
			setup: []step{sale("000001", 1000).want("00")}, decline: completion("000002", 1000).naming(0).want("12")},
		{name: "forced completion decline: 05", cfg: cupCfg, force: "05",
			setup: []step{preAuth("000001", 1000).want("00")}, decline: completionOf("000002", 1000, "000001").want("05")},
		declineCase{name: "reversal of a completed pre-authorisation: 12", cfg: cupCfg,
			setup:   []step{preAuth("000001", 1000).want("00"), completionOf("000002", 1000, "000001").want("00")},
			decline: reversal("000001", 1000).want("12")}.withNames(0),

		// Requests refused outright.
		{name: "sale of nothing: 13", cfg: iso87Cfg, decline: sale("000001", 0).want("13")},
		{name: "refund of nothing: 13", cfg: cupCfg, decline: refund("000001", 0).want("13")},
		{name: "pre-authorisation of nothing: 13", cfg: cupCfg, decline: preAuth("000001", -5).want("13")},
		{name: "completion of nothing: 13", cfg: cupCfg, decline: completion("000001", 0).want("13")},
		{name: "advice of nothing: 13", cfg: iso87Cfg, decline: advice("000001", 0).want("13")},

		// What a scenario declines (limits, issuer down, scripted answers).
		{name: "forced sale decline: 61", cfg: iso87Cfg, force: "61", decline: sale("000001", 1000).want("61")},
		{name: "forced void decline: 05", cfg: iso87Cfg, force: "05",
			setup: []step{sale("000001", 1000).want("00")}, decline: voidByRRN("000002", 1000).naming(0).want("05")},
		{name: "forced balance decline: 51", cfg: cupCfg, force: "51",
			decline: request(txn.Balance, "0200", "310000", "000001", 0).want("51")},

		// Reversals name the original they matched.
		declineCase{name: "reversal whose amount differs: 25", cfg: iso87Cfg,
			setup: []step{sale("000001", 1000).want("00")}, decline: reversal("000001", 999).want("25")}.withNames(0),
		declineCase{name: "reversal of a T+0 sale: 12", cfg: cupCfg,
			setup: []step{sale("000001", 1000).settling(t0Terms).want("00")}, decline: reversal("000001", 1000).want("12")}.withNames(0),
		declineCase{name: "reversal: 00, the original reversed", cfg: iso87Cfg,
			setup: []step{sale("000001", 1000).want("00")}, decline: reversal("000001", 1000).want("00")}.withNames(0),
		declineCase{name: "reversal already made: 00", cfg: cupCfg,
			setup:   []step{sale("000001", 1000).want("00"), reversal("000001", 1000).want("00")},
			decline: reversal("000001", 1000).withMTI("0401").want("00")}.withNames(0),
		declineCase{name: "reversal of a declined sale: 00, nothing to reverse", cfg: iso87Cfg,
			setup: []step{sale("000001", 0).want("13")}, decline: reversal("000001", 0).want("00")}.withNames(0),
		declineCase{name: "reversal of a refused void: 00, nothing to reverse", cfg: iso87Cfg,
			setup:   []step{sale("000001", 1000).want("00"), voidByRRN("000002", 999).naming(0).want("64")},
			decline: reversal("000002", 999).want("00")}.withNames(1),
		declineCase{name: "reversal of a void: 00, the sale restored", cfg: iso87Cfg,
			setup:   []step{sale("000001", 1000).want("00"), voidByRRN("000002", 1000).naming(0).want("00")},
			decline: reversal("000002", 1000).want("00")}.withNames(1),
		declineCase{name: "forced reversal decline: 96", cfg: iso87Cfg, force: "96",
			setup: []step{sale("000001", 1000).want("00")}, decline: reversal("000001", 1000).want("96")}.withNames(0),
	}
}

// answer sends the case's refused request (r, already with its RRN and
// fingerprint) as the host would get it.
func (c declineCase) answer(h *books.Host, r txn.Request, at time.Time) txn.Decision {
	if c.force != "" {
		return h.Force(&r, at, c.force, false)
	}
	return h.Decide(&r, at)
}

// prepared is the case's refused request with the RRN it names filled in.
func (c declineCase) prepared(t *testing.T, ds []txn.Decision) txn.Request {
	t.Helper()
	r := c.decline.req
	if c.decline.rrnOf > 0 {
		r.RRN = ds[c.decline.rrnOf-1].RRN
		if r.RRN == "" {
			t.Fatalf("the refused request names the RRN of setup step %d, which has none", c.decline.rrnOf-1)
		}
	}
	if c.decline.authOf > 0 {
		r.AuthCode = ds[c.decline.authOf-1].AuthCode
	}
	r.Fingerprint = fingerprint(&r)
	return r
}

// DOMAIN 5: every financial response the host processed carries an RRN (F37):
// a refusal one of its own, booked with its declined record, a reversal its
// original's. A retransmission is answered with the same one.
func TestDeclinesCarryRRN(t *testing.T) {
	for _, c := range declineCases() {
		t.Run(c.name, func(t *testing.T) {
			h := newHost(t, c.cfg)
			ds := play(t, h, now, c.setup...)
			r := c.prepared(t, ds)
			at := now.Add(time.Hour)
			d := c.answer(h, r, at)
			if d.RC != c.decline.rc {
				t.Fatalf("RC %q (%s), want %q", d.RC, d.Note, c.decline.rc)
			}
			if !isDigits(d.RRN, 12) {
				t.Fatalf("RC %s (%s) with RRN %q, want 12 digits", d.RC, d.Note, d.RRN)
			}
			if c.names > 0 {
				if want := ds[c.names-1].RRN; d.RRN != want {
					t.Errorf("RRN %s, want the original's %s (setup step %d)", d.RRN, want, c.names-1)
				}
			} else {
				for i, e := range ds {
					if e.RRN == d.RRN {
						t.Errorf("RRN %s already given to setup step %d", d.RRN, i)
					}
				}
				if d.RRN == r.RRN {
					t.Errorf("RRN %s is the one the request named, not its own", d.RRN)
				}
				checkBookedDeclined(t, h, r, d.RRN)
			}

			// A retransmission: a financial request gets its first answer
			// from the host's books, a scripted one too (the terminal asks
			// again for the answer it lost), at the first answer's time; a
			// resent reversal is matched again, to the same original.
			again := c.answer(h, r, at.Add(time.Minute))
			if again.RC != d.RC || again.RRN != d.RRN {
				t.Errorf("retransmission answered RC %q RRN %q, want the first RC %q RRN %q", again.RC, again.RRN, d.RC, d.RRN)
			}
			if r.Type != txn.Reversal && (!again.Cached || !again.At.Equal(at)) {
				t.Errorf("retransmission answered from the cache %v at %v, want the first answer's time %v", again.Cached, again.At, at)
			}

			// The next transaction's RRN is new.
			next := sale("000900", 100).req
			next.Fingerprint = fingerprint(&next)
			if n := h.Decide(&next, at.Add(2*time.Minute)); n.RRN == d.RRN || !isDigits(n.RRN, 12) {
				t.Errorf("the next sale got RRN %q after a refusal answered with %s", n.RRN, d.RRN)
			}
		})
	}
}

// checkBookedDeclined checks that the host's books hold r as declined under
// rrn, and that a void naming that RRN is refused as invalid, not taken as
// its original.
func checkBookedDeclined(t *testing.T, h *books.Host, r txn.Request, rrn string) {
	t.Helper()
	found := 0
	for _, rec := range h.Records() {
		if rec.RRN != rrn {
			continue
		}
		found++
		if rec.State != "declined" || rec.STAN != r.STAN || rec.Type != r.Type {
			t.Errorf("RRN %s booked as %s %s STAN %s, want %s declined STAN %s", rrn, rec.State, rec.Type, rec.STAN, r.Type, r.STAN)
		}
	}
	if found != 1 {
		t.Errorf("RRN %s in %d records, want the one declined record", rrn, found)
	}
	v := voidByRRN("000901", r.Amount).withRRN(rrn).on(r.TID).req
	v.Fingerprint = fingerprint(&v)
	d := h.Decide(&v, now.Add(3*time.Hour))
	if d.RC != txn.InvalidTxn {
		t.Errorf("void naming the declined record's RRN %s: RC %q (%s), want 12", rrn, d.RC, d.Note)
	}
	if d.RRN == rrn || !isDigits(d.RRN, 12) {
		t.Errorf("void naming the declined record's RRN %s answered with RRN %q, want one of its own", rrn, d.RRN)
	}
}

// A reversal that matches nothing names no RRN: it is not booked, so it has
// none of its own, and it has no original to name. (A fresh one would differ
// with every resend, since reversals are matched, not deduplicated.)
func TestReversalNotFoundHasNoRRN(t *testing.T) {
	h := newHost(t, iso87Cfg)
	r := reversal("000001", 1000).req
	r.Fingerprint = fingerprint(&r)
	if d := h.Decide(&r, now); d.RC != txn.Approved || d.RRN != "" {
		t.Errorf("reversal of an unknown STAN: RC %q RRN %q, want 00 without RRN", d.RC, d.RRN)
	}
}

// The duplicate refusal (94) was not processed: it has no RRN, and it leaves
// the first answer's cached for the real retransmission.
func TestDuplicateHasNoRRN(t *testing.T) {
	h := newHost(t, iso87Cfg)
	first := play(t, h, now, voidByRRN("000001", 1000).withRRN("999999999999").want("25"))[0]
	d := play(t, h, now, voidByRRN("000001", 2000).withRRN("999999999999").want("94"))[0]
	if d.RRN != "" {
		t.Errorf("94 with RRN %q, want none", d.RRN)
	}
	again := play(t, h, now, voidByRRN("000001", 1000).withRRN("999999999999").want("25"))[0]
	if again.RRN != first.RRN || !again.Cached {
		t.Errorf("retransmission after a 94: RRN %q cached %v, want the first %q from the cache", again.RRN, again.Cached, first.RRN)
	}
}

// A durable journal replayed after a restart rebuilds refusals with the RRNs
// they were answered with: the same books, the same answer to a
// retransmission, and the next RRN after them.
func TestReplayKeepsDeclineRRNs(t *testing.T) {
	for _, c := range declineCases() {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Events = true
			h := newHost(t, cfg)
			ds := play(t, h, now, c.setup...)
			r := c.prepared(t, ds)
			at := now.Add(time.Hour)
			d := c.answer(h, r, at)
			var events [][]byte
			for _, e := range append(ds, d) {
				events = append(events, e.Replay)
			}

			restarted := newHost(t, cfg)
			for i, ev := range events {
				if err := restarted.Replay(ev); err != nil {
					t.Fatalf("replaying event %d: %v", i, err)
				}
			}
			if got, want := fmt.Sprint(restarted.Records()), fmt.Sprint(h.Records()); got != want {
				t.Errorf("records after the replay:\n%s\nwant\n%s", got, want)
			}
			again := c.answer(restarted, r, at.Add(time.Minute))
			if again.RC != d.RC || again.RRN != d.RRN {
				t.Errorf("retransmission after the replay: RC %q RRN %q, want RC %q RRN %q", again.RC, again.RRN, d.RC, d.RRN)
			}
			if r.Type != txn.Reversal && !again.At.Equal(at) {
				t.Errorf("retransmission after the replay answered at %v, want the first answer's time %v", again.At, at)
			}
			next := func(h *books.Host) string {
				s := sale("000900", 100).req
				s.Fingerprint = fingerprint(&s)
				return h.Decide(&s, at.Add(2*time.Minute)).RRN
			}
			_ = c.answer(h, r, at.Add(time.Minute)) // both hosts have seen the same now
			if a, b := next(restarted), next(h); a != b {
				t.Errorf("next RRN after the replay %s, without a restart %s", a, b)
			}
		})
	}
}

// A journal written before refusals had RRNs holds a refused void without
// one. Replayed, it draws none: it must not take the RRN the host gave the
// next transaction, which a void would then find instead of that sale.
func TestReplayOfDeclineJournalledWithoutRRN(t *testing.T) {
	cfg := iso87Cfg
	cfg.Events = true
	h := newHost(t, cfg)
	ds := play(t, h, now,
		sale("000001", 1000).want("00"),
		voidByRRN("000002", 999).naming(0).want("64"),
		sale("000003", 2000).want("00"),
	)
	// As the host journalled them then: the refused void without an RRN,
	// the next sale with the one the void has now.
	withRRN := func(raw []byte, rrn string) []byte {
		t.Helper()
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		delete(ev, "rrn")
		if rrn != "" {
			ev["rrn"] = rrn
		}
		out, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	saleRRN := ds[1].RRN
	old := [][]byte{ds[0].Replay, withRRN(ds[1].Replay, ""), withRRN(ds[2].Replay, saleRRN)}

	restarted := newHost(t, cfg)
	for i, ev := range old {
		if err := restarted.Replay(ev); err != nil {
			t.Fatalf("replaying event %d: %v", i, err)
		}
	}
	for _, rec := range restarted.Records() {
		if rec.State == "declined" && rec.RRN != "" {
			t.Errorf("the refused void replayed with RRN %s it was never answered with", rec.RRN)
		}
	}
	d := play(t, restarted, now.Add(time.Hour), voidByRRN("000004", 2000).withRRN(saleRRN).want("00").noting("000003"))[0]
	if d.RRN == saleRRN || !isDigits(d.RRN, 12) {
		t.Errorf("void after the replay: RRN %q, want a new one after %s", d.RRN, saleRRN)
	}
}
