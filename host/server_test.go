package host_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/txn"
)

// These tests talk to the host over raw TCP with frames built by hand from the
// golden vectors in dialect/testdata, so they check the bytes on the wire and
// not what the terminal package makes of them.

// patience bounds every wait for the host: generous, so a slow machine does not
// fail a test, and finite, so a hung host does.
const patience = 5 * time.Second

// golden returns a golden vector's frame without its binary2 length header:
// the preamble (cup TPDU and header) and the message.
func golden(t testing.TB, dialectName, vector string) []byte {
	t.Helper()
	raw, err := os.ReadFile("dialect/testdata/" + dialectName + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var vf struct {
		Vectors []struct{ Name, Hex string }
	}
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	for _, v := range vf.Vectors {
		if v.Name == vector {
			wire, err := hex.DecodeString(v.Hex)
			if err != nil {
				t.Fatal(err)
			}
			return wire[2:]
		}
	}
	t.Fatalf("no golden vector %s/%s", dialectName, vector)
	return nil
}

// replace returns a copy of b with old, which must occur exactly once, replaced
// by new.
func replace(t testing.TB, b, old, new []byte) []byte {
	t.Helper()
	if n := bytes.Count(b, old); n != 1 {
		t.Fatalf("%X occurs %d times in %X, want once", old, n, b)
	}
	return bytes.Replace(b, old, new, 1)
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// frame puts a length header in front of body, written out by hand rather
// than with the framer under test.
func frame(h dialect.LengthHeader, body []byte) []byte {
	n := len(body)
	var out []byte
	switch h {
	case dialect.ASCII4:
		out = fmt.Appendf(nil, "%04d", n)
	case dialect.BCD2:
		out = unhex(fmt.Sprintf("%04d", n))
	default:
		out = []byte{byte(n >> 8), byte(n)}
	}
	return append(out, body...)
}

// start runs a host on loopback for the test's lifetime, through the front
// door (acqsimtest), with the admin API off.
func start(t testing.TB, cfg sim.Config) *sim.Sim {
	t.Helper()
	return acqsimtest.New(t, acqsimtest.Configure(func(c *sim.Config) {
		cfg.Listen, cfg.Admin = c.Listen, "off"
		*c = cfg
	})).Sim()
}

// term is a raw terminal connection.
type term struct {
	t      testing.TB
	conn   net.Conn
	r      *bufio.Reader
	header dialect.LengthHeader
	d      *dialect.Dialect
}

func connect(t testing.TB, addr string, d *dialect.Dialect, h dialect.LengthHeader) *term {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, patience)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &term{t: t, conn: conn, r: bufio.NewReader(conn), header: h, d: d}
}

// dial connects to s with its binary2 default.
func dial(t testing.TB, s *sim.Sim) *term {
	t.Helper()
	return connect(t, s.Addr(), s.Dialect, dialect.Binary2)
}

// send frames each body and writes them all at once.
func (c *term) send(bodies ...[]byte) {
	c.t.Helper()
	var out []byte
	for _, b := range bodies {
		out = append(out, frame(c.header, b)...)
	}
	c.write(out)
}

func (c *term) write(b []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(patience))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("writing: %v", err)
	}
}

// readFrame reads one whole frame and returns what follows its length header.
func (c *term) readFrame() []byte {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(patience))
	size := 2
	if c.header == dialect.ASCII4 {
		size = 4
	}
	lb := make([]byte, size)
	if _, err := io.ReadFull(c.r, lb); err != nil {
		c.t.Fatalf("reading a length header: %v", err)
	}
	var n int
	switch c.header {
	case dialect.ASCII4:
		n = atoi(c.t, string(lb))
	case dialect.BCD2:
		n = atoi(c.t, hex.EncodeToString(lb))
	default:
		n = int(lb[0])<<8 | int(lb[1])
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatalf("reading a %d-byte frame: %v", n, err)
	}
	return body
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("length header %q: %v", s, err)
	}
	return n
}

// reply is a decoded response.
type reply struct {
	preamble []byte
	mti      string
	fields   map[int]string
}

func (r reply) rc() string { return r.fields[39] }

