package acqsimtest_test

import (
	"context"
	"fmt"
	"log"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/terminal"
)

func Example() {
	h, err := acqsimtest.Start(acqsimtest.Scenario("insufficient-funds"))
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	term, err := h.Dial(context.Background(), "TERM0001")
	if err != nil {
		log.Fatal(err)
	}
	defer term.Close()

	x, err := term.Sale(1234)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("RC", x.RC())
	fmt.Println("declined sales:", h.Count(journal.Filter{TID: "TERM0001", Txn: "sale", RC: "51"}))
	// Output:
	// RC 51
	// declined sales: 1
}

// In a test, New and Terminal fail the test on error and clean up after it.
func ExampleNew() {
	var t *testing.T // the test's own

	h := acqsimtest.New(t)
	if err := h.Bind("TERM0001", "insufficient-funds"); err != nil {
		t.Fatal(err)
	}
	declined := h.Terminal(t, "TERM0001")
	approved := h.Terminal(t, "TERM0002")
	declined.Sale(1234) // RC 51
	approved.Sale(1234) // RC 00

	h.Verify(t, journal.Filter{Txn: "sale", RC: "51"}, 1)
	h.Verify(t, journal.Filter{Txn: "sale", RC: "00"}, 1)
}

// What the terminal cannot see, a test waits for in the journal: here, a
// connection the host resets before it answers.
func ExampleHost_WaitFor() {
	var t *testing.T // the test's own

	h := acqsimtest.New(t, acqsimtest.Scenario("connection-reset"))
	term := h.Terminal(t, "TERM0001")
	mark := h.Mark()
	if _, err := term.Sale(1234); err == nil {
		t.Fatal("the sale was answered")
	}
	e := h.WaitFor(t, journal.Filter{After: mark, TID: "TERM0001", Txn: "sale"}, nil)
	t.Logf("the host decided %q", e.Action)

	// Or n of them, as Verify counts them.
	h.Wait(t, journal.Filter{After: mark, TID: "TERM0001"}, 1)
}

// The README's acqsimtest example, as written there (a docs test checks
// that the two stay the same).
func TestTerminalReversesOnTimeout(t *testing.T) {
	h := acqsimtest.New(t, acqsimtest.Dialect("cup"))
	if err := h.Bind("TERM0001", "timeout"); err != nil { // this terminal's sales get no answer
		t.Fatal(err)
	}
	runMyTerminal(t, h.Addr(), "TERM0001") // your code under test: a sale, then its reversal
	h.Verify(t, journal.Filter{TID: "TERM0001", Txn: "reversal"}, 1)
}

// runMyTerminal stands for the terminal code under test: a cup terminal
// that sells, gets no answer within its timeout, and reverses the sale
// (0400, reason 98 no response), as a terminal must.
func runMyTerminal(t *testing.T, addr, tid string) {
	t.Helper()
	cup, err := fixtures.Dialect("cup")
	if err != nil {
		t.Fatal(err)
	}
	cfg := terminal.Config{
		Addr: addr, Dialect: cup, Header: dialect.Binary2, TID: tid, MID: acqsimtest.MID,
		Card: terminal.DefaultCard, Timeout: acqsimtest.TerminalTimeout,
	}
	// The host never answers the sale: the shorter the wait, the sooner the
	// test is over.
	impatient := cfg
	impatient.Timeout = 200 * time.Millisecond
	term, err := terminal.Dial(t.Context(), impatient)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	if x, err := term.Sale(1234); err == nil {
		t.Fatalf("the sale was answered (RC %s), want no answer", x.RC())
	}
	stan := fmt.Sprintf("%06d", term.State.STAN)

	// The reversal goes on a connection of its own, with time to be answered.
	rev, err := terminal.Dial(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rev.Close()
	x, err := rev.Reverse(stan, 1234, "98", false)
	if err != nil {
		t.Fatalf("reversal of STAN %s: %v", stan, err)
	}
	if x.RC() != "00" {
		t.Fatalf("reversal of STAN %s: RC %s, want 00", stan, x.RC())
	}
}
