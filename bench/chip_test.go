package bench

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/txn"
)

func profile(t testing.TB, name string) *emv.Profile {
	t.Helper()
	p := emv.Builtin().Named(name)
	if p == nil {
		t.Fatalf("no built-in card profile %q", name)
	}
	return p
}

// TestChipAgainstAcqsim: chip sales and balance enquiries, with voids and
// reversals among them, in every dialect and for every built-in profile
// (ARPC methods 1 and 2), against the default host: it checks each ARQC (a
// wrong one is declined, 05) and answers with tag 91, which each card
// accepts. Every request is approved, no card refuses, and every batch
// settles balanced.
func TestChipAgainstAcqsim(t *testing.T) {
	mix, err := ParseMix("sale=70,balance=10,void=10,reversal=10")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range fixtures.DialectNames() {
		for i, card := range emv.Builtin().Names() {
			t.Run(name+"/"+card, func(t *testing.T) {
				h := acqsimtest.New(t, acqsimtest.Dialect(name))
				res := run(t, Config{
					Addr: h.Addr(), Dialect: load(t, name), Connections: 2, Count: 200, Pipeline: 3, Mix: mix,
					Settle: true, SignOn: name == "cup", Timeout: 10 * time.Second, MID: acqsimtest.MID,
					Chip: profile(t, card), TIDPrefix: fmt.Sprintf("CHP%d", i),
				})
				checkSums(t, res)
				if res.Answered != 200 || res.Errors != 0 || res.Timeouts != 0 || !maps.Equal(res.RC, map[string]int64{"00": 200}) {
					t.Fatalf("answered %d errors %d %v timeouts %d RC %v; want 200 approvals", res.Answered, res.Errors, res.ErrorsByKind, res.Timeouts, res.RC)
				}
				if res.Chip != card {
					t.Errorf("result's chip %q, want %q", res.Chip, card)
				}
				for _, typ := range []string{"sale", "balance", "void", "reversal"} {
					if res.ByType[typ].Sent == 0 {
						t.Errorf("no %s sent: %v", typ, res.ByType)
					}
				}
				if s := res.Settlement; s == nil || s.Balanced != 2 {
					t.Errorf("settlement %+v, want 2 balanced", s)
				}
				checkChipRequests(t, h, name, card)
			})
		}
	}
}

// checkChipRequests reads what the host journalled: sales and balance
// enquiries read the chip (F22 051, F23, F55, no track 2) with a fresh
// cryptogram each, voids and reversals the stripe; and the scanner reads
// the host's answers, F55 included, as moov-io unpacks them.
func checkChipRequests(t *testing.T, h *acqsimtest.Host, name, card string) {
	t.Helper()
	d := load(t, name)
	s := newScanner(d.Spec, true)
	arqcs := map[string]bool{}
	tc := profile(t, card).Card
	for _, typ := range []string{"sale", "balance", "void", "reversal"} {
		entries := h.Journal(journal.Filter{Txn: typ})
		if len(entries) == 0 {
			t.Fatalf("the host journalled no %s", typ)
		}
		for _, e := range entries {
			full, ok := h.Sim().Journal.Get(e.Seq)
			if !ok {
				t.Fatalf("%s %s is not in the journal's memory", typ, e.STAN)
			}
			req, err := d.Decode([]byte(full.Request)[d.Preamble:])
			if err != nil {
				t.Fatalf("%s %s: %v", typ, e.STAN, err)
			}
			if str(req, 2) != tc.PAN {
				t.Errorf("%s %s: not the profile's test card", typ, e.STAN)
			}
			chip := typ == "sale" || typ == "balance"
			if icc := str(req, 55); chip != (icc != "") || chip != (str(req, 22) == "051") || chip != (str(req, 35) == "") ||
				chip != (str(req, 23) == "0"+tc.PSN) {
				t.Errorf("%s %s: F22 %q, F23 %q, F35 set %v, F55 set %v; want the chip read for sales and balance enquiries only",
					typ, e.STAN, str(req, 22), str(req, 23), str(req, 35) != "", icc != "")
			}
			if chip {
				tags, err := emv.ParseTagsHex(str(req, 55))
				if err != nil {
					t.Fatalf("%s %s: F55: %v", typ, e.STAN, err)
				}
				arqc := tags.Hex("9F26")
				if arqcs[arqc] {
					t.Errorf("%s %s: an ARQC sent before", typ, e.STAN)
				}
				arqcs[arqc] = true
			}

			// moov-io's own unpacking: the dialect's Decode also refuses
			// fields that look like card data, and an RRN of 000000000002
			// looks like the end of visa-cvn18's test card 4000000000000002.
			body := []byte(full.Response)[d.Preamble:]
			resp := iso8583.NewMessage(d.Spec)
			if err := resp.Unpack(body); err != nil {
				t.Fatalf("%s %s: the answer: %v", typ, e.STAN, err)
			}
			want := unpacked(resp, true)
			got, err := s.scan(body)
			if err != nil || !got.same(&want) {
				t.Errorf("%s %s: scan = %+v, %v; unpack = %+v", typ, e.STAN, got, err, want)
			}
			if chip && e.RC == txn.Approved {
				if tags, err := emv.ParseTags(got.icc); err != nil || tags.Hex("91") == "" {
					t.Errorf("%s %s: the answer's F55 %X has no tag 91 (%v)", typ, e.STAN, got.icc, err)
				}
			}
		}
	}
}

