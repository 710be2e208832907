package host_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/host/fault"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/txn"
)

// as returns a golden iso87ascii request sent by another terminal (F41).
func as(t testing.TB, body []byte, tid string) []byte {
	t.Helper()
	return replace(t, body, []byte("TERM0001"), []byte(tid))
}

// expectReset checks that the host aborts the connection with a TCP RST, and
// sends nothing before it.
func (c *term) expectReset(what string) {
	c.t.Helper()
	if err := c.readEnd(); !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("%s: read %v, want a reset", what, err)
	}
}

// TestTerminalRefuse: a refuse from a scenario bound to one terminal turns
// away that terminal's new connections alone, at their first message, and
// leaves every other terminal's alone (it reset them all at accept).
func TestTerminalRefuse(t *testing.T) {
	s := start(t, sim.Config{})
	sc, err := scenarios.Load("refuse.yaml", []byte("name: refuse\nrules:\n  - match: txn == \"sale\"\n    action: {refuse: {for: 1h}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s.Engine.Bind("TERM0001", sc)
	sale, echo := golden(t, "iso87ascii", "sale-request"), golden(t, "iso87ascii", "echo-request")

	a := dial(t, s)
	a.send(sale)
	a.expect("the refusing sale", "0210", txn.Approved)

	// Another terminal connects and transacts as if nothing happened.
	b := dial(t, s)
	b.send(as(t, echo, "TERM0002"))
	b.expect("another terminal's echo on a new connection", "0810", txn.Approved)
	b.send(as(t, withSTAN(t, "iso87ascii", "000201"), "TERM0002"))
	b.expect("another terminal's sale", "0210", txn.Approved)

	// The refusing terminal's new connection is reset at its first
	// message, unanswered; its old one carries on.
	a2 := dial(t, s)
	a2.send(echo)
	a2.expectReset("the refused terminal's new connection")
	a.send(echo)
	a.expect("echo on the refused terminal's old connection", "0810", txn.Approved)

	refused := func() []journal.Entry {
		var es []journal.Entry
		for _, e := range journalErrors(s) {
			if strings.HasPrefix(e.Error, "connection refused: the scenario of terminal TERM0001 refuses its new connections for another 1h0m0s (refuse)") {
				es = append(es, e)
			}
		}
		return es
	}
	if es := refused(); len(es) != 1 || es[0].TID != "TERM0001" || es[0].MTI != "0800" || es[0].Conn == "" ||
		es[0].Decision != "1 refused since the last such entry (this one included)" {
		t.Fatalf("journal of the refusal: %+v; want one entry naming the terminal and its request", es)
	}
	// A second refusal within the second is counted, not journalled.
	a3 := dial(t, s)
	a3.send(echo)
	a3.expectReset("the refused terminal's third connection")
	if es := refused(); len(es) != 1 {
		t.Errorf("%d refusals journalled within a second, want 1", len(es))
	}
	// Other terminals' connections are never refused.
	c := dial(t, s)
	c.send(as(t, echo, "TERM0003"))
	c.expect("a third terminal's echo", "0810", txn.Approved)
}

// planner plans every request as its func says.
type planner func(r *txn.Request, now time.Time) scenarios.Plan

func (p planner) Plan(r *txn.Request, now time.Time) scenarios.Plan { return p(r, now) }

// TestRefuseSaturates: a refuse as long as a time.Duration holds refuses
// (its end overflowed into the past, and it refused nothing).
func TestRefuseSaturates(t *testing.T) {
	d, err := fixtures.Dialect("iso87ascii")
	if err != nil {
		t.Fatal(err)
	}
	srv := &host.Server{Dialect: d, Framer: d.Framer(dialect.Binary2, 0),
		Planner: planner(func(*txn.Request, time.Time) scenarios.Plan {
			return scenarios.Plan{Decision: txn.Decision{RC: txn.Approved}, Fault: fault.Refuse{For: 1<<63 - 1}}
		})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, host.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})

	a := connect(t, ln.Addr().String(), d, dialect.Binary2)
	a.send(golden(t, "iso87ascii", "echo-request"))
	a.expect("the refusing echo", "0810", txn.Approved)
	// Reset at accept: the reset may overtake the connect.
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), patience)
	if err == nil {
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(patience))
		var one [1]byte
		_, err = conn.Read(one[:])
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("a new connection during the refuse: %v, want it reset", err)
	}
	if r := srv.Refusals(); r.Scripted != 1 {
		t.Errorf("Refusals() = %+v, want 1 scripted", r)
	}
}
