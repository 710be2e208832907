package sim_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/internal/testcert"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// dialTLS connects a terminal over TLS; the test fails if it cannot.
func dialTLS(t testing.TB, s *sim.Sim, tc *tls.Config) *terminal.Terminal {
	t.Helper()
	term, err := tryDialTLS(s, tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return term
}

func tryDialTLS(s *sim.Sim, tc *tls.Config) (*terminal.Terminal, error) {
	return terminal.Dial(context.Background(), terminal.Config{
		Addr: s.Addr(), Dialect: s.Dialect, TID: "TERM0001", MID: "898100012340001",
		Timeout: patience, TLS: tc,
	})
}

// awaitError waits for the first journal entry with an error after the
// mark (acqsimtest.Mark) and returns its error.
func awaitError(t testing.TB, s *sim.Sim, mark uint64) string {
	t.Helper()
	return acqsimtest.WaitFor(t, s.Journal, journal.Filter{After: mark}, func(e journal.Entry) bool { return e.Error != "" }).Error
}

func TestTLS(t *testing.T) {
	ca := testcert.NewCA(t, "acquirer")
	host := ca.Server("host")
	s := start(t, sim.Config{Admin: "off", TLSCert: host.CertFile, TLSKey: host.KeyFile})

	t.Run("terminal", func(t *testing.T) {
		term := dialTLS(t, s, &tls.Config{RootCAs: ca.Pool})
		x, err := term.SignOn()
		expect(t, "sign-on over TLS", x, err, txn.Approved)
		x, err = term.Sale(1234)
		expect(t, "sale over TLS", x, err, txn.Approved)
	})

	t.Run("plain TCP", func(t *testing.T) {
		mark := acqsimtest.Mark(s.Journal)
		c := rawDial(t, s, "TERM0002", "898100012340001")
		c.sale("000001", 1500)
		w := c.read(patience)
		if len(w.got) != 0 || !(isEOF(w.err) || isReset(w.err)) {
			t.Fatalf("plain ISO 8583 to the TLS listener: read %X, then %v; want the connection closed", w.got, w.err)
		}
		if e := awaitError(t, s, mark); !strings.HasPrefix(e, "tls handshake: ") {
			t.Errorf("journal error %q, want a TLS handshake's", e)
		}
		if es := s.Journal.Query(journal.Filter{TID: "TERM0002"}); len(es) != 0 {
			t.Errorf("the plain sale reached the host: %+v", es)
		}
	})

	t.Run("untrusted host", func(t *testing.T) {
		other := testcert.NewCA(t, "other")
		if term, err := tryDialTLS(s, &tls.Config{RootCAs: other.Pool}); err == nil {
			term.Close()
			t.Fatal("a terminal that does not trust the host's CA connected")
		}
	})
}

// TestTLSReset: a scripted reset over TLS is a TCP reset, not a clean TLS
// close (close_notify), as it is over plain TCP.
func TestTLSReset(t *testing.T) {
	ca := testcert.NewCA(t, "acquirer")
	host := ca.Server("host")
	s := startWith(t, "connection-reset", sim.Config{TLSCert: host.CertFile, TLSKey: host.KeyFile})
	conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: ca.Pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawTerm{t: t, conn: conn, r: bufio.NewReader(conn), d: s.Dialect, tid: "TERM0001", mid: "898100012340001"}
	c.sale("000001", 1500)
	if w := c.read(patience); len(w.got) != 0 || !isReset(w.err) {
		t.Fatalf("sale: read %d bytes, then %v; want a TCP reset (ECONNRESET)", len(w.got), w.err)
	}
}

func TestTLSClientCertificates(t *testing.T) {
	ca := testcert.NewCA(t, "acquirer")
	terminals := testcert.NewCA(t, "terminals")
	strangers := testcert.NewCA(t, "strangers")
	host := ca.Server("host")
	s := start(t, sim.Config{Admin: "off", TLSCert: host.CertFile, TLSKey: host.KeyFile, TLSClientCA: terminals.File})

	t.Run("with a certificate", func(t *testing.T) {
		term := dialTLS(t, s, &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{terminals.Client("TERM0001").Cert}})
		x, err := term.Sale(1234)
		expect(t, "sale with a client certificate", x, err, txn.Approved)
	})

	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
	}{
		{"without a certificate", nil},
		{"with a certificate from another CA", []tls.Certificate{strangers.Client("TERM0001").Cert}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := acqsimtest.Mark(s.Journal)
			// With TLS 1.3 the terminal's side of the handshake completes
			// before the host has checked its certificate: the refusal
			// arrives on the first read.
			term, err := tryDialTLS(s, &tls.Config{RootCAs: ca.Pool, Certificates: tc.certs})
			if err == nil {
				defer term.Close()
				var x *terminal.Exchange
				if x, err = term.Sale(1234); err == nil {
					t.Fatalf("sale answered RC %s; want the connection refused", x.RC())
				}
			}
			if e := awaitError(t, s, mark); !strings.HasPrefix(e, "tls handshake: ") || !strings.Contains(e, "certificate") {
				t.Errorf("journal error %q, want a TLS handshake's about the certificate", e)
			}
		})
	}
}

func TestTLSConfigErrors(t *testing.T) {
	ca := testcert.NewCA(t, "acquirer")
	host := ca.Server("host")
	notPEM := t.TempDir() + "/not.pem"
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for _, tc := range []struct {
		name string
		cfg  sim.Config
	}{
		{"missing certificate", sim.Config{TLSCert: "/no/such/cert.pem", TLSKey: host.KeyFile}},
		{"missing key", sim.Config{TLSCert: host.CertFile, TLSKey: "/no/such/key.pem"}},
		{"certificate without key", sim.Config{TLSCert: host.CertFile}},
		{"key that is not the certificate's", sim.Config{TLSCert: host.CertFile, TLSKey: ca.Server("other").KeyFile}},
		{"client CA without certificate", sim.Config{TLSClientCA: ca.File}},
		{"missing client CA", sim.Config{TLSCert: host.CertFile, TLSKey: host.KeyFile, TLSClientCA: "/no/such/ca.pem"}},
		{"client CA not PEM", sim.Config{TLSCert: host.CertFile, TLSKey: host.KeyFile, TLSClientCA: notPEM}},
		{"negative max connections", sim.Config{MaxConnections: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := acqsimtest.Start(acqsimtest.Configure(func(c *sim.Config) {
				tc.cfg.Listen, tc.cfg.Admin = c.Listen, "off"
				*c = tc.cfg
			}))
			if err == nil {
				h.Close()
				t.Fatal("started")
			}
			if !errors.As(err, new(sim.ConfigError)) {
				t.Errorf("%v: not a ConfigError", err)
			}
		})
	}
}