// read reads a response and decodes it; the response must decode whole.
func (c *term) read() reply {
	c.t.Helper()
	body := c.readFrame()
	if len(body) < c.d.Preamble {
		c.t.Fatalf("a %d-byte frame cannot hold the preamble", len(body))
	}
	msg := body[c.d.Preamble:]
	m, err := c.d.Decode(msg)
	if err != nil {
		c.t.Fatalf("decoding the response %X: %v", msg, err)
	}
	// Packing what was decoded gives the bytes back only if the frame held
	// exactly one message.
	if packed, err := m.Pack(); err != nil || !bytes.Equal(packed, msg) {
		c.t.Fatalf("response frame %X is not exactly one message (repacked %X, %v)", msg, packed, err)
	}
	r := reply{preamble: body[:c.d.Preamble], fields: map[int]string{}}
	r.mti, _ = m.GetMTI()
	for id, f := range m.GetFields() {
		if id > 1 {
			r.fields[id], _ = f.String()
		}
	}
	return r
}

// expect reads a response and checks its MTI and RC.
func (c *term) expect(what, mti, rc string) reply {
	c.t.Helper()
	r := c.read()
	if r.mti != mti || r.rc() != rc {
		c.t.Fatalf("%s: answered %s RC %q, want %s RC %s", what, r.mti, r.rc(), mti, rc)
	}
	return r
}

// expectClosed checks that the host closes the connection: the next read
// returns io.EOF, with nothing before it.
func (c *term) expectClosed() {
	c.t.Helper()
	if err := c.readEnd(); !errors.Is(err, io.EOF) {
		c.t.Fatalf("read %v, want io.EOF", err)
	}
}

// expectClosedOrReset is expectClosed for a connection the host may close
// with bytes of ours unread, which makes its kernel answer with a reset.
func (c *term) expectClosedOrReset() {
	c.t.Helper()
	if err := c.readEnd(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("read %v, want io.EOF or a reset", err)
	}
}

func (c *term) readEnd() error {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(patience))
	b, err := c.r.ReadByte()
	switch {
	case err == nil:
		c.t.Fatalf("host sent %#02x, want the connection closed", b)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.t.Fatalf("connection still open after %v", patience)
	}
	return err
}

// journalErrors returns the journal entries that record an error.
func journalErrors(s *sim.Sim) []journal.Entry {
	var out []journal.Entry
	for _, e := range s.Journal.Query(journal.Filter{}) {
		if e.Error != "" {
			out = append(out, e)
		}
	}
	return out
}

// tids are the golden vectors' terminal IDs.
var tids = map[string]string{"iso87ascii": "TERM0001", "iso87bcd": "TERM0001", "cup": "12345678"}

// TestFieldFormatError: a message whose MTI decodes but a field does not is
// answered with 30, and the connection stays usable.
func TestFieldFormatError(t *testing.T) {
	tests := []struct {
		name     string
		dialect  string
		old, new []byte
		// stan and tid are what the response echoes: only fields that decoded
		// (a BCD field's bad nibble does not stop the fields behind it).
		stan, tid string
	}{
		{
			name: "F2 length not numeric", dialect: "iso87ascii",
			old: []byte("164761739001010010000000"), new: []byte("1X4761739001010010000000"),
		},
		{
			name: "F2 length above its maximum", dialect: "iso87ascii",
			old: []byte("164761739001010010000000"), new: []byte("994761739001010010000000"),
		},
		{
			name: "F4 with letters", dialect: "iso87ascii",
			old: []byte("4761739001010010000000000000012345"), new: []byte("4761739001010010000000000000012A45"),
			stan: "000003", tid: "TERM0001",
		},
		{
			name: "F4 with a bad BCD nibble", dialect: "cup",
			old: unhex("000000000000012345000003"), new: unhex("00000000000001234A000003"),
			stan: "000003", tid: "12345678", // decoded past the bad nibble
		},
		{
			name: "F60 with a bad BCD nibble", dialect: "cup",
			old: unhex("0011220000010000"), new: unhex("00112200000A0000"),
			stan: "000003", tid: "12345678",
		},
	}
	for _, tt := range tests {
		t.Run(tt.dialect+"/"+tt.name, func(t *testing.T) {
			s := start(t, sim.Config{Dialect: tt.dialect})
			c := dial(t, s)
			sale := golden(t, tt.dialect, "sale-request")
			c.send(replace(t, sale, tt.old, tt.new))
			r := c.expect("malformed sale", "0210", txn.FormatError)
			if r.fields[11] != tt.stan || r.fields[41] != tt.tid {
				t.Errorf("format error echoes F11 %q F41 %q, want %q %q", r.fields[11], r.fields[41], tt.stan, tt.tid)
			}

			c.send(sale)
			c.expect("good sale on the same connection", "0210", txn.Approved)
			// The host journals an exchange after answering it, so only now is
			// the first one sure to be there.
			if errs := journalErrors(s); len(errs) != 1 || errs[0].RC != txn.FormatError {
				t.Errorf("journal errors %+v, want one with RC 30", errs)
			}
		})
	}
}

