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
// What a terminal cannot see from its side of the wire (an exchange that
// got no answer, a connection the host reset, a request still being
// decided) a test waits for in the journal: Wait and WaitFor wake on the
// journal's own news, never on a timer, and fail the test after
// WaitTimeout with what did arrive. A Mark taken before the test acts
// leaves out what came before:
//
//	mark := h.Mark()
//	go term.Sale(1234) // the scenario holds the answer back a minute
//	e := h.WaitFor(t, journal.Filter{After: mark, Txn: "sale"}, nil) // decided already
//
// The package-level Wait, WaitFor and Mark do the same on any journal,
// such as that of a host started with sim.Start.
//
// Outside a test (an Example, a TestMain), Start and Close do the same
// as New without a testing.TB.
package acqsimtest
