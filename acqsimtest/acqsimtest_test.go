package acqsimtest_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// declineYAML declines sales of 100.00 or more with 51; smaller ones get the
// default approval, so one host shows both answers.
const declineYAML = `name: big-sales-declined
rules:
  - name: big sales declined
    match: txn == "sale" && amount >= 10000
    respond: { rc: "51" }
`

// firstSaleYAML declines each terminal's first sale with 05, then lets the
// rest through: its counters show what a reset forgets.
const firstSaleYAML = `name: first-sale-declined
rules:
  - name: first sale declined
    match: txn == "sale"
    steps:
      - times: 1
        respond: { rc: "05" }
`

// sale sends a sale and checks its RC.
func sale(t *testing.T, term *terminal.Terminal, amount int64, rc string) *terminal.Exchange {
	t.Helper()
	x, err := term.Sale(amount)
	if err != nil {
		t.Fatalf("sale of %d: %v", amount, err)
	}
	if got := x.RC(); got != rc {
		t.Fatalf("sale of %d: RC %s, want %s", amount, got, rc)
	}
	return x
}

func TestBindPerTerminal(t *testing.T) {
	tests := []struct {
		name, scenario, rule string
	}{
		{"by name", "insufficient-funds", "sales declined for funds"},
		{"by YAML", declineYAML, "big sales declined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := acqsimtest.New(t)
			if err := h.Bind("TERM0001", tt.scenario); err != nil {
				t.Fatal(err)
			}
			bound, other := h.Terminal(t, "TERM0001"), h.Terminal(t, "TERM0002")

			sale(t, bound, 12345, "51")
			sale(t, other, 12345, txn.Approved)

			e := h.Journal(journal.Filter{TID: "TERM0001", Txn: "sale"})
			if len(e) != 1 || e[0].RC != "51" || e[0].Rule != tt.rule || e[0].Scenario == "" {
				t.Errorf("journal of the bound terminal's sale: %+v", e)
			}
			h.Verify(t, journal.Filter{TID: "TERM0002", Txn: "sale", RC: txn.Approved}, 1)
			h.Verify(t, journal.Filter{Rule: tt.rule}, 1)

			h.Unbind("TERM0001")
			sale(t, bound, 12345, txn.Approved)
		})
	}
}

func TestGlobalScenario(t *testing.T) {
	for _, sc := range []string{"insufficient-funds", declineYAML} {
		name, _, _ := strings.Cut(sc, "\n")
		t.Run(name, func(t *testing.T) {
			h := acqsimtest.New(t, acqsimtest.Scenario(sc))
			a, b := h.Terminal(t, "TERM0001"), h.Terminal(t, "TERM0002")
			sale(t, a, 12345, "51")
			sale(t, b, 12345, "51")

			// "" binds the default host behaviour, whatever the global scenario.
			if err := h.Bind("TERM0002", ""); err != nil {
				t.Fatal(err)
			}
			sale(t, a, 12345, "51")
			sale(t, b, 12345, txn.Approved)

			if err := h.SetScenario(""); err != nil {
				t.Fatal(err)
			}
			sale(t, a, 12345, txn.Approved)

			if err := h.SetScenario("insufficient-funds"); err != nil {
				t.Fatal(err)
			}
			sale(t, a, 12345, "51")
			h.Verify(t, journal.Filter{TID: "TERM0001", RC: "51"}, 3)
		})
	}
}

// TestYAMLJoinsTheLibrary: a scenario given as YAML joins the host's library,
// so it can be named afterwards.
func TestYAMLJoinsTheLibrary(t *testing.T) {
	h := acqsimtest.New(t)
	if err := h.Bind("TERM0001", declineYAML); err != nil {
		t.Fatal(err)
	}
	if err := h.Bind("TERM0002", "big-sales-declined"); err != nil {
		t.Fatal(err)
	}
	sale(t, h.Terminal(t, "TERM0002"), 20000, "51")
}

