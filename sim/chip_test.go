package sim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// emvCase is a case of the independent chip vectors (emv/testdata/emv.json).
type emvCase struct {
	Name           string `json:"name"`
	PAN            string `json:"pan"`
	PSN            string `json:"psn"`
	Amount         int64  `json:"amount_minor"`
	F55Request     string `json:"f55_request"`
	ARQC           string `json:"arqc"`
	ARQCBitFlipped string `json:"arqc_bit_flipped"`
	Responses      []struct {
		RC          string `json:"rc"`
		Tag91       string `json:"tag91"`
		F55Response string `json:"f55_response"`
	} `json:"responses"`
}

func emvCases(t *testing.T) []emvCase {
	t.Helper()
	raw, err := os.ReadFile("../emv/testdata/emv.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []emvCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 {
		t.Fatal("no chip vectors")
	}
	return v.Cases
}

// TestChipVectors is the contract of the built-in card profiles, end to end
// in every dialect: each vector case's F55, sent as a terminal sends it, gets
// a response F55 that is the case's for the response code sent (00 by the
// default host, the others by a scenario that declines); the same request
// with the ARQC's bit flipped is declined 05, with the ARPC of what the card
// sent for 05, and journalled as "ARQC failed".
func TestChipVectors(t *testing.T) {
	for _, name := range []string{"iso87ascii", "cup", "iso87bcd"} {
		t.Run(name, func(t *testing.T) {
			h := acqsimtest.New(t, acqsimtest.Dialect(name))
			d, err := dialect.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			send := func(tid string, c emvCase, f55 string) *terminal.Exchange {
				t.Helper()
				n++
				v := dialect.Values{
					TID: tid, MID: "000000000000001", PAN: c.PAN, Expiry: "3012", Amount: c.Amount,
					EntryMode: "051", CardSeq: "0" + c.PSN, ICC: f55, Batch: "000001", STAN: fmt.Sprintf("%06d", n),
				}
				m, _, err := d.Build(txn.Sale, v)
				if err != nil {
					t.Fatal(err)
				}
				x, err := h.Terminal(t, tid).Send(txn.Sale, m)
				if err != nil {
					t.Fatalf("%s: %v", c.Name, err)
				}
				return x
			}
			for _, c := range emvCases(t) {
				for _, r := range c.Responses {
					tid := "CHIP00" + r.RC
					if r.RC != txn.Approved {
						if err := h.Bind(tid, "name: decline\nrules: [{respond: {rc: \""+r.RC+"\"}}]\n"); err != nil {
							t.Fatal(err)
						}
					}
					x := send(tid, c, c.F55Request)
					if x.RC() != r.RC || x.Get(55) != r.F55Response {
						t.Errorf("%s answered %s: F55 %s, want %s", c.Name, x.RC(), x.Get(55), r.F55Response)
					}
				}

				x := send("CHIPBAD0", c, strings.Replace(c.F55Request, c.ARQC, c.ARQCBitFlipped, 1))
				// Tag 91 says 05: method 1 in its ARC (3035), method 2 in a
				// card status update without the approval bit.
				f55 := x.Get(55)
				said05 := strings.HasPrefix(f55, "910A") && strings.HasSuffix(f55, "3035") ||
					strings.HasPrefix(f55, "9108") && len(f55) == 20 && f55[14]&0x08 == 0
				if x.RC() != "05" || !said05 {
					t.Errorf("%s with a flipped ARQC: RC %s, F55 %s; want 05 and tag 91 for 05", c.Name, x.RC(), f55)
				}
				for _, r := range c.Responses {
					if r.RC == "05" && x.Get(55) == r.F55Response {
						t.Errorf("%s: the ARPC answers the ARQC the card did not send", c.Name)
					}
				}
				e := h.Wait(t, journal.Filter{STAN: x.Get(11), TID: "CHIPBAD0"}, 1)[0]
				if !strings.Contains(e.Decision, "ARQC failed") {
					t.Errorf("%s: a flipped ARQC journalled %q, want it to say ARQC failed", c.Name, e.Decision)
				}
			}
		})
	}
}