// TestUndecodableFrame: a frame with no MTI to answer closes its connection,
// is journalled, and leaves other terminals alone.
func TestUndecodableFrame(t *testing.T) {
	tests := []struct {
		name     string
		dialect  string
		old, new []byte
	}{
		{"letters for an MTI", "iso87ascii", []byte("0200"), []byte("ZZZZ")},
		{"non-ASCII MTI", "iso87ascii", []byte("0200"), []byte{0xFF, 0xFE, 0xFD, 0xFC}},
		{"MTI not BCD", "cup", unhex("6031000000000200"), unhex("603100000000FFFF")},
	}
	for _, tt := range tests {
		t.Run(tt.dialect+"/"+tt.name, func(t *testing.T) {
			s := start(t, sim.Config{Dialect: tt.dialect})
			other := dial(t, s)
			other.send(golden(t, tt.dialect, "echo-request"))
			other.expect("echo", echoMTI(tt.dialect), txn.Approved)

			bad := dial(t, s)
			bad.send(replace(t, golden(t, tt.dialect, "sale-request"), tt.old, tt.new))
			bad.expectClosed()
			if errs := journalErrors(s); len(errs) != 1 {
				t.Errorf("journal errors %+v, want one", errs)
			}

			other.send(golden(t, tt.dialect, "sale-request"))
			other.expect("sale on the other connection", "0210", txn.Approved)
		})
	}
}

// echoMTI is the MTI of the answer to an echo test: cup's echo is an 0820.
func echoMTI(dialectName string) string {
	if dialectName == "cup" {
		return "0830"
	}
	return "0810"
}

// TestFrameTooLarge: a length header above MaxFrame closes the connection at
// once, without waiting for a body that may never come.
func TestFrameTooLarge(t *testing.T) {
	tests := []struct {
		header dialect.LengthHeader
		wire   []byte // a length header for 1000 bytes
	}{
		{dialect.Binary2, []byte{0x03, 0xE8}},
		{dialect.ASCII4, []byte("1000")},
		{dialect.BCD2, []byte{0x10, 0x00}},
	}
	for _, tt := range tests {
		t.Run(string(tt.header), func(t *testing.T) {
			s := start(t, sim.Config{LengthHeader: string(tt.header), MaxFrame: 512})
			c := connect(t, s.Addr(), s.Dialect, tt.header)
			c.write(tt.wire)
			c.expectClosed()
			if errs := journalErrors(s); len(errs) != 1 || !strings.Contains(errs[0].Error, "too large") {
				t.Errorf("journal errors %+v, want one saying the frame is too large", errs)
			}

			// A frame within the limit is fine.
			ok := connect(t, s.Addr(), s.Dialect, tt.header)
			ok.send(golden(t, "iso87ascii", "sale-request"))
			ok.expect("sale", "0210", txn.Approved)
		})
	}
}

// TestEmptySecondaryBitmap: bit 1 set with a secondary bitmap of zeros is
// legal, if wasteful.
func TestEmptySecondaryBitmap(t *testing.T) {
	s := start(t, sim.Config{})
	sale := golden(t, "iso87ascii", "sale-request")
	bitmap := string(sale[4:20])
	first, _ := strconv.ParseUint(bitmap[:1], 16, 8)
	if first&8 != 0 {
		t.Fatalf("golden sale bitmap %s already has a secondary bitmap", bitmap)
	}
	withSecondary := fmt.Sprintf("0200%X%s%s%s", first|8, bitmap[1:], strings.Repeat("0", 16), sale[20:])

	c := dial(t, s)
	c.send([]byte(withSecondary))
	c.expect("sale with an empty secondary bitmap", "0210", txn.Approved)
}