func TestScenarioErrors(t *testing.T) {
	if _, err := acqsimtest.Start(acqsimtest.Scenario("no-such-scenario")); err == nil ||
		!strings.Contains(err.Error(), "no-such-scenario") {
		t.Errorf("Start with an unknown scenario: %v", err)
	}
	bad := "name: broken\nrules:\n  - match: txn ==\n"
	if _, err := acqsimtest.Start(acqsimtest.Scenario(bad)); err == nil || !strings.Contains(err.Error(), "scenario:") {
		t.Errorf("Start with broken YAML: %v, want an error giving its line", err)
	}
	if _, err := acqsimtest.Start(acqsimtest.Dialect("iso93")); err == nil {
		t.Error("Start with an unknown dialect: no error")
	}
	if _, err := acqsimtest.Start(acqsimtest.LengthHeader("ascii5")); err == nil {
		t.Error("Start with an unknown length header: no error")
	}

	h := acqsimtest.New(t, acqsimtest.Scenario("insufficient-funds"))
	if err := h.Bind("TERM0001", "no-such-scenario"); err == nil || !strings.Contains(err.Error(), "TERM0001") {
		t.Errorf("Bind of an unknown scenario: %v", err)
	}
	if err := h.SetScenario(bad); err == nil {
		t.Error("SetScenario of broken YAML: no error")
	}
	// A failed change leaves the host as it was.
	sale(t, h.Terminal(t, "TERM0001"), 100, "51")
}

// TestClock: the maintenance window (23:50 to 00:10 on the host's clock)
// follows Clock, SetClock and Advance.
func TestClock(t *testing.T) {
	noon := time.Date(2026, 3, 10, 12, 0, 0, 0, time.Local)
	h := acqsimtest.New(t, acqsimtest.Scenario("maintenance-window"), acqsimtest.Clock(noon))
	term := h.Terminal(t, "TERM0001")

	if now := h.Now(); now.Before(noon) || now.After(noon.Add(time.Minute)) {
		t.Fatalf("host clock reads %v, want just after %v", now, noon)
	}
	sale(t, term, 100, txn.Approved)

	late := time.Date(2026, 3, 10, 23, 55, 0, 0, time.Local)
	if err := h.SetClock(late); err != nil {
		t.Fatal(err)
	}
	sale(t, term, 100, "91")
	e := h.Journal(journal.Filter{RC: "91"})
	if len(e) != 1 || e[0].Time.Before(late) || !e[0].Time.Before(late.Add(time.Minute)) {
		t.Errorf("journal of the 91: %+v, want one at %v", e, late)
	}

	if err := h.Advance(20 * time.Minute); err != nil { // 00:15: the window has closed
		t.Fatal(err)
	}
	sale(t, term, 100, txn.Approved)
	h.Verify(t, journal.Filter{Since: late.Add(15 * time.Minute), RC: txn.Approved}, 1)
}

// recorder is a testing.TB that records failures instead of failing the
// test; anything else it is asked to do panics (the embedded TB is nil).
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// Fatalf stops the goroutine, as testing.T's does.
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.fatal = true
	runtime.Goexit()
}

func TestVerify(t *testing.T) {
	h := acqsimtest.New(t, acqsimtest.Scenario("insufficient-funds"))

	rec := &recorder{}
	if h.Verify(rec, journal.Filter{}, 1) || len(rec.errors) != 1 ||
		!strings.Contains(rec.errors[0], "want 1 exchange matching {}, got 0") ||
		!strings.Contains(rec.errors[0], "the journal is empty") {
		t.Errorf("Verify on an empty journal: %q", rec.errors)
	}

	term := h.Terminal(t, "TERM0001")
	if _, err := term.SignOn(); err != nil {
		t.Fatal(err)
	}
	sale(t, term, 1234, "51")
	sale(t, term, 99, "51")

	rec = &recorder{}
	if !h.Verify(rec, journal.Filter{TID: "TERM0001", Txn: "sale", RC: "51"}, 2) || len(rec.errors) != 0 {
		t.Errorf("Verify of what arrived: failed with %q", rec.errors)
	}

	rec = &recorder{}
	if h.Verify(rec, journal.Filter{TID: "TERM0001", Txn: "sale", Rule: "sales declined for funds"}, 3) {
		t.Fatal("Verify of 3 sales when 2 arrived passed")
	}
	if len(rec.errors) != 1 || rec.fatal {
		t.Fatalf("Verify reported %q (fatal %v), want one Errorf", rec.errors, rec.fatal)
	}
	msg := rec.errors[0]
	t.Logf("the failure reads:\n%s", msg)
	lines := strings.Split(msg, "\n")
	if want := `want 3 exchanges matching {TID=TERM0001 Txn=sale Rule="sales declined for funds"}, got 2`; !strings.Contains(lines[0], want) {
		t.Errorf("first line %q, want it to say %q", lines[0], want)
	}
	if len(lines) != 5 || !strings.Contains(lines[1], "holds 3 exchanges") {
		t.Fatalf("failure lists %d lines, want a heading and the 3 exchanges:\n%s", len(lines), msg)
	}
	for i, want := range []struct {
		mark string
		has  []string
	}{
		{" ", []string{"#1 ", "MTI=0800 Txn=signon STAN=000001", "RC=00"}},
		{"*", []string{"#2 ", "MTI=0200 Txn=sale STAN=000002", `Amount=1234 RC=51 Scenario=insufficient-funds Rule="sales declined for funds"`}},
		{"*", []string{"#3 ", "STAN=000003", "Amount=99 RC=51"}},
	} {
		line := lines[2+i]
		if !strings.HasPrefix(line, "  "+want.mark+" #") {
			t.Errorf("line %q, want it marked %q", line, want.mark)
		}
		for _, has := range append(want.has, "TID=TERM0001") {
			if !strings.Contains(line, has) {
				t.Errorf("line %q, want %q in it", line, has)
			}
		}
	}
	if strings.Contains(msg, terminal.DefaultCard.PAN[:6]) {
		t.Error("the failure message carries card data")
	}
}

