package metrics_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/metrics"
	"github.com/acqsim/acqsim/terminal"
)

// actsScenario does, by amount, one of each thing a scenario can do to a
// sale that the metrics count by kind.
const actsScenario = `name: every-act
terminals:
  "TERM0009": { status: frozen }
merchants:
  "*":
    settlement:
      fees: { debit: 0.005, debit_cap: 2000 }
      faults: [fee-no-cap]
rules:
  - name: declined
    match: amount == 5100
    respond: { rc: "51" }
  - name: cut off
    match: amount == 1300
    action: close
  - name: slow
    match: amount >= 1200
    delay: 1ms
limits:
  - { period: txn, max_amount: 5000000, rc: "61" }
`

// TestActsEndToEnd runs a real scenario through the engine and the host on
// loopback and checks the fault kinds it is counted by: if the engine's
// kinds and the metrics' labels drift apart, it fails.
func TestActsEndToEnd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "every-act.yaml")
	if err := os.WriteFile(file, []byte(actsScenario), 0o600); err != nil {
		t.Fatal(err)
	}
	s := acqsimtest.New(t, acqsimtest.Admin("off"), acqsimtest.Scenario(file)).Sim()
	url := serve(t, metrics.New(s.Journal, s.Connections))

	dial := func(tid string) *terminal.Terminal {
		t.Helper()
		term, err := terminal.Dial(context.Background(), terminal.Config{
			Addr: s.Addr(), Dialect: s.Dialect, Header: dialect.Binary2,
			TID: tid, MID: "898100012340001", Timeout: 5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { term.Close() })
		return term
	}
	term := dial("TERM0001")
	for _, amount := range []int64{5100, 1200, 6_000_000} {
		if _, err := term.Sale(amount); err != nil {
			t.Fatalf("sale of %d: %v", amount, err)
		}
	}
	// The host closes the connection instead of answering; the exchange is
	// journalled (and counted) before.
	if _, err := dial("TERM0001").Sale(1300); err == nil {
		t.Error("sale of 1300: answered, want the connection closed")
	}
	if _, err := dial("TERM0009").Sale(1000); err != nil {
		t.Fatalf("sale of the frozen terminal: %v", err)
	}

	// The words stay what they were: the journal's Action is read by people
	// and tools outside.
	entries := s.Journal.Query(journal.Filter{Scenario: "every-act"})
	if len(entries) != 5 {
		t.Fatalf("%d entries of the scenario, want 5", len(entries))
	}
	for _, e := range entries {
		want := map[int64]string{
			5100:      "books fault: fee-no-cap, respond rc=51",
			1200:      "books fault: fee-no-cap, delay 1ms",
			6_000_000: "books fault: fee-no-cap, limit 1: respond rc=61, delay 1ms",
			1300:      "books fault: fee-no-cap, close",
			1000:      "terminal frozen",
		}[e.Amount]
		if e.Action != want {
			t.Errorf("sale of %d: Action %q, want %q", e.Amount, e.Action, want)
		}
	}

	got := scrape(t, url)
	want := map[string]float64{
		`acqsim_faults_total{kind="respond"}`:                1, // 5100
		`acqsim_faults_total{kind="delay"}`:                  2, // 1200, 6000000
		`acqsim_faults_total{kind="limit"}`:                  1, // 6000000
		`acqsim_faults_total{kind="close"}`:                  1, // 1300
		`acqsim_faults_total{kind="books-fault:fee-no-cap"}`: 4, // every sale of TERM0001
		`acqsim_faults_total{kind="terminal-status"}`:        1, // TERM0009
	}
	for s, v := range want {
		if got[s] != v {
			t.Errorf("%s = %v, want %v", s, got[s], v)
		}
	}
	for s, v := range series(got, "acqsim_faults_total") {
		if _, ok := want[s]; !ok && v != 0 {
			t.Errorf("unexpected %s = %v", s, v)
		}
	}
}

// TestErrorKindsEndToEnd sends a host on loopback what it cannot read and
// checks the error kinds the host's journal entries are counted by.
func TestErrorKindsEndToEnd(t *testing.T) {
	h := acqsimtest.New(t, acqsimtest.Admin("off"))
	s := h.Sim()
	url := serve(t, metrics.New(s.Journal, s.Connections))

	preamble := make([]byte, s.Dialect.Preamble)
	for _, tt := range []struct {
		name  string
		frame []byte // length header and what follows, then the connection closes
	}{
		{"a message type indicator that does not decode", append(append([]byte{0, byte(len(preamble) + 4)}, preamble...), "ZZZZ"...)},
		{"a connection closed inside a frame", []byte{0, 100, '0', '2'}},
	} {
		mark := h.Mark()
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(tt.frame); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		c.Close()
		// Observed, so counted, before a query can see it.
		if e := h.WaitFor(t, journal.Filter{After: mark}, nil); e.Error == "" {
			t.Errorf("%s: journalled without an error: %+v", tt.name, e)
		}
	}

	got := scrape(t, url)
	for kind, want := range map[string]float64{"format": 1, "frame": 1, "response": 0, "write": 0, "other": 0} {
		if s := `acqsim_errors_total{kind="` + kind + `"}`; got[s] != want {
			t.Errorf("%s = %v, want %v", s, got[s], want)
		}
	}
}