// chipDialects are the dialects the chip scenarios run in: iso87bcd is
// iso87ascii's messages packed otherwise (TestChipVectors covers it).
var chipDialects = []string{"iso87ascii", "cup"}

// chipCard is a terminal card whose chip plays the built-in profile's test
// card.
func chipCard(t testing.TB, profile string, contactless bool) terminal.Card {
	t.Helper()
	p := emv.Builtin().Named(profile)
	if p == nil {
		t.Fatalf("no built-in card profile %s", profile)
	}
	return terminal.Card{PAN: p.Card.PAN, Expiry: p.Card.Expiry, Chip: p.NewCard(), Contactless: contactless}
}

// chipHost starts a host in the dialect with the built-in scenario (none for
// "") and connects a terminal that reads the profile's chip card.
func chipHost(t *testing.T, name, scenario, profile string, timeout time.Duration) (*sim.Sim, *terminal.Terminal) {
	t.Helper()
	s := startWith(t, scenario, sim.Config{Dialect: name})
	return s, connect(t, s, opts{Card: chipCard(t, profile, false), Timeout: timeout})
}

// after returns what the terminal sent because of the card's decision, of
// the type.
func after(x *terminal.Exchange, typ txn.Type) *terminal.Exchange {
	for _, a := range x.After {
		if a.Type == typ {
			return a
		}
	}
	return nil
}

// TestChipSale: a chip sale from the emulator, with every built-in profile
// and in every dialect, gets an ARPC the emulator's card accepts; the
// journal says the ARQC verified; the settlement that follows uploads the
// card's TC.
func TestChipSale(t *testing.T) {
	for _, name := range []string{"iso87ascii", "cup", "iso87bcd"} {
		for _, profile := range emv.Builtin().Names() {
			t.Run(name+"/"+profile, func(t *testing.T) {
				s, term := chipHost(t, name, "", profile, 0)
				x, err := term.Sale(1234)
				expect(t, "chip sale", x, err, txn.Approved)
				if x.Card == nil || !x.Card.Approved {
					t.Fatalf("the card declined the host's approval: %+v", x.Card)
				}
				if len(x.After) != 0 {
					t.Errorf("the terminal sent %d more messages after an approval the card accepted", len(x.After))
				}
				if got := x.Request.GetField(55); got == nil {
					t.Fatal("the sale carried no F55")
				}
				if e := entry(t, s, journal.Filter{STAN: x.Get(11), Txn: "sale"}); e.RC != txn.Approved {
					t.Errorf("journal: RC %s", e.RC)
				}
				xs, err := term.Settle()
				if err != nil {
					t.Fatalf("settle: %v", err)
				}
				up := xs[len(xs)-1]
				if up.Type != txn.Upload || up.RC() != txn.Approved || up.Request.GetField(55) == nil {
					t.Fatalf("the last exchange of the settlement is %s RC %s, want the TC upload answered 00", up.Type, up.RC())
				}
				if e := entry(t, s, journal.Filter{STAN: up.Get(11), Txn: "upload"}); !strings.Contains(e.Decision, "TC upload") {
					t.Errorf("TC upload journalled %q", e.Decision)
				}
				if len(term.State.TCs) != 0 {
					t.Errorf("%d TCs still pending after an answered TC upload", len(term.State.TCs))
				}
			})
		}
	}
}