// TestNewFailsTheTest: a host that cannot start fails the test at once.
func TestNewFailsTheTest(t *testing.T) {
	rec := &recorder{}
	returned := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		acqsimtest.New(rec, acqsimtest.Dialect("iso93"))
		returned = true
	}()
	<-done
	if !rec.fatal || returned || len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "iso93") {
		t.Errorf("New with a bad dialect: fatal %v, returned %v, errors %q", rec.fatal, returned, rec.errors)
	}
}

// TestReset: Reset forgets every terminal's scenario counters and the
// journal; ResetTerminal forgets one terminal's counters and keeps the journal.
func TestReset(t *testing.T) {
	h := acqsimtest.New(t, acqsimtest.Scenario(firstSaleYAML))
	a, b := h.Terminal(t, "TERM0001"), h.Terminal(t, "TERM0002")
	for _, term := range []*terminal.Terminal{a, b} {
		sale(t, term, 100, "05")
		sale(t, term, 100, txn.Approved)
	}

	h.ResetTerminal("TERM0001")
	sale(t, a, 100, "05")
	sale(t, b, 100, txn.Approved)
	h.Verify(t, journal.Filter{Txn: "sale"}, 6)
	h.Verify(t, journal.Filter{Txn: "reset", TID: "TERM0001"}, 1)

	h.Reset()
	if got := h.Journal(journal.Filter{}); len(got) != 1 || got[0].Txn != "reset" || got[0].TID != "" {
		t.Errorf("journal after Reset: %+v, want the reset alone", got)
	}
	sale(t, a, 100, "05")
	sale(t, b, 100, "05")
	sale(t, b, 100, txn.Approved)
	h.Verify(t, journal.Filter{Txn: "sale"}, 3)
}

func TestDialectAndLengthHeader(t *testing.T) {
	tests := []struct{ dialect, header string }{
		{"iso87ascii", "ascii4"},
		{"cup", "binary2"},
		{"cup", "bcd2"},
	}
	for _, tt := range tests {
		t.Run(tt.dialect+"/"+tt.header, func(t *testing.T) {
			h := acqsimtest.New(t, acqsimtest.Dialect(tt.dialect), acqsimtest.LengthHeader(tt.header))
			term := h.Terminal(t, "TERM0001")
			if x, err := term.SignOn(); err != nil || x.RC() != txn.Approved {
				t.Fatalf("sign-on: %v", err)
			}
			sale(t, term, 100, txn.Approved)
			for _, e := range h.Journal(journal.Filter{}) {
				if e.Dialect != tt.dialect || e.MID != acqsimtest.MID {
					t.Errorf("journal entry in dialect %q from %q, want %q from %q", e.Dialect, e.MID, tt.dialect, acqsimtest.MID)
				}
			}
		})
	}
}

