package terminal_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// short is a terminal timeout for an answer that must not come; loopback
// answers take a millisecond or so.
const short = 300 * time.Millisecond

// host starts a host on loopback with rules bound to every terminal.
func host(t *testing.T, dialectName, rules string) *sim.Sim {
	t.Helper()
	s := acqsimtest.New(t, acqsimtest.Dialect(dialectName), acqsimtest.Admin("off")).Sim()
	setRules(t, s, rules)
	return s
}

// setRules binds a scenario of the given rules to every terminal; no rules
// unbind it.
func setRules(t *testing.T, s *sim.Sim, rules string) {
	t.Helper()
	if rules == "" {
		s.Engine.SetGlobal(nil)
		return
	}
	sc, err := scenarios.Load(t.Name()+".yaml", []byte("name: test\nrules:\n"+rules))
	if err != nil {
		t.Fatal(err)
	}
	s.Engine.SetGlobal(sc)
}

func dial(t *testing.T, s *sim.Sim, cfg terminal.Config) *terminal.Terminal {
	t.Helper()
	cfg.Addr, cfg.Dialect = s.Addr(), s.Dialect
	if cfg.TID == "" {
		cfg.TID, cfg.MID = "TERM0001", "898100012340001"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = short
	}
	term, err := terminal.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return term
}

func get(m *iso8583.Message, id int) string {
	if m == nil || m.GetField(id) == nil {
		return ""
	}
	s, _ := m.GetString(id)
	return s
}

func mti(m *iso8583.Message) string {
	v, _ := m.GetMTI()
	return v
}

const unansweredSale = `  - match: txn == "sale" && amount == 1500
    action: no-response
`

// TestPendingReversalGoesFirst: a sale that gets no answer is the
// terminal's pending reversal; the next online transaction sends it first
// (same STAN, the sale's amount, F39 98), and the host reverses the sale it
// booked.
func TestPendingReversalGoesFirst(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := host(t, dn, unansweredSale)
			term := dial(t, s, terminal.Config{})
			x, err := term.Sale(1500)
			if !errors.Is(err, connection.ErrSendTimeout) {
				t.Fatalf("sale: err %v, want a timeout", err)
			}
			if want := "no response from the host in 300ms"; !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "message send timeout") {
				t.Errorf("sale: err %q, want it to say %q", err, want)
			}
			stan := get(x.Request, 11)
			p := term.State.Pending
			if p == nil || p.STAN != stan || p.Amount != 1500 || p.Reason != "98" || p.Type != txn.Sale {
				t.Fatalf("pending after the unanswered sale: %+v, want sale %s of 1500, reason 98", p, stan)
			}
			if len(term.State.Records) != 0 {
				t.Errorf("the unanswered sale was booked: %+v", term.State.Records)
			}

			x, err = term.Sale(200)
			if err != nil || x.RC() != txn.Approved {
				t.Fatalf("next sale: err %v RC %s", err, x.RC())
			}
			if len(x.Reversals) != 1 {
				t.Fatalf("next sale went after %d reversals, want 1", len(x.Reversals))
			}
			rev := x.Reversals[0]
			if mti(rev.Request) != "0400" || get(rev.Request, 11) != stan || get(rev.Request, 4) != "000000001500" || get(rev.Request, 39) != "98" {
				t.Errorf("reversal %s STAN %s F4 %s F39 %s; want 0400 STAN %s F4 000000001500 F39 98",
					mti(rev.Request), get(rev.Request, 11), get(rev.Request, 4), get(rev.Request, 39), stan)
			}
			if rev.RC() != txn.Approved || term.State.Pending != nil {
				t.Errorf("reversal RC %s, pending %+v; want 00 and nothing pending", rev.RC(), term.State.Pending)
			}
			if e := s.Journal.Query(journal.Filter{STAN: stan, Txn: "reversal"}); len(e) != 1 || !strings.Contains(e[0].Decision, "reversed") {
				t.Errorf("journal of the reversal: %+v; want the host's sale found and reversed", e)
			}
			if got := get(x.Request, 11); got == stan {
				t.Errorf("the next sale reused STAN %s", got)
			}
			if x, err := term.Echo(); err != nil || len(x.Reversals) != 0 {
				t.Errorf("echo: err %v, %d reversals; want none sent again", err, len(x.Reversals))
			}
		})
	}
}