func testARQCInvalid(t *testing.T) {
	for _, name := range chipDialects {
		t.Run(name, func(t *testing.T) {
			s, term := chipHost(t, name, "arqc-invalid", "emv-csk", 0)
			x, err := term.Sale(1000)
			expect(t, "chip sale", x, err, "05")
			if x.Card == nil || x.Card.Approved || x.Card.IssuerAuthFailed {
				t.Errorf("card %+v: want a decline the card takes from an ARPC it accepts", x.Card)
			}
			if len(x.After) != 0 {
				t.Errorf("a declined sale is followed by %d messages", len(x.After))
			}
			if e := entry(t, s, journal.Filter{STAN: x.Get(11), Txn: "sale"}); !strings.Contains(e.Decision, "ARQC failed") || e.Action != "arqc-failed" {
				t.Errorf("journal: decision %q action %q, want ARQC failed", e.Decision, e.Action)
			}
			swipe := connect(t, s, opts{TID: "TERM0002"})
			x, err = swipe.Sale(1000)
			expect(t, "a magstripe sale", x, err, txn.Approved)
		})
	}
}

// cardReversed checks that the card refused the host's approval for want
// of a good ARPC, and that the terminal reversed the sale at once with F39
// 06 and the card's TVR, the host finding the sale.
func cardReversed(t *testing.T, s *sim.Sim, x *terminal.Exchange, term *terminal.Terminal) {
	t.Helper()
	if x.Card == nil || x.Card.Approved || !x.Card.IssuerAuthFailed {
		t.Fatalf("card %+v: want issuer authentication failed and a decline", x.Card)
	}
	r := after(x, txn.Reversal)
	if r == nil {
		t.Fatal("the terminal did not reverse the sale the card declined")
	}
	if r.RC() != txn.Approved || r.Get(11) != x.Get(11) {
		t.Errorf("reversal: RC %s STAN %s, want 00 for STAN %s", r.RC(), r.Get(11), x.Get(11))
	}
	if reason := dialect.FieldValue(r.Request, 39); reason != "06" {
		t.Errorf("reversal reason %q, want 06", reason)
	}
	icc, err := emv.ParseTagsHex(dialect.FieldValue(r.Request, 55))
	if tvr, ok := icc.Value("95"); err != nil || !ok || len(tvr) != 5 || tvr[4]&0x40 == 0 {
		t.Errorf("reversal F55 %v (err %v): want a TVR saying issuer authentication failed", icc, err)
	}
	if e := entry(t, s, journal.Filter{STAN: x.Get(11), Txn: "reversal"}); !strings.Contains(e.Decision, "reversed") {
		t.Errorf("reversal journalled %q, want the sale found and reversed", e.Decision)
	}
	if term.Last(txn.Sale) != nil {
		t.Error("the reversed sale is still in the terminal's batch")
	}
}

func testARPCWrong(t *testing.T) {
	for _, name := range chipDialects {
		t.Run(name, func(t *testing.T) {
			s, term := chipHost(t, name, "arpc-wrong", "visa-cvn10", 0)
			x, err := term.Sale(1000)
			expect(t, "chip sale", x, err, txn.Approved)
			if x.Get(55) == "" {
				t.Fatal("no F55 in the answer: want a wrong tag 91")
			}
			cardReversed(t, s, x, term)
		})
	}
}

func testARPCMissing(t *testing.T) {
	for _, name := range chipDialects {
		t.Run(name, func(t *testing.T) {
			s, term := chipHost(t, name, "arpc-missing", "mc-cvn16", 0)
			x, err := term.Sale(1000)
			expect(t, "chip sale", x, err, txn.Approved)
			if f55 := x.Get(55); strings.Contains(f55, "91") && f55 != "" {
				if tags, _ := emv.ParseTagsHex(f55); tags.Hex("91") != "" {
					t.Fatalf("the answer carries tag 91: %s", f55)
				}
			}
			cardReversed(t, s, x, term)
		})
	}
}

