package acqsimtest_test

import (
	"context"
	"fmt"
	"log"
	"testing"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/journal"
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