// TestChipARPCWrong: against a host whose ARPC is wrong (one bit flipped),
// the host approves every sale and every card refuses it: each is an error
// of kind card_refused, none counts as answered, and the batch, booked as
// the host approved, still settles balanced.
func TestChipARPCWrong(t *testing.T) {
	for _, name := range fixtures.DialectNames() {
		t.Run(name, func(t *testing.T) {
			h := acqsimtest.New(t, acqsimtest.Dialect(name), acqsimtest.Scenario("arpc-wrong"))
			res := run(t, Config{
				Addr: h.Addr(), Dialect: load(t, name), Connections: 2, Count: 60, Pipeline: 2, Settle: true,
				SignOn: name == "cup", Timeout: 10 * time.Second, MID: acqsimtest.MID, Chip: profile(t, "emv-csk"),
			})
			checkSums(t, res)
			sales := res.ByType["sale"]
			if sales.Sent != 60 || sales.ErrorsByKind["card_refused"] != 60 || sales.Errors != 60 || sales.Answered != 0 {
				t.Fatalf("sales sent %d answered %d errors %d %v; want all 60 refused by the card",
					sales.Sent, sales.Answered, sales.Errors, sales.ErrorsByKind)
			}
			if n := h.Count(journal.Filter{Txn: "sale", RC: "00", Rule: "a wrong ARPC"}); n != 60 {
				t.Errorf("the host approved %d sales with a wrong ARPC, want 60", n)
			}
			if s := res.Settlement; s == nil || s.Balanced != 2 {
				t.Errorf("settlement %+v, want 2 balanced", s)
			}
			var text strings.Builder
			if err := res.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "card_refused=60") || !strings.Contains(text.String(), "chip card emv-csk") {
				t.Errorf("the text report does not say the cards refused:\n%s", text.String())
			}
		})
	}
}

// TestChipTemplates: a chip request written over its template, F55 (a hex
// field) included, is the request built afresh, in every dialect.
func TestChipTemplates(t *testing.T) {
	p := profile(t, "visa-cvn18")
	for _, name := range fixtures.DialectNames() {
		d := load(t, name)
		b := builder{d: d, tid: "BNCH0001", mid: DefaultMID, chip: p, currency: d.Currency, amount: 1234, batch: "000007"}
		card := p.NewCard()
		for _, k := range []kind{kSale, kBalance} {
			tmpl, err := b.newTemplate(k)
			if err != nil {
				t.Fatal(err)
			}
			if tmpl.slots[55].chars == 0 {
				t.Fatalf("%s %s: F55 is not among the fields written over (%v)", name, k, tmpl.variable)
			}
			for i := range 3 {
				icc, err := b.firstAC(card, k, time.Now(), uint32(i)*0x01020304)
				if err != nil {
					t.Fatal(err)
				}
				v := vars{stan: stan6(i + 1), hhmmss: "120000", mmdd: "0606", orig: &sale{}, icc: icc}
				if !tmpl.fill(&b, k, &v) {
					t.Fatalf("%s %s: values do not fit the template", name, k)
				}
				m, err := b.message(k, &v)
				if err != nil {
					t.Fatal(err)
				}
				want, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				if string(tmpl.body) != string(want) {
					t.Errorf("%s %s: template gives\n%X\nbuilt afresh\n%X", name, k, tmpl.body, want)
				}
			}
		}
	}
}

// BenchmarkChipSale: what a chip sale costs the load generator beyond a
// magstripe one (BenchmarkTemplateFill): the card's first GENERATE AC and
// F55 written over the template (request), and the card's second GENERATE
// AC on the host's answer (answer; the answers are made beforehand).
func BenchmarkChipSale(b *testing.B) {
	p := profile(b, "emv-csk")
	d := load(b, "iso87ascii")
	bl := builder{d: d, tid: "BNCH0001", mid: DefaultMID, chip: p, currency: d.Currency, amount: 1234, batch: "000007"}
	tmpl, err := bl.newTemplate(kSale)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.Run("request", func(b *testing.B) {
		card := p.NewCard()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if card.ATC == 0xFFFF {
				card = p.NewCard()
			}
			icc, err := bl.firstAC(card, kSale, now, uint32(i))
			if err != nil {
				b.Fatal(err)
			}
			v := vars{stan: "000042", hhmmss: "235959", mmdd: "1231", orig: &sale{}, icc: icc}
			if !tmpl.fill(&bl, kSale, &v) {
				b.Fatal("the values do not fit the template")
			}
		}
	})
	b.Run("answer", func(b *testing.B) {
		// Cards each at their first GENERATE AC, and the issuer's answers:
		// a copy of such a card takes its second as often as asked.
		type round struct {
			card   emv.Card
			answer []byte
		}
		var rounds [64]round
		card := p.NewCard()
		for i := range rounds {
			icc, err := bl.firstAC(card, kSale, now, uint32(i))
			if err != nil {
				b.Fatal(err)
			}
			tags, _ := emv.ParseTagsHex(icc)
			auth := p.Authorise(p.Card.PAN, p.Card.PSN, tags)
			answer, err := emv.Tags(nil).Set("91", auth.IssuerData(txn.Approved)).Encode()
			if err != nil {
				b.Fatal(err)
			}
			rounds[i] = round{*card, answer}
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r := &rounds[i%len(rounds)]
			at := r.card
			resp := response{rc: txn.Approved, icc: r.answer}
			c := conn{card: &at}
			if c.secondAC(&at, &resp) != -1 {
				b.Fatal("the card refuses the issuer's answer")
			}
		}
	})
}
