package sim_test

import (
	"path/filepath"
	"testing"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/txn"
)

// TestDurableJournalRestart: with a journal file, a host that stops and
// starts again has the same books: a void and a reversal made before the
// restart still count, a retransmission is still recognised, a reset is not
// undone, and the terminal settles in balance.
func TestDurableJournalRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "journal.db")
	cfg := sim.Config{JournalFile: file}

	s := startUntil(t, cfg)
	term := dial(t, s, dialect.Binary2, "DURA0001")
	x, err := term.Sale(999)
	expect(t, "sale before the reset", x, err, txn.Approved)
	s.Reset() // forgets that sale, for good
	term.State.Records = nil
	x, err = term.Sale(1000)
	expect(t, "sale", x, err, txn.Approved)
	first := x
	x, err = term.Sale(2000)
	expect(t, "sale to void", x, err, txn.Approved)
	x, err = term.Void(term.Last(txn.Sale))
	expect(t, "void", x, err, txn.Approved)
	x, err = term.Sale(3000)
	expect(t, "sale to reverse", x, err, txn.Approved)
	x, err = term.Reverse(x.Get(11), 0, "98", false)
	expect(t, "reversal", x, err, txn.Approved)
	state := term.State
	term.Close()
	stop(t, s)

	s = startUntil(t, cfg)
	term = dial(t, s, dialect.Binary2, "DURA0001")
	term.State = state
	again, err := term.Send(txn.Sale, first.Request)
	expect(t, "the first sale again, after the restart", again, err, txn.Approved)
	if again.Get(37) != first.Get(37) {
		t.Errorf("retransmission after the restart answered RRN %s, want the first %s", again.Get(37), first.Get(37))
	}
	x, err = term.Sale(4000)
	expect(t, "sale after the restart", x, err, txn.Approved)
	if x.Get(37) == first.Get(37) {
		t.Errorf("a new sale after the restart reused RRN %s", x.Get(37))
	}
	xs, err := term.Settle()
	if err != nil || len(xs) != 1 || xs[0].RC() != txn.Approved {
		t.Fatalf("settlement after the restart: err %v, %d exchanges; want balanced at once", err, len(xs))
	}
}

// startUntil starts a host, through acqsimtest, that the test stops itself
// (stop), so that a second one can open the same journal file.
func startUntil(t *testing.T, cfg sim.Config) *sim.Sim {
	t.Helper()
	h, err := acqsimtest.Start(acqsimtest.Configure(func(c *sim.Config) {
		cfg.Listen, cfg.Admin = c.Listen, "off"
		*c = cfg
	}))
	if err != nil {
		t.Fatal(err)
	}
	return h.Sim()
}

func stop(t *testing.T, s *sim.Sim) {
	t.Helper()
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestReplayKeepsSettlementDates: a transaction's settlement date is what
// the host said then, even when the host restarts with another calendar.
func TestReplayKeepsSettlementDates(t *testing.T) {
	file := filepath.Join(t.TempDir(), "journal.db")
	s := startUntil(t, sim.Config{JournalFile: file})
	term := dial(t, s, dialect.Binary2, "DURA0002")
	x, err := term.Sale(1000)
	expect(t, "sale", x, err, txn.Approved)
	before := s.Books.Records()[0].Terms.Settlement
	term.Close()
	stop(t, s)

	// The same day is a holiday now: a new sale would settle later.
	s = startUntil(t, sim.Config{JournalFile: file, Holidays: []string{before.Format("2006-01-02")}})
	defer stop(t, s)
	if after := s.Books.Records()[0].Terms.Settlement; !after.Equal(before) {
		t.Errorf("after the restart the sale settles on %v, it was told %v", after, before)
	}
}
