package sim_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// TestShutdownWithDelaysPending: a host holding answers for a scripted 60 s
// delay shuts down within its grace period, without waiting for them, and
// its journal file says of each that it was decided and never delivered.
func TestShutdownWithDelaysPending(t *testing.T) {
	const sales = 3
	file := filepath.Join(t.TempDir(), "journal.db")
	s := startUntil(t, sim.Config{JournalFile: file, Scenario: "late-response"})

	var wg sync.WaitGroup
	for i := range sales {
		term, err := terminal.Dial(context.Background(), terminal.Config{
			Addr: s.Addr(), Dialect: s.Dialect, Header: dialect.Binary2,
			TID: "LATE000" + string(rune('1'+i)), MID: "898100012340001", Timeout: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer term.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if x, err := term.Sale(1000); err == nil {
				t.Errorf("a sale was answered (RC %s) by a host that shut down during its 65 s delay", x.RC())
			}
		}()
	}
	acqsimtest.Wait(t, s.Journal, journal.Filter{Txn: string(txn.Sale)}, sales) // decided, the delay begun

	const grace = 5 * time.Second
	ctx, stopGrace := context.WithTimeout(context.Background(), grace)
	defer stopGrace()
	began := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with answers pending: %v after %v (grace %v)", err, time.Since(began), grace)
	}
	wg.Wait()

	j, err := journal.Open(file, 100, false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var answered, abandoned int
	for _, e := range j.Query(journal.Filter{Txn: string(txn.Sale)}) {
		switch {
		case e.Error == "" && e.RC == txn.Approved:
			answered++
		case strings.Contains(e.Error, "not delivered"):
			abandoned++
		}
	}
	if answered != sales || abandoned != sales {
		t.Errorf("journal file: %d sales decided and %d never delivered, want %d of each", answered, abandoned, sales)
	}
}