func testIssuerScriptBlockCard(t *testing.T) {
	for _, name := range chipDialects {
		t.Run(name, func(t *testing.T) {
			s, term := chipHost(t, name, "issuer-script-block-card", "emv-csk", 0)
			x, err := term.Sale(1000)
			expect(t, "chip sale", x, err, txn.Approved)
			if x.Card == nil || !x.Card.Approved || len(x.Card.Scripts) != 1 || !x.Card.Scripts[0].OK {
				t.Fatalf("card %+v: want the sale approved and the block script run", x.Card)
			}
			a := after(x, txn.ScriptAdvice)
			if a == nil || a.RC() != txn.Approved {
				t.Fatalf("script result advice %v: want it sent and answered 00", a)
			}
			icc, _ := emv.ParseTagsHex(dialect.FieldValue(a.Request, 55))
			if r := icc.Hex("9F5B"); len(r) != 10 || r[0] != '2' {
				t.Errorf("advice 9F5B %q: want one script, successful", r)
			}
			if e := entry(t, s, journal.Filter{STAN: a.Get(11), Txn: "script_advice"}); e.RC != txn.Approved {
				t.Errorf("script advice journalled RC %s", e.RC)
			}
			if e := entry(t, s, journal.Filter{STAN: x.Get(11), Txn: "sale"}); !strings.Contains(e.Action, "script application-block") {
				t.Errorf("sale journalled action %q, want the script named", e.Action)
			}
			if _, err := term.Sale(1000); !errors.Is(err, emv.ErrBlocked) {
				t.Errorf("a sale with the blocked card: %v, want the card refusing (emv.ErrBlocked)", err)
			}
		})
	}
}

func testIssuerScriptMACWrong(t *testing.T) {
	for _, name := range chipDialects {
		t.Run(name, func(t *testing.T) {
			_, term := chipHost(t, name, "issuer-script-mac-wrong", "emv-csk", 0)
			x, err := term.Sale(1000)
			expect(t, "chip sale", x, err, txn.Approved)
			if x.Card == nil || len(x.Card.Scripts) != 1 || x.Card.Scripts[0].OK {
				t.Fatalf("card %+v: want the script refused", x.Card)
			}
			icc, _ := emv.ParseTagsHex(dialect.FieldValue(after(x, txn.ScriptAdvice).Request, 55))
			if r := icc.Hex("9F5B"); len(r) != 10 || r[0] != '1' {
				t.Errorf("advice 9F5B %q: want one script, failed", r)
			}
			if tvr, _ := icc.Value("95"); len(tvr) != 5 || tvr[4]&0x10 == 0 {
				t.Errorf("TVR % X: want script processing failed after the final GENERATE AC", tvr)
			}
			x, err = term.Sale(1000)
			expect(t, "the next chip sale (the card is not blocked)", x, err, txn.Approved)
		})
	}
}

func testFallbackRefused(t *testing.T) {
	for _, name := range chipDialects {
		t.Run(name, func(t *testing.T) {
			s := startWith(t, "fallback-refused", sim.Config{Dialect: name})
			p := emv.Builtin().Named("emv-csk").Card
			swiped := terminal.Card{PAN: p.PAN, Expiry: p.Expiry, Track2: p.PAN + "=" + p.Expiry + p.ServiceCode + "0000000000", EntryMode: "801"}
			x, err := connect(t, s, opts{Card: swiped}).Sale(1000)
			expect(t, "a fallback sale (F22 801)", x, err, "05")
			// The default test card's track says it has a chip (service code 201).
			x, err = connect(t, s, opts{TID: "TERM0002"}).Sale(1000)
			expect(t, "a chip card swiped (service code 201)", x, err, "05")
			keyed := terminal.DefaultCard
			keyed.Track2 = ""
			x, err = connect(t, s, opts{TID: "TERM0003", Card: keyed}).Sale(1000)
			expect(t, "a keyed sale", x, err, txn.Approved)
			x, err = connect(t, s, opts{TID: "TERM0004", Card: chipCard(t, "emv-csk", false)}).Sale(1000)
			expect(t, "the chip read", x, err, txn.Approved)
		})
	}
}