// TestSeed: the same seed draws the same answers from a scenario that
// declines half the sales at random; another seed draws others.
func TestSeed(t *testing.T) {
	const coin = `name: coin
rules:
  - name: heads
    match: txn == "sale"
    probability: 0.5
    respond: { rc: "51" }
`
	draw := func(seed uint64) string {
		h := acqsimtest.New(t, acqsimtest.Seed(seed), acqsimtest.Scenario(coin))
		term := h.Terminal(t, "TERM0001")
		var rcs []string
		for range 32 {
			x, err := term.Sale(100)
			if err != nil {
				t.Fatal(err)
			}
			rcs = append(rcs, x.RC())
		}
		return strings.Join(rcs, " ")
	}
	first, again, other := draw(7), draw(7), draw(8)
	if first != again {
		t.Errorf("seed 7 drew\n%s\nthen\n%s", first, again)
	}
	if first == other {
		t.Errorf("seeds 7 and 8 both drew %s", first)
	}
	if !strings.Contains(first, "51") || !strings.Contains(first, txn.Approved) {
		t.Errorf("seed 7 drew %s, want heads and tails", first)
	}
}

func TestAdminURL(t *testing.T) {
	h := acqsimtest.New(t)
	resp, err := http.Get(h.AdminURL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s/healthz: %s", h.AdminURL(), resp.Status)
	}
	if host, _, _ := net.SplitHostPort(h.Addr()); host != "127.0.0.1" {
		t.Errorf("terminals' address %s, want loopback", h.Addr())
	}

	off := acqsimtest.New(t, acqsimtest.Configure(func(c *sim.Config) { c.Admin = "off" }))
	if off.AdminURL() != "" {
		t.Errorf("AdminURL with the admin API off: %q", off.AdminURL())
	}
}

// TestCleanup: what New and Terminal open is closed when the test ends, and
// Close may be called again.
func TestCleanup(t *testing.T) {
	var (
		addr string
		term *terminal.Terminal
	)
	t.Run("use", func(t *testing.T) {
		h := acqsimtest.New(t)
		addr, term = h.Addr(), h.Terminal(t, "TERM0001")
		sale(t, term, 100, txn.Approved)
	})
	if _, err := term.Echo(); err == nil {
		t.Error("the terminal still answers after its test ended")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("the host still listens on %s after its test ended", addr)
	}

	h, err := acqsimtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	term, err = h.Dial(context.Background(), "TERM0001")
	if err != nil {
		t.Fatal(err)
	}
	term.Close()
	if err1, err2 := h.Close(), h.Close(); err1 != nil || err2 != nil {
		t.Errorf("Close, Close: %v, %v", err1, err2)
	}
}

// TestVerifyLongJournal: a failure lists the latest exchanges only, and
// writes times in a filter in full.
func TestVerifyLongJournal(t *testing.T) {
	start := time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC)
	h := acqsimtest.New(t, acqsimtest.Clock(start))
	h.Sim().Clock.Freeze(true) // Sim reaches what Host does not wrap
	term := h.Terminal(t, "TERM0001")
	for range 60 {
		if _, err := term.Echo(); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	h.Verify(rec, journal.Filter{Txn: "sale", Since: start}, 1)
	if len(rec.errors) != 1 {
		t.Fatalf("Verify reported %q, want one failure", rec.errors)
	}
	lines := strings.Split(rec.errors[0], "\n")
	if want := "{Txn=sale Since=2026-03-10T09:30:00Z}, got 0"; !strings.HasSuffix(lines[0], want) {
		t.Errorf("first line %q, want it to end %q", lines[0], want)
	}
	if len(lines) != 2+1+50 || lines[2] != "    ... 10 earlier not shown" ||
		!strings.HasPrefix(lines[3], "    #11 ") || !strings.HasPrefix(lines[52], "    #60 ") {
		t.Errorf("failure lists:\n%s\nwant the latest 50 of 60 echoes", rec.errors[0])
	}
}

// TestAdminClient: Admin is a client of the host's own admin API, with its
// token, and nil when the API is off.
func TestAdminClient(t *testing.T) {
	h := acqsimtest.New(t, acqsimtest.AdminToken("s3cret-token-for-tests"))
	term := h.Terminal(t, "TERM0001")
	if x, err := term.Sale(100); err != nil || x.RC() != "00" {
		t.Fatalf("sale: %v", err)
	}
	entries, err := h.Admin().Journal(context.Background(), journal.Filter{TID: "TERM0001"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("the journal through Admin: %d entries, %v; want the sale", len(entries), err)
	}
	if off := acqsimtest.New(t, acqsimtest.Admin("off")); off.Admin() != nil {
		t.Error("Admin is not nil with the admin API off")
	}
}
