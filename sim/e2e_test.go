package sim_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// start runs a host on loopback for the test's lifetime, through the front
// door (acqsimtest), with the admin API on unless cfg says otherwise.
func start(t testing.TB, cfg sim.Config) *sim.Sim {
	t.Helper()
	return acqsimtest.New(t, acqsimtest.Configure(func(c *sim.Config) {
		cfg.Listen = c.Listen
		if cfg.Admin == "" {
			cfg.Admin = c.Admin
		}
		*c = cfg
	})).Sim()
}

// dial connects a terminal to s.
func dial(t testing.TB, s *sim.Sim, header dialect.LengthHeader, tid string) *terminal.Terminal {
	t.Helper()
	term, err := terminal.Dial(context.Background(), terminal.Config{
		Addr: s.Addr(), Dialect: s.Dialect, Header: header,
		TID: tid, MID: "898100012340001", Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return term
}

// expect checks an exchange's outcome.
func expect(t testing.TB, what string, x *terminal.Exchange, err error, rc string) *terminal.Exchange {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got := x.RC(); got != rc {
		t.Fatalf("%s: RC %s, want %s", what, got, rc)
	}
	return x
}

// TestEveryFlow drives every everyday flow in both dialects with each length
// header, and checks the host's answers and its settlement.
func TestEveryFlow(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		for _, lh := range dialect.LengthHeaders {
			t.Run(dn+"/"+string(lh), func(t *testing.T) {
				s := start(t, sim.Config{Dialect: dn, LengthHeader: string(lh)})
				term := dial(t, s, lh, "TERM0001")

				x, err := term.SignOn()
				expect(t, "sign-on", x, err, txn.Approved)
				if dn == "cup" {
					if n := len(x.Get(62)); n != 80 { // 40 bytes as hex
						t.Errorf("cup 003 sign-on: F62 has %d hex digits, want 80", n)
					}
				}
				x, err = term.Echo()
				expect(t, "echo", x, err, txn.Approved)

				x, err = term.Sale(1234)
				sale := expect(t, "sale", x, err, txn.Approved)
				for _, id := range []int{37, 38, 15, 12, 13} {
					if sale.Get(id) == "" {
						t.Errorf("sale response has no F%d", id)
					}
				}
				if sale.Get(4) != "000000001234" || sale.Get(41) != "TERM0001" {
					t.Errorf("sale response echoes F4 %q F41 %q", sale.Get(4), sale.Get(41))
				}

				x, err = term.Sale(500)
				expect(t, "second sale", x, err, txn.Approved)
				x, err = term.Void(term.Last(txn.Sale))
				expect(t, "void of the second sale", x, err, txn.Approved)

				x, err = term.Refund(200, term.Last(txn.Sale))
				expect(t, "refund", x, err, txn.Approved)

				x, err = term.Balance()
				expect(t, "balance", x, err, txn.Approved)
				if x.Get(54) == "" {
					t.Error("balance response has no F54")
				}

				x, err = term.PreAuth(10000)
				expect(t, "pre-auth", x, err, txn.Approved)
				x, err = term.Completion(10001, term.Last(txn.PreAuth), false)
				expect(t, "completion above the pre-auth", x, err, txn.OriginalAmountBad)
				x, err = term.Completion(9000, term.Last(txn.PreAuth), false)
				expect(t, "completion", x, err, txn.Approved)
				x, err = term.Completion(9000, term.Last(txn.PreAuth), false)
				expect(t, "second completion of one pre-auth", x, err, txn.InvalidTxn)
				x, err = term.PreAuth(100)
				expect(t, "pre-auth to complete by advice", x, err, txn.Approved)
				x, err = term.Completion(100, term.Last(txn.PreAuth), true)
				expect(t, "completion advice", x, err, txn.Approved)
				x, err = term.PreAuth(300)
				expect(t, "second pre-auth", x, err, txn.Approved)
				x, err = term.Void(term.Last(txn.PreAuth))
				expect(t, "pre-auth void", x, err, txn.Approved)
				x, err = term.Advice(700)
				expect(t, "offline advice", x, err, txn.Approved)

				x, err = term.Sale(5000)
				expect(t, "sale to reverse", x, err, txn.Approved)
				x, err = term.Reverse(x.Get(11), 0, "98", false)
				expect(t, "reversal", x, err, txn.Approved)

				xs, err := term.Settle()
				if err != nil {
					t.Fatalf("settle: %v", err)
				}
				switch dn {
				case "cup":
					if len(xs) != 2 || xs[0].Get(48)[30] != '1' {
						t.Fatalf("cup settle: %d exchanges, F48 %q; want balanced (code 1) and the 207 end", len(xs), xs[0].Get(48))
					}
				default:
					if len(xs) != 1 {
						t.Fatalf("iso87 settle: %d exchanges, want 1 (balanced)", len(xs))
					}
				}

				x, err = term.SignOff()
				expect(t, "sign-off", x, err, txn.Approved)

				got := s.Journal.Query(journal.Filter{TID: "TERM0001"})
				if len(got) < 16 {
					t.Errorf("journal has %d entries for the terminal, want every exchange", len(got))
				}
				for _, e := range got {
					if e.PAN != "" && e.PAN == terminal.DefaultCard.PAN {
						t.Fatalf("journal holds a clear PAN")
					}
				}
			})
		}
	}
}

// TestOutOfBalanceSettlement: totals that disagree with the host's get 95
// (iso87) or F48 code 2 (cup), then the batch upload and its end close the
// batch, and a void of a transaction in it gets 12.
func TestOutOfBalanceSettlement(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := start(t, sim.Config{Dialect: dn})
			term := dial(t, s, dialect.Binary2, "TERM0002")
			x, err := term.SignOn()
			expect(t, "sign-on", x, err, txn.Approved)
			x, err = term.Sale(1000)
			expect(t, "sale", x, err, txn.Approved)
			sale := *term.Last(txn.Sale)

			wrong := term.Totals()
			wrong.DebitAmount += 1
			xs, err := term.SettleWithTotals(wrong)
			if err != nil {
				t.Fatalf("settle: %v", err)
			}
			if dn == "cup" {
				if f48 := xs[0].Get(48); f48[30] != '2' || xs[0].RC() != txn.Approved {
					t.Fatalf("cup settlement: RC %s F48 %s, want 00 with code 2", xs[0].RC(), f48)
				}
			} else if xs[0].RC() != txn.OutOfBalance {
				t.Fatalf("iso87 settlement: RC %s, want 95", xs[0].RC())
			}
			if len(xs) != 3 { // settlement, one upload, the end
				t.Fatalf("%d exchanges, want settlement + 1 upload + end", len(xs))
			}
			for _, x := range xs[1:] {
				if x.RC() != txn.Approved {
					t.Fatalf("%s: RC %s", x.Type, x.RC())
				}
			}
			uploads := s.Journal.Query(journal.Filter{Txn: string(txn.Upload)})
			if len(uploads) != 1 {
				t.Errorf("journal has %d uploads, want 1", len(uploads))
			}

			// The batch is closed: voiding its sale needs a refund instead.
			x, err = term.Void(&sale)
			expect(t, "void after settlement", x, err, txn.InvalidTxn)
		})
	}
}