// TestCupReplyPreamble: the reply's TPDU swaps destination and source and the
// header comes back as it was.
func TestCupReplyPreamble(t *testing.T) {
	tests := []struct{ request, reply string }{
		{"6000030000" + "603100000000", "6000000003" + "603100000000"},
		{"6012345678" + "613201020304", "6056781234" + "613201020304"},
	}
	s := start(t, sim.Config{Dialect: "cup"})
	for i, tt := range tests {
		c := dial(t, s)
		sale := golden(t, "cup", "sale-request")
		copy(sale, unhex(tt.request))
		// Each its own STAN, so neither is the other's duplicate.
		sale = replace(t, sale, unhex("0123450000032512"), unhex(fmt.Sprintf("012345%06d2512", 10+i)))
		c.send(sale)
		r := c.expect("sale", "0210", txn.Approved)
		if got := hex.EncodeToString(r.preamble); got != tt.reply {
			t.Errorf("request preamble %s: reply preamble %s, want %s", tt.request, got, tt.reply)
		}
	}
}

// withSTAN returns a golden sale request with another STAN.
func withSTAN(t testing.TB, dialectName, stan string) []byte {
	t.Helper()
	sale := golden(t, dialectName, "sale-request")
	switch dialectName {
	case "cup":
		return replace(t, sale, unhex("0123450000032512"), unhex("012345"+stan+"2512"))
	case "iso87bcd":
		return replace(t, sale, unhex("012345000003101500"), unhex("012345"+stan+"101500"))
	}
	return replace(t, sale, []byte("000012345000003101500"), []byte("000012345"+stan+"101500"))
}

// TestPipelined: requests that arrive in one write are each answered with a
// whole frame, in order.
func TestPipelined(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := start(t, sim.Config{Dialect: dn})
			c := dial(t, s)
			c.send(withSTAN(t, dn, "000101"), golden(t, dn, "echo-request"), withSTAN(t, dn, "000102"))
			for _, want := range []struct{ mti, stan string }{
				{"0210", "000101"}, {echoMTI(dn), "000002"}, {"0210", "000102"},
			} {
				r := c.expect("pipelined request", want.mti, txn.Approved)
				if r.fields[11] != want.stan {
					t.Errorf("answer to STAN %s came with STAN %s", want.stan, r.fields[11])
				}
			}
		})
	}
}

// TestResponseNotAnswered: a response sent to the host gets no answer, so the
// next frame the terminal reads answers its next request.
func TestResponseNotAnswered(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := start(t, sim.Config{Dialect: dn})
			c := dial(t, s)
			c.send(golden(t, dn, "sale-response"))
			c.send(golden(t, dn, "echo-request"))
			r := c.expect("echo after a 0210", echoMTI(dn), txn.Approved)
			if r.fields[11] != "000002" {
				t.Errorf("echo answered with STAN %s, want 000002", r.fields[11])
			}
		})
	}
}

// TestUnknownProcessingCode: a 0200 the dialect cannot route gets 40.
func TestUnknownProcessingCode(t *testing.T) {
	s := start(t, sim.Config{})
	c := dial(t, s)
	c.send(replace(t, golden(t, "iso87ascii", "sale-request"),
		[]byte("4761739001010010000000000000012345"), []byte("4761739001010010990000000000012345")))
	r := c.expect("0200 with F3 990000", "0210", txn.NotSupported)
	if r.fields[3] != "990000" {
		t.Errorf("response F3 %q, want the request's 990000", r.fields[3])
	}
}

// TestLengthHeaders: the same sale in each length header, in each dialect.
func TestLengthHeaders(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		for _, h := range dialect.LengthHeaders {
			t.Run(dn+"/"+string(h), func(t *testing.T) {
				s := start(t, sim.Config{Dialect: dn, LengthHeader: string(h)})
				c := connect(t, s.Addr(), s.Dialect, h)
				c.send(golden(t, dn, "sale-request"))
				r := c.expect("sale", "0210", txn.Approved)
				if r.fields[41] != tids[dn] {
					t.Errorf("response F41 %q, want %q", r.fields[41], tids[dn])
				}
				c.send(golden(t, dn, "echo-request"))
				c.expect("echo", echoMTI(dn), txn.Approved)
			})
		}
	}
}

