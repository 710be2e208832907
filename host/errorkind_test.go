package host_test

import (
	"net"
	"testing"
	"time"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
)

// TestErrorKinds: each error the host journals says what kind it is, which
// the metrics count by (the words of the error are for people).
func TestErrorKinds(t *testing.T) {
	tests := []struct {
		name string
		cfg  sim.Config
		send func(t *testing.T, s *sim.Sim)
		kind string
	}{
		{"a frame too large", sim.Config{MaxFrame: 512}, func(t *testing.T, s *sim.Sim) {
			c := dial(t, s)
			c.write([]byte{0x03, 0xE8})
			c.expectClosed()
		}, journal.ErrorFrame},
		{"a connection closed inside a frame", sim.Config{}, func(t *testing.T, s *sim.Sim) {
			c := dial(t, s)
			sale := frame(dialect.Binary2, golden(t, "iso87ascii", "sale-request"))
			c.write(sale[:len(sale)/2])
			c.conn.(*net.TCPConn).CloseWrite()
			c.expectClosed()
		}, journal.ErrorFrame},
		{"a message type indicator that does not decode", sim.Config{}, func(t *testing.T, s *sim.Sim) {
			c := dial(t, s)
			c.send([]byte("ZZZZ"))
			c.expectClosed()
		}, journal.ErrorFormat},
		{"a connection beyond the maximum", sim.Config{MaxConnections: 1}, func(t *testing.T, s *sim.Sim) {
			first := dial(t, s)
			first.send(golden(t, "iso87ascii", "echo-request"))
			first.read() // the first is in
			// Refused with a reset, journalled before: at the connect, or at
			// the first read.
			conn, err := net.DialTimeout("tcp", s.Addr(), patience)
			if err != nil {
				return
			}
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(patience))
			if _, err := conn.Read(make([]byte, 1)); err == nil {
				t.Fatal("the connection beyond the maximum was answered")
			}
		}, journal.ErrorOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.cfg)
			tt.send(t, s)
			errs := journalErrors(s)
			if len(errs) != 1 || errs[0].ErrorKind != tt.kind {
				t.Fatalf("journal errors %+v, want one of kind %q", errs, tt.kind)
			}
		})
	}
}