// TestMatching covers the reversal, void and duplicate rules.
func TestMatching(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := start(t, sim.Config{Dialect: dn})
			term := dial(t, s, dialect.Binary2, "TERM0003")
			expect1 := func(what string, x *terminal.Exchange, err error, rc string) {
				t.Helper()
				expect(t, what, x, err, rc)
			}
			x, err := term.SignOn()
			expect1("sign-on", x, err, txn.Approved)

			// A reversal of something the host never saw is approved.
			x, err = term.Reverse("777777", 100, "98", false)
			expect1("reversal, original not found", x, err, txn.Approved)
			if e := s.Journal.Query(journal.Filter{STAN: "777777"}); len(e) != 1 || e[0].Decision != "reversal: original not found" {
				t.Errorf("journal: %+v", e)
			}

			x, err = term.Sale(2500)
			expect1("sale", x, err, txn.Approved)
			stan := x.Get(11)
			x, err = term.Reverse(stan, 2400, "98", false)
			expect1("reversal with a different amount", x, err, txn.OriginalNotFound)

			// Reversals may be resent: 0401 repeats, and again after approval.
			x, err = term.Reverse(stan, 0, "98", true)
			expect1("reversal advice (0420)", x, err, txn.Approved)
			x, err = term.Reverse(stan, 2500, "98", false)
			expect1("reversal again", x, err, txn.Approved)
			if e := s.Journal.Query(journal.Filter{STAN: stan, Txn: "reversal"}); len(e) != 3 || e[1].Decision == e[2].Decision {
				t.Errorf("journal of the reversals: %+v", e)
			}

			// Voids.
			x, err = term.Void(&terminal.Record{Type: txn.Sale, STAN: "555555", RRN: "999999999999", Amount: 100, Date: "0101", Batch: "000001"})
			expect1("void, original not found", x, err, txn.OriginalNotFound)
			x, err = term.Sale(3000)
			expect1("sale", x, err, txn.Approved)
			sale := *term.Last(txn.Sale)
			wrong := sale
			wrong.Amount = 2999
			x, err = term.Void(&wrong)
			expect1("void with a different amount", x, err, txn.OriginalAmountBad)
			x, err = term.Void(&sale)
			expect1("void", x, err, txn.Approved)
			x, err = term.Void(&sale)
			expect1("void of a voided sale", x, err, txn.InvalidTxn)

			// Duplicates: the same request again gets the same answer; the
			// same STAN with other content gets 94.
			x, err = term.Sale(4200)
			first := expect(t, "sale", x, err, txn.Approved)
			again, err := term.Send(txn.Sale, first.Request)
			expect1("identical retransmission", again, err, txn.Approved)
			if again.Get(37) != first.Get(37) || again.Get(38) != first.Get(38) {
				t.Errorf("retransmission answered with RRN %s auth %s, want the cached %s %s",
					again.Get(37), again.Get(38), first.Get(37), first.Get(38))
			}
			// Repeats (0221, 0401) are answered as their originals, with the
			// original's response MTI (0230, 0410).
			x, err = term.Advice(650)
			advice := expect(t, "advice", x, err, txn.Approved)
			x, err = term.Repeat(advice)
			expect1("advice repeat (0221)", x, err, txn.Approved)
			if mti, _ := x.Response.GetMTI(); mti != "0230" || x.Get(37) != advice.Get(37) {
				t.Errorf("0221 answered %s with RRN %s, want 0230 with the first RRN %s", mti, x.Get(37), advice.Get(37))
			}
			x, err = term.Reverse(advice.Get(11), 0, "98", false)
			rev := expect(t, "reversal of the advice", x, err, txn.Approved)
			x, err = term.Repeat(rev)
			expect1("reversal repeat (0401)", x, err, txn.Approved)
			if mti, _ := x.Response.GetMTI(); mti != "0410" {
				t.Errorf("0401 answered %s, want 0410", mti)
			}

			changed, _ := first.Request.Clone()
			changed.Field(4, "000000004300")
			x, err = term.Send(txn.Sale, changed)
			expect1("same STAN, other amount", x, err, txn.Duplicate)
		})
	}
}

