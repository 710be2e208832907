package sim_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/txn"
)

const refusalError = "connection refused: 2 connections open (--max-connections)"

// refusals are the journal's entries for connections turned away.
func refusals(s *sim.Sim) []journal.Entry {
	var rs []journal.Entry
	for _, e := range s.Journal.Query(journal.Filter{}) {
		if e.Error == refusalError {
			rs = append(rs, e)
		}
	}
	return rs
}

// echoOK checks that a raw connection is open and answered.
func echoOK(t *testing.T, c *rawTerm, stan string) {
	t.Helper()
	c.echo(stan)
	if rc := field(c.response("echo "+stan), 39); rc != txn.Approved {
		t.Fatalf("echo %s: RC %s", stan, rc)
	}
}

// expectRefused connects and checks that the host hangs up at once, without
// a word.
func expectRefused(t *testing.T, s *sim.Sim) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr(), patience)
	if isReset(err) {
		return // the reset overtook the connect
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &rawTerm{t: t, conn: conn, r: bufio.NewReader(conn), d: s.Dialect}
	if w := c.read(patience); len(w.got) != 0 || !(isReset(w.err) || isEOF(w.err)) {
		t.Fatalf("connection beyond the limit: read %X, then %v; want it reset or closed", w.got, w.err)
	}
}

func TestMaxConnections(t *testing.T) {
	s := start(t, sim.Config{Admin: "off", MaxConnections: 2})
	// An answer means the host has taken the connection in: the third
	// cannot overtake them.
	c1 := rawDial(t, s, "TERM0001", "898100012340001")
	echoOK(t, c1, "000001")
	c2 := rawDial(t, s, "TERM0002", "898100012340001")
	echoOK(t, c2, "000001")

	expectRefused(t, s)
	echoOK(t, c1, "000002")
	echoOK(t, c2, "000002")
	// Journalled before the reset.
	if rs := refusals(s); len(rs) != 1 || rs[0].Conn == "" || rs[0].Decision != "1 refused since the last such entry (this one included)" {
		t.Fatalf("refusals journalled: %+v; want one entry with the address", rs)
	}
	if n := s.Refused(); n != 1 {
		t.Errorf("Refused() = %d, want 1", n)
	}

	// A flood is counted, and journalled at most once a second.
	start := time.Now()
	for range 10 {
		expectRefused(t, s)
	}
	if n := s.Refused(); n != 11 {
		t.Errorf("Refused() = %d after 11 refusals", n)
	}
	if n, most := len(refusals(s)), 2+int(time.Since(start)/time.Second); n > most {
		t.Errorf("%d refusals journalled within %v, want at most %d", n, time.Since(start), most)
	}

	// The terminal hangs up (half-close); once the host has hung up too, its
	// place is free.
	if err := c2.conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if w := c2.read(patience); !isEOF(w.err) {
		t.Fatalf("after the terminal's FIN: read %X, then %v; want the host to hang up", w.got, w.err)
	}
	c4 := rawDial(t, s, "TERM0004", "898100012340001")
	echoOK(t, c4, "000001")
	echoOK(t, c1, "000003")
	if n := s.Connections(); n != 2 {
		t.Errorf("Connections() = %d, want 2", n)
	}
}