func testContactlessOverLimit(t *testing.T) {
	for _, name := range chipDialects {
		t.Run(name, func(t *testing.T) {
			s := startWith(t, "contactless-over-limit", sim.Config{Dialect: name})
			tap := connect(t, s, opts{Card: chipCard(t, "mc-cvn16", true)})
			x, err := tap.Sale(150000)
			expect(t, "a tap above the limit", x, err, "65")
			if f22 := dialect.FieldValue(x.Request, 22); !strings.HasPrefix(f22, "07") {
				t.Errorf("F22 %q, want 07x", f22)
			}
			x, err = tap.Sale(50000)
			expect(t, "a tap below the limit", x, err, txn.Approved)
			if x.Card == nil || !x.Card.Approved {
				t.Errorf("card %+v: want the tap approved", x.Card)
			}
			x, err = connect(t, s, opts{TID: "TERM0002", Card: chipCard(t, "mc-cvn16", false)}).Sale(150000)
			expect(t, "the card inserted", x, err, txn.Approved)
		})
	}
}

func testTCUploadMissing(t *testing.T) {
	for _, name := range chipDialects {
		t.Run(name, func(t *testing.T) {
			s, term := chipHost(t, name, "tc-upload-missing", "emv-csk", short)
			x, err := term.Sale(1000)
			expect(t, "chip sale", x, err, txn.Approved)
			xs, err := term.Settle()
			if err == nil || !strings.Contains(err.Error(), "TC upload") {
				t.Fatalf("settle: %v, want the TC upload unacknowledged", err)
			}
			if xs[0].Type != txn.Settlement || xs[0].RC() != txn.Approved {
				t.Errorf("settlement RC %s, want 00", xs[0].RC())
			}
			if len(term.State.TCs) != 1 {
				t.Fatalf("%d TCs kept, want the one not acknowledged", len(term.State.TCs))
			}
			if e := entry(t, s, journal.Filter{Txn: "upload"}); e.Action != "no-response" {
				t.Errorf("the TC upload journalled with action %q, want no-response", e.Action)
			}
		})
	}
}