// TestIdleTimeout: a connection that says nothing is closed.
func TestIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	s := start(t, sim.Config{IdleTimeout: idle})
	began := time.Now()
	c := dial(t, s)
	c.expectClosed()
	if waited := time.Since(began); waited < idle/2 {
		t.Errorf("closed after %v, before the idle timeout of %v", waited, idle)
	}
	if errs := journalErrors(s); len(errs) != 0 {
		t.Errorf("an idle close is not an error, journal has %+v", errs)
	}
}

// TestIdleInsideAFrame: a connection that stops in the middle of a frame is
// closed at the idle timeout too, and that is journalled: a message was cut
// short. One that hangs up or resets between frames is not an error.
func TestIdleInsideAFrame(t *testing.T) {
	const idle = 200 * time.Millisecond
	s := start(t, sim.Config{IdleTimeout: idle})
	sale := frame(dialect.Binary2, golden(t, "iso87ascii", "sale-request"))

	quiet := dial(t, s)
	quiet.send(golden(t, "iso87ascii", "sale-request"))
	quiet.read()
	quiet.conn.(*net.TCPConn).SetLinger(0)
	quiet.conn.Close() // a reset, between frames

	c := dial(t, s)
	c.write(sale[:len(sale)/2])
	c.expectClosed()
	errs := journalErrors(s)
	if len(errs) != 1 || !strings.Contains(errs[0].Error, "cut short") {
		t.Errorf("journal errors %+v, want one: the frame cut short (and nothing for the reset)", errs)
	}
}

// TestReadTimeout: with no idle timeout, a frame sent a byte at a time is
// cut off once it has taken longer than the read timeout, and that is
// journalled; a connection that says nothing between frames stays open, and
// whole frames need no deadline.
func TestReadTimeout(t *testing.T) {
	const read = 300 * time.Millisecond
	s := start(t, sim.Config{ReadTimeout: read})
	sale := golden(t, "iso87ascii", "sale-request")

	good := dial(t, s)
	good.send(sale)
	good.expect("whole sale", "0210", txn.Approved)

	slow := dial(t, s)
	wire := frame(dialect.Binary2, sale)
	began := time.Now()
	tick := time.NewTicker(read / 4)
	defer tick.Stop()
	closed := false
	for i := 0; i < len(wire) && !closed; i++ {
		<-tick.C // the slow writer's pace, not a wait for the host
		slow.conn.SetWriteDeadline(time.Now().Add(patience))
		_, err := slow.conn.Write(wire[i : i+1])
		closed = err != nil
	}
	slow.expectClosedOrReset()
	if took := time.Since(began); took < read {
		t.Errorf("closed after %v, before the read timeout %v", took, read)
	}
	errs := journalErrors(s)
	if len(errs) != 1 || !strings.Contains(errs[0].Error, "cut short") {
		t.Errorf("journal errors %+v, want one: the frame cut short", errs)
	}
	good.send(sale) // idle longer than the read timeout, and still there
	good.expect("sale after a pause", "0210", txn.Approved)
}

// TestShutdown: Shutdown closes idle connections and one in the middle of a
// frame at once, Serve returns, and nobody can connect any more.
func TestShutdown(t *testing.T) {
	// Started, not New: the test shuts the host down itself, and a second
	// shutdown is only for a test that fails before it does.
	h, err := acqsimtest.Start(acqsimtest.Admin("off"), acqsimtest.Configure(func(c *sim.Config) { c.IdleTimeout = time.Hour }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	s := h.Sim()

	idle, partial := dial(t, s), dial(t, s)
	for _, c := range []*term{idle, partial} {
		c.send(golden(t, "iso87ascii", "echo-request"))
		c.expect("echo", "0810", txn.Approved)
	}
	sale := frame(dialect.Binary2, golden(t, "iso87ascii", "sale-request"))
	partial.write(sale[:len(sale)/2])

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	began := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v after %v", err, time.Since(began))
	}
	idle.expectClosed()
	// Shutdown may beat the host to reading the half frame.
	partial.expectClosedOrReset()
	select {
	case err := <-s.Err():
		t.Errorf("listener: %v", err)
	default: // Serve returned ErrServerClosed; Shutdown waits for it.
	}
	if conn, err := net.DialTimeout("tcp", s.Addr(), patience); err == nil {
		conn.Close()
		t.Errorf("connected to %s after shutdown", s.Addr())
	}
}

// blockingPlanner approves everything, but only once released.
type blockingPlanner struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingPlanner) Plan(*txn.Request, time.Time) scenarios.Plan {
	b.entered <- struct{}{}
	<-b.release
	return scenarios.Plan{Decision: txn.Decision{RC: txn.Approved}}
}