func TestRRNsAreUnique(t *testing.T) {
	s := start(t, sim.Config{})
	seen := map[string]bool{}
	for i := range 3 {
		term := dial(t, s, dialect.Binary2, fmt.Sprintf("TERM%04d", i))
		for range 20 {
			x, err := term.Sale(100)
			expect(t, "sale", x, err, txn.Approved)
			if seen[x.Get(37)] {
				t.Fatalf("RRN %s given twice", x.Get(37))
			}
			seen[x.Get(37)] = true
		}
	}
}

// TestMAC: a cup terminal that signed on sends MACs with the key it was given
// and checks the host's; a MAC the host cannot verify gets A0 and a header
// asking the terminal to sign on again.
func TestMAC(t *testing.T) {
	s := start(t, sim.Config{Dialect: "cup"})
	term := dial(t, s, dialect.Binary2, "TERM0004")
	x, err := term.SignOn()
	expect(t, "sign-on", x, err, txn.Approved)
	x, err = term.Sale(100)
	expect(t, "signed sale", x, err, txn.Approved) // the emulator verified the host's MAC
	if x.Request.GetField(64) == nil || x.Response.GetField(64) == nil {
		t.Fatal("after a cup sign-on, requests and approvals carry F64")
	}

	term.UseMACKey([]byte("wrongkey"))
	x, err = term.Sale(200)
	expect(t, "sale with a wrong MAC", x, err, txn.MACError)
	if x.Requirement != 3 {
		t.Errorf("header processing requirement %d, want 3 (sign on again)", x.Requirement)
	}

	x, err = term.SignOn()
	expect(t, "sign-on again", x, err, txn.Approved)
	s.Reset() // the host forgets the keys it gave
	x, err = term.Sale(300)
	expect(t, "signed sale to a host that lost the key", x, err, txn.MACError)

	x, err = term.SignOn()
	expect(t, "sign-on after the reset", x, err, txn.Approved)
	x, err = term.Sale(400)
	expect(t, "sale with the new key", x, err, txn.Approved)
	if x.Requirement != 0 {
		t.Errorf("header processing requirement %d on an approval, want 0", x.Requirement)
	}
	if e := s.Journal.Query(journal.Filter{RC: txn.MACError}); len(e) != 1 || e[0].Decision == "" {
		t.Errorf("journal of MAC errors after the reset: %+v", e)
	}
}

