package sim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// TestJournalUnwritable: when the journal file cannot be written (a full
// disk, a file made read-only), the exchange that finds out is not answered (its decision is booked but not
// journalled; the terminal reverses it), every request after it gets 96 and
// decides nothing, /healthz says why (503); when the journal is back the host
// recovers by itself, and the terminal settles in balance.
func TestJournalUnwritable(t *testing.T) {
	s := start(t, sim.Config{JournalFile: filepath.Join(t.TempDir(), "journal.db")})
	term, err := terminal.Dial(context.Background(), terminal.Config{
		Addr: s.Addr(), Dialect: s.Dialect, Header: dialect.Binary2,
		TID: "FULL0001", MID: "898100012340001", Timeout: time.Second, // the one unanswered sale waits this long
	})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	health := func() (int, map[string]string) {
		resp, err := http.Get("http://" + s.AdminAddr() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}

	x, err := term.Sale(1000)
	expect(t, "sale before the journal fails", x, err, txn.Approved)
	if code, _ := health(); code != http.StatusOK {
		t.Fatalf("healthz %d before the journal fails, want 200", code)
	}

	if err := s.Journal.SetWritable(false); err != nil {
		t.Fatal(err)
	}
	x, err = term.Sale(2000)
	lost := expectTimeout(t, "the sale the journal fails under", x, err)
	for range 3 {
		x, err = term.Sale(3000)
		expect(t, "sale with the journal unwritable", x, err, txn.SystemError)
	}
	code, body := health()
	if code != http.StatusServiceUnavailable || body["status"] != "failing" || !strings.Contains(body["journal"], "readonly") {
		t.Errorf("healthz with the journal unwritable: %d %v, want 503 failing, saying why", code, body)
	}
	x, err = term.Reverse(lost, 2000, "98", false)
	expect(t, "reversal with the journal unwritable", x, err, txn.SystemError)

	if err := s.Journal.SetWritable(true); err != nil {
		t.Fatal(err)
	}
	// The first request after the journal is back is still answered 96 (the
	// host learns it is back by journalling that answer); then it decides.
	x, err = term.Sale(4000)
	expect(t, "first sale after the journal is back", x, err, txn.SystemError)
	x, err = term.Sale(5000)
	expect(t, "sale after the journal is back", x, err, txn.Approved)
	if code, _ := health(); code != http.StatusOK {
		t.Errorf("healthz %d after the journal is back, want 200", code)
	}
	x, err = term.Reverse(lost, 2000, "98", false)
	expect(t, "the reversal again, after the journal is back", x, err, txn.Approved)

	// The books: the sales approved before and after, nothing from the outage.
	term.State.Records = nil
	xs, err := term.SettleWithTotals(txn.Totals{DebitCount: 2, DebitAmount: 6000})
	if err != nil || len(xs) != 1 || xs[0].RC() != txn.Approved {
		rc := ""
		if len(xs) > 0 {
			rc = xs[0].RC()
		}
		t.Fatalf("settlement after the outage: %v, RC %q; want balanced (2 debits, 60.00)", err, rc)
	}
}