// TestShutdownFinishesInFlight: a request being decided when Shutdown starts
// is answered, then its connection closes, even with a long idle timeout.
func TestShutdownFinishesInFlight(t *testing.T) {
	d, err := fixtures.Dialect("iso87ascii")
	if err != nil {
		t.Fatal(err)
	}
	dec := &blockingPlanner{entered: make(chan struct{}), release: make(chan struct{})}
	srv := &host.Server{Dialect: d, Framer: d.Framer(dialect.Binary2, 0), Planner: dec, IdleTimeout: time.Hour}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var once sync.Once
	release := func() { once.Do(func() { close(dec.release) }) }
	t.Cleanup(func() { // for a test that fails half way
		release()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		srv.Shutdown(ctx)
	})

	c := connect(t, ln.Addr().String(), d, dialect.Binary2)
	c.send(golden(t, "iso87ascii", "sale-request"))
	select {
	case <-dec.entered:
	case <-time.After(patience):
		t.Fatal("the sale never reached the decider")
	}

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	// Serve returns once Shutdown has closed the listener and told every
	// connection to stop; only then let the decision through.
	if err := <-served; !errors.Is(err, host.ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	release()

	c.expect("sale in flight at shutdown", "0210", txn.Approved)
	c.expectClosed()
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v, want nil: the connection should close once its request is answered", err)
	}
}

// TestStalledReader: a terminal that sends and never reads is cut off after
// the write timeout and does not hold up anyone else.
func TestStalledReader(t *testing.T) {
	s := start(t, sim.Config{WriteTimeout: 200 * time.Millisecond})
	other := dial(t, s)
	other.send(golden(t, "iso87ascii", "echo-request"))
	other.expect("echo", "0810", txn.Approved)

	stalled := dial(t, s)
	// The host must answer enough to fill the stalled terminal's receive
	// buffer and its own send buffer, megabytes on Linux, before a write
	// blocks. (Shrinking the terminal's receive buffer after connecting
	// does not help: the kernel then prunes and drops segments, and the
	// connection can stall in both directions.)
	burst := bytes.Repeat(frame(dialect.Binary2, withSTAN(t, "iso87ascii", "000200")), 256)
	flooded := make(chan error, 1)
	go func() {
		// Until the host hangs up; the deadline only stops a broken test.
		stalled.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		for {
			if _, err := stalled.conn.Write(burst); err != nil {
				flooded <- err
				return
			}
		}
	}()

	other.send(golden(t, "iso87ascii", "sale-request"))
	other.expect("sale while another terminal stalls", "0210", txn.Approved)

	if err := <-flooded; errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the host never hung up on the terminal that does not read")
	}
	var cut bool
	for _, e := range journalErrors(s) {
		cut = cut || strings.Contains(e.Error, "writing the response")
	}
	if !cut {
		t.Errorf("journal errors %+v, want a failed response write", journalErrors(s))
	}

	other.send(golden(t, "iso87ascii", "echo-request"))
	other.expect("echo after the stalled terminal is gone", "0810", txn.Approved)
}

// TestIdleTimeoutSparesScriptedDelays: a connection waiting for a scripted
// late answer is not idle; the answer arrives although the delay is longer
// than the idle timeout.
func TestIdleTimeoutSparesScriptedDelays(t *testing.T) {
	s := start(t, sim.Config{IdleTimeout: 200 * time.Millisecond})
	sc, err := scenarios.Load("slow.yaml", []byte("name: slow\nrules:\n  - match: txn == \"sale\"\n    delay: 600ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	s.Engine.SetGlobal(sc)
	c := connect(t, s.Addr(), s.Dialect, dialect.Binary2)
	c.send(golden(t, "iso87ascii", "sale-request"))
	c.expect("sale answered after a delay longer than the idle timeout", "0210", txn.Approved)
}