// TestPendingReversalRetried: a reversal that gets no answer is sent again,
// as 0401, three times; the transaction after it is not sent, and the
// reversal stays pending, across a new connection too, until answered.
// Settlement waits for it as well.
func TestPendingReversalRetried(t *testing.T) {
	s := host(t, "iso87ascii", `  - match: txn in ["sale", "reversal"] && amount == 1500
    action: no-response
`)
	term := dial(t, s, terminal.Config{})
	x, _ := term.Sale(1500)
	stan, next := get(x.Request, 11), term.State.STAN

	x, err := term.Sale(200)
	if !errors.Is(err, terminal.ErrReversalPending) {
		t.Fatalf("sale after an unanswered reversal: err %v, want ErrReversalPending", err)
	}
	var mtis []string
	for _, r := range x.Reversals {
		mtis = append(mtis, mti(r.Request)+"/"+get(r.Request, 11))
	}
	if want := []string{"0400/" + stan, "0401/" + stan, "0401/" + stan, "0401/" + stan}; strings.Join(mtis, " ") != strings.Join(want, " ") {
		t.Errorf("reversals sent %v, want %v", mtis, want)
	}
	if x.Response != nil || term.State.STAN != next {
		t.Errorf("the held-back sale: response %v, STAN counter %d; want none sent and the counter at %d", x.Response, term.State.STAN, next)
	}
	for _, e := range s.Journal.Query(journal.Filter{Txn: "sale"}) {
		if e.Amount == 200 {
			t.Errorf("the host saw the sale of 2.00 (STAN %s) while the reversal was pending", e.STAN)
		}
	}
	if p := term.State.Pending; p == nil || p.Sent != 4 {
		t.Fatalf("pending %+v, want it kept, sent 4 times", p)
	}
	if xs, err := term.Settle(); !errors.Is(err, terminal.ErrReversalPending) || len(xs) != 4 {
		t.Errorf("settle: %d exchanges, err %v; want 4 reversals and no settlement", len(xs), err)
	}

	// What `acqsim send` keeps between runs: a new connection, the state
	// through JSON.
	raw, err := json.Marshal(term.State)
	if err != nil {
		t.Fatal(err)
	}
	term.Close()
	setRules(t, s, "")
	again := dial(t, s, terminal.Config{})
	if err := json.Unmarshal(raw, &again.State); err != nil {
		t.Fatal(err)
	}
	xs, err := again.Settle()
	if err != nil || len(xs) == 0 || len(xs[0].Reversals) != 1 {
		t.Fatalf("settle on a new connection: err %v, %d exchanges; want the reversal, then the settlement", err, len(xs))
	}
	if rev := xs[0].Reversals[0]; mti(rev.Request) != "0401" || rev.RC() != txn.Approved {
		t.Errorf("reversal before settlement: %s RC %s, want 0401 (a repeat) and 00", mti(rev.Request), rev.RC())
	}
	if mti(xs[0].Request) != "0500" || xs[0].RC() != txn.Approved || again.State.Pending != nil {
		t.Errorf("settlement %s RC %s, pending %+v; want 0500 00 and nothing pending", mti(xs[0].Request), xs[0].RC(), again.State.Pending)
	}
}