// TestOptionalTPDU: an iso87bcd terminal behind a NAC channel sends a TPDU
// before each message; the host reads past it, answers with its addresses
// swapped, and keeps it with the frame. One without a TPDU on the same host
// is answered without one.
func TestOptionalTPDU(t *testing.T) {
	s := start(t, sim.Config{Dialect: "iso87bcd"})
	tpdu := []byte{0x60, 0x00, 0x03, 0x00, 0x07}
	nac, err := terminal.Dial(context.Background(), terminal.Config{
		Addr: s.Addr(), Dialect: s.Dialect, TID: "TERM0031", MID: "898100012340001", Timeout: 5 * time.Second, TPDU: tpdu,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nac.Close() })
	bare := dial(t, s, dialect.Binary2, "TERM0032")

	for _, term := range []*terminal.Terminal{nac, bare} {
		x, err := term.Sale(1500)
		expect(t, "sale", x, err, txn.Approved)
		x, err = term.Void(term.Last(txn.Sale))
		expect(t, "void", x, err, txn.Approved)
	}
	for tid, want := range map[string][2]string{"TERM0031": {"6000030007", "6000070003"}, "TERM0032": {"", ""}} {
		got := s.Journal.Query(journal.Filter{TID: tid})
		if len(got) != 2 {
			t.Fatalf("%s: %d journal entries, want the sale and the void", tid, len(got))
		}
		for _, e := range got {
			e, _ := s.Journal.Get(e.Seq) // with its frames
			req, resp := s.Dialect.Describe([]byte(e.Request)), s.Dialect.Describe([]byte(e.Response))
			if req.Preamble != strings.ToUpper(want[0]) || resp.Preamble != strings.ToUpper(want[1]) {
				t.Errorf("%s %s: request preamble %q, response %q; want %q, %q", tid, e.Txn, req.Preamble, resp.Preamble, want[0], want[1])
			}
			if req.Error != "" || resp.Error != "" || req.MTI == "" {
				t.Errorf("%s %s: the frames do not read back: %q %q", tid, e.Txn, req.Error, resp.Error)
			}
		}
	}
}