// TestCardsFile: serve --cards adds profiles on top of the built-in ones. A
// profile that says verify: none and arpc: none answers a card whose ARQC
// would not verify, without tag 91; a cards file with a mistake stops the
// host at start with the file, line and reason.
func TestCardsFile(t *testing.T) {
	dir := t.TempDir()
	cards := dir + "/cards.yaml"
	const keys = "{ac: 0123456789ABCDEFFEDCBA9876543210, smi: FEDCBA98765432100123456789ABCDEF, smc: 89ABCDEF0123456776543210FEDCBA98}"
	if err := os.WriteFile(cards, []byte("cards:\n  - name: lax\n    method: visa-cvn10\n    bins: [\"4761739\"]\n    keys: "+keys+"\n    verify: none\n    arpc: none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := acqsimtest.New(t, acqsimtest.Configure(func(c *sim.Config) { c.Cards = cards }))
	d := h.Sim().Dialect
	for _, c := range emvCases(t) {
		if c.Name != "visa-cvn10" {
			continue
		}
		v := dialect.Values{
			TID: "CHIP0001", MID: "000000000000001", PAN: c.PAN, Expiry: "3012", Amount: c.Amount, EntryMode: "051",
			CardSeq: "0" + c.PSN, ICC: strings.Replace(c.F55Request, c.ARQC, c.ARQCBitFlipped, 1), STAN: "000001",
		}
		m, _, err := d.Build(txn.Sale, v)
		if err != nil {
			t.Fatal(err)
		}
		x, err := h.Terminal(t, "CHIP0001").Send(txn.Sale, m)
		if err != nil {
			t.Fatal(err)
		}
		if x.RC() != txn.Approved || x.Get(55) != "" {
			t.Errorf("an unchecked card: RC %s F55 %q, want 00 and no tag 91", x.RC(), x.Get(55))
		}
	}

	bad := dir + "/bad.yaml"
	if err := os.WriteFile(bad, []byte("cards:\n  - name: typo\n    method: visa-cvn99\n    bins: [\"4\"]\n    keys: "+keys+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sim.Start(sim.Config{Listen: "127.0.0.1:0", Admin: "off", Cards: bad})
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:3") {
		t.Errorf("a cards file with an unknown method: %v, want its file and line", err)
	}
}

// TestChipDataMalformed: F55 whose TLV does not hold together is a format
// error (30), journalled with the field's number, its bytes not shown; the
// terminal's next request is answered as usual.
func TestChipDataMalformed(t *testing.T) {
	for _, name := range []string{"iso87ascii", "cup", "iso87bcd"} {
		t.Run(name, func(t *testing.T) {
			h := acqsimtest.New(t, acqsimtest.Dialect(name))
			term := h.Terminal(t, "CHIP0001")
			m, _, err := h.Sim().Dialect.Build(txn.Sale, dialect.Values{STAN: "000001", TID: "CHIP0001",
				MID: "000000000000001", PAN: "6212345678901234", Expiry: "3012", Amount: 100, Batch: "000001",
				EntryMode: "051", CardSeq: "001", ICC: "9F2608033B0085"})
			if err != nil {
				t.Fatal(err)
			}
			x, err := term.Send(txn.Sale, m)
			if err != nil || x.RC() != txn.FormatError {
				t.Fatalf("a sale with broken F55: %v, RC %q; want 30", err, rcOf(x))
			}
			e := h.Wait(t, journal.Filter{STAN: "000001", TID: "CHIP0001"}, 1)[0]
			if !strings.Contains(e.Error, "55") || strings.Contains(e.Error, "033B") {
				t.Errorf("journal error %q: want field 55 named, its bytes not shown", e.Error)
			}
			x, err = term.Echo()
			if err != nil || x.RC() != txn.Approved {
				t.Errorf("echo after: %v", err)
			}
		})
	}
}

// TestChipBatch: chip sales are voided and reversed as magstripe ones are;
// in an out-of-balance settlement, a chip sale's upload record carries its
// TC (cup: the IC record, 60.3 203) and is kept as a batch upload record,
// and the TCs follow the end of the batch.
func TestChipBatch(t *testing.T) {
	for _, name := range chipDialects {
		t.Run(name, func(t *testing.T) {
			s, term := chipHost(t, name, "", "emv-csk", 0)
			for _, amount := range []int64{1000, 2000, 3000} {
				x, err := term.Sale(amount)
				expect(t, "chip sale", x, err, txn.Approved)
			}
			x, err := term.Void(term.Last(txn.Sale))
			expect(t, "void of a chip sale", x, err, txn.Approved)
			x, err = term.Reverse(term.Last(txn.Sale).STAN, 0, "98", false)
			expect(t, "reversal of a chip sale", x, err, txn.Approved)

			wrong := term.Totals()
			wrong.DebitAmount++
			xs, err := term.SettleWithTotals(wrong)
			if err != nil {
				t.Fatalf("settle: %v", err)
			}
			var chipRecords, otherRecords, tcs int
			for _, x := range xs {
				if x.Type != txn.Upload {
					continue
				}
				if x.RC() != txn.Approved {
					t.Errorf("upload STAN %s: RC %s", x.Get(11), x.RC())
				}
				e := entry(t, s, journal.Filter{STAN: x.Get(11), Txn: "upload"})
				switch {
				case strings.Contains(e.Decision, "TC upload"):
					tcs++
				case x.Request.GetField(55) != nil:
					chipRecords++
					if name == "cup" && !strings.HasSuffix(dialect.FieldValue(x.Request, 60), "203") {
						t.Errorf("cup IC record F60 %q, want 60.3 203", dialect.FieldValue(x.Request, 60))
					}
				default:
					otherRecords++
				}
			}
			// The batch: the first sale, the third (voided, but still in the
			// batch) and its void; the reversed second sale is gone. The
			// TC goes for the sale that stands.
			if chipRecords != 2 || otherRecords != 1 || tcs != 1 {
				t.Errorf("%d chip records, %d others, %d TC uploads; want 2, 1 (the void) and 1", chipRecords, otherRecords, tcs)
			}
		})
	}
}