// TestPendingReversalConnectionLost: a line lost before the answer leaves
// the request pending like a timeout.
func TestPendingReversalConnectionLost(t *testing.T) {
	s := host(t, "iso87ascii", `  - match: txn == "sale" && amount == 1500
    action: reset
`)
	term := dial(t, s, terminal.Config{Timeout: 5 * time.Second})
	x, err := term.Sale(1500)
	if err == nil {
		t.Fatalf("sale answered RC %s through a reset", x.RC())
	}
	p := term.State.Pending
	if p == nil || p.STAN != get(x.Request, 11) || p.Reason != "98" {
		t.Fatalf("pending %+v after the reset, want the sale, reason 98", p)
	}
	again := dial(t, s, terminal.Config{Timeout: 5 * time.Second})
	again.State = term.State
	x, err = again.Sale(300)
	if err != nil || len(x.Reversals) != 1 || x.Reversals[0].RC() != txn.Approved {
		t.Fatalf("sale on a new connection: err %v; want the reversal first, approved", err)
	}
}

// TestBadMACReversedA0: an approval whose MAC does not verify is reversed
// with reason A0.
func TestBadMACReversedA0(t *testing.T) {
	s := host(t, "cup", `  - match: txn == "sale" && amount == 1500
    action: {corrupt: {what: mac}}
`)
	term := dial(t, s, terminal.Config{Timeout: 5 * time.Second})
	if x, err := term.SignOn(); err != nil || !term.Signing() {
		t.Fatalf("sign-on: err %v RC %s, signing %v", err, x.RC(), term.Signing())
	}
	x, err := term.Sale(1500)
	if !errors.Is(err, terminal.ErrBadMAC) {
		t.Fatalf("sale: err %v, want the MAC refused", err)
	}
	stan := get(x.Request, 11)
	x, err = term.Sale(300)
	if err != nil || len(x.Reversals) != 1 {
		t.Fatalf("next sale: err %v, %d reversals", err, len(x.Reversals))
	}
	rev := x.Reversals[0].Request
	if get(rev, 11) != stan || get(rev, 39) != txn.MACError || rev.GetField(64) == nil {
		t.Errorf("reversal STAN %s F39 %s F64 %v; want STAN %s, A0, signed", get(rev, 11), get(rev, 39), rev.GetField(64) != nil, stan)
	}
}

// TestManualReversal: with Config.ManualReversal the terminal keeps the
// pending reversal, sends the next request without it, and leaves it to
// SendPendingReversal.
func TestManualReversal(t *testing.T) {
	s := host(t, "iso87ascii", unansweredSale)
	term := dial(t, s, terminal.Config{ManualReversal: true})
	x, _ := term.Sale(1500)
	stan := get(x.Request, 11)
	x, err := term.Sale(200)
	if err != nil || len(x.Reversals) != 0 || term.State.Pending == nil {
		t.Fatalf("next sale: err %v, %d reversals, pending %+v; want it sent alone, the reversal kept", err, len(x.Reversals), term.State.Pending)
	}
	xs, err := term.SendPendingReversal()
	if err != nil || len(xs) != 1 || get(xs[0].Request, 11) != stan || xs[0].RC() != txn.Approved {
		t.Fatalf("SendPendingReversal: err %v, %d exchanges", err, len(xs))
	}
	if term.State.Pending != nil {
		t.Errorf("pending %+v after the answered reversal", term.State.Pending)
	}
	if xs, err := term.SendPendingReversal(); err != nil || len(xs) != 0 {
		t.Errorf("nothing pending: %d exchanges, err %v", len(xs), err)
	}
}

// TestReverseAnswersThePending: Reverse of the pending STAN takes its
// amount, and an answered one is no longer pending.
func TestReverseAnswersThePending(t *testing.T) {
	s := host(t, "iso87ascii", unansweredSale)
	term := dial(t, s, terminal.Config{})
	x, _ := term.Sale(1500)
	stan := get(x.Request, 11)
	x, err := term.Reverse(stan, 0, "98", false)
	if err != nil || x.RC() != txn.Approved || len(x.Reversals) != 0 {
		t.Fatalf("reverse: err %v RC %s, %d reversals before it", err, x.RC(), len(x.Reversals))
	}
	if get(x.Request, 4) != "000000001500" || term.State.Pending != nil {
		t.Errorf("reversal F4 %s, pending %+v; want the pending sale's 1500 and nothing pending", get(x.Request, 4), term.State.Pending)
	}
}
