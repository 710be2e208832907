// Package acqsimtest runs an acqsim host inside a Go test, the way
// net/http/httptest runs an HTTP server.
//
// New starts a host on loopback for the length of a test and shuts it down
// when the test ends; Terminal dials a terminal emulator to it. Between the
// two, a test binds scenarios to terminals, moves the host's clock and asks
// the journal what arrived:
//
//	h := acqsimtest.New(t, acqsimtest.Scenario("insufficient-funds"))
//	term := h.Terminal(t, "TERM0001")
//	x, err := term.Sale(1234) // x.RC() == "51"
//	h.Verify(t, journal.Filter{TID: "TERM0001", Txn: "sale", RC: "51"}, 1)
//
// Outside a test (an Example, a TestMain), Start and Close do the same
// without a testing.TB.
package acqsimtest
