package sim_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/report"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// These tests drive every built-in scenario end to end over loopback and check
// what a terminal sees: the response codes through the terminal emulator, and
// the wire faults (resets, half frames, garbage, copies) on raw TCP. Delays
// beyond a second are read from the journal instead of waited out, and time
// windows are reached with the host's virtual clock.

const (
	// patience bounds every wait for something that should happen: generous,
	// so a slow machine does not fail a test, and finite, so a hung host does.
	patience = 5 * time.Second
	// short is a terminal timeout (and a read deadline) for a response that
	// must not come; every normal answer on loopback takes a millisecond or so.
	short = 300 * time.Millisecond
	// otherMID is a merchant the issuer-flaky scenario does not freeze.
	otherMID = "898100012340002"
)

// scenarioTests has one end-to-end test per built-in scenario; a fixture
// without one fails TestEveryScenario.
var scenarioTests = map[string]func(t *testing.T){
	"connection-reset":               testConnectionReset,
	"cutover":                        testCutover,
	"daily-limit":                    testDailyLimit,
	"duplicate-response":             testDuplicateResponse,
	"arqc-invalid":                   testARQCInvalid,
	"arpc-wrong":                     testARPCWrong,
	"arpc-missing":                   testARPCMissing,
	"issuer-script-block-card":       testIssuerScriptBlockCard,
	"issuer-script-mac-wrong":        testIssuerScriptMACWrong,
	"fallback-refused":               testFallbackRefused,
	"contactless-over-limit":         testContactlessOverLimit,
	"tc-upload-missing":              testTCUploadMissing,
	"fee-no-cap":                     testFeeNoCap,
	"fee-on-void":                    testFeeOnVoid,
	"fee-rounding":                   testFeeRounding,
	"fee-wrong-tier":                 testFeeWrongTier,
	"flaky-network":                  testFlakyNetwork,
	"garbage-response":               testGarbageResponse,
	"holiday-settlement-date":        testHolidaySettlementDate,
	"insufficient-funds":             testInsufficientFunds,
	"issuer-flaky":                   testIssuerFlaky,
	"key-error":                      testKeyError,
	"late-response":                  testLateResponse,
	"magic-amounts":                  testMagicAmounts,
	"maintenance-window":             testMaintenanceWindow,
	"merchant-frozen":                testMerchantFrozen,
	"settlement-delay":               testSettlementDelay,
	"settlement-failure":             testSettlementFailure,
	"settlement-issuer-down":         testSettlementIssuerDown,
	"settlement-no-response":         testSettlementNoResponse,
	"settlement-out-of-balance":      testSettlementOutOfBalance,
	"settlement-out-of-balance-once": testSettlementOutOfBalanceOnce,
	"settlement-suspended":           testSettlementSuspended,
	"single-limit":                   testSingleLimit,
	"t0-funds-late":                  testT0FundsLate,
	"t0-outside-window":              testT0OutsideWindow,
	"t0-settled-t1":                  testT0SettledT1,
	"terminal-unregistered":          testTerminalUnregistered,
	"timeout":                        testTimeout,
	"undelivered-approval":           testUndeliveredApproval,
	"upload-delay":                   testUploadDelay,
	"void-after-settlement":          testVoidAfterSettlement,
	"void-disabled":                  testVoidDisabled,
	"wrong-pin":                      testWrongPIN,
}

func TestEveryScenario(t *testing.T) {
	files, err := fs.Glob(fixtures.Scenarios, "scenarios/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no built-in scenarios")
	}
	have := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".yaml")
		have[name] = true
		test, ok := scenarioTests[name]
		if !ok {
			t.Errorf("fixtures/%s has no end-to-end test: add one to scenarioTests", f)
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t)
		})
	}
	for name := range scenarioTests {
		if !have[name] {
			t.Errorf("scenarioTests has a test for %q, which is not a built-in scenario", name)
		}
	}
}

// startWith runs a host with a built-in scenario bound to every terminal.
func startWith(t *testing.T, scenario string, cfg sim.Config) *sim.Sim {
	t.Helper()
	cfg.Scenario = scenario
	cfg.Admin = "off"
	return start(t, cfg)
}

// opts describe a terminal; zero fields take the defaults of dial.
type opts struct {
	TID, MID string
	Card     terminal.Card
	Timeout  time.Duration
	Header   dialect.LengthHeader
	// STAN is the trace number the terminal counts on from: a second
	// connection of one terminal needs numbers of its own, or the host takes
	// its requests for duplicates.
	STAN int
}

// connect is dial with a choice of terminal, merchant, card and timeout.
func connect(t testing.TB, s *sim.Sim, o opts) *terminal.Terminal {
	t.Helper()
	if o.TID == "" {
		o.TID = "TERM0001"
	}
	if o.MID == "" {
		o.MID = "898100012340001"
	}
	if o.Timeout == 0 {
		o.Timeout = patience
	}
	term, err := terminal.Dial(context.Background(), terminal.Config{
		Addr: s.Addr(), Dialect: s.Dialect, Header: o.Header,
		TID: o.TID, MID: o.MID, Card: o.Card, Timeout: o.Timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	term.State.STAN = o.STAN
	return term
}

// expectTimeout checks that a request got no response within the terminal's
// timeout, and returns its STAN.
func expectTimeout(t testing.TB, what string, x *terminal.Exchange, err error) string {
	t.Helper()
	if !errors.Is(err, connection.ErrSendTimeout) {
		rc := ""
		if x != nil {
			rc = x.RC()
		}
		t.Fatalf("%s: err %v (RC %q), want no response (a timeout)", what, err, rc)
	}
	return field(x.Request, 11)
}

func field(m *iso8583.Message, id int) string {
	if m == nil || m.GetField(id) == nil {
		return ""
	}
	s, _ := m.GetString(id)
	return s
}

// entry returns the journal's latest entry f selects. The host journals an
// exchange before it delivers the response, so it is there once anything
// arrived; for a response that never comes, entry waits for it.
func entry(t testing.TB, s *sim.Sim, f journal.Filter) journal.Entry {
	t.Helper()
	es := acqsimtest.Wait(t, s.Journal, f, 1)
	return es[len(es)-1]
}

// delayOf reads the delay from a journal action such as "delay 45s".
func delayOf(t testing.TB, action string) time.Duration {
	t.Helper()
	v, ok := strings.CutPrefix(action, "delay ")
	if !ok {
		t.Fatalf("journal action %q, want a delay", action)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("journal action %q: %v", action, err)
	}
	return d
}

// at is a time of day on a Tuesday in the host's (local) time zone, away
// from weekends, so settlement dates are the next day.
func at(day, hour, min int) time.Time {
	return time.Date(2025, time.March, day, hour, min, 0, 0, time.Local)
}

// rawTerm is a terminal on raw TCP (iso87ascii, binary2 length header), for
// looking at what reaches the wire.
type rawTerm struct {
	t        testing.TB
	conn     net.Conn
	r        *bufio.Reader
	d        *dialect.Dialect
	tid, mid string
}

func rawDial(t testing.TB, s *sim.Sim, tid, mid string) *rawTerm {
	t.Helper()
	if s.Dialect.Preamble != 0 {
		t.Fatal("rawTerm speaks iso87ascii only")
	}
	conn, err := net.DialTimeout("tcp", s.Addr(), patience)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawTerm{t: t, conn: conn, r: bufio.NewReader(conn), d: s.Dialect, tid: tid, mid: mid}
}

// send packs a request with the terminal's F11, F41 and F42, frames it and
// writes it.
func (c *rawTerm) send(mti, stan string, fields map[int]string) {
	c.t.Helper()
	m := iso8583.NewMessage(c.d.Spec)
	m.MTI(mti)
	fields[11], fields[41], fields[42] = stan, c.tid, c.mid
	for id, v := range fields {
		if err := m.Field(id, v); err != nil {
			c.t.Fatalf("field %d: %v", id, err)
		}
	}
	packed, err := m.Pack()
	if err != nil {
		c.t.Fatal(err)
	}
	out := []byte{byte(len(packed) >> 8), byte(len(packed))}
	c.conn.SetWriteDeadline(time.Now().Add(patience))
	if _, err := c.conn.Write(append(out, packed...)); err != nil {
		c.t.Fatalf("writing: %v", err)
	}
}

func (c *rawTerm) sale(stan string, amount int64) {
	c.t.Helper()
	c.send("0200", stan, map[int]string{
		2: terminal.DefaultCard.PAN, 3: "000000", 4: fmt.Sprintf("%012d", amount), 14: terminal.DefaultCard.Expiry,
		22: "012", 25: "00", 49: "840",
	})
}

func (c *rawTerm) echo(stan string) {
	c.t.Helper()
	c.send("0800", stan, map[int]string{70: "301"})
}

// wireRead is what came back for a request: a whole frame, or what a fault
// made of one.
type wireRead struct {
	got   []byte // every byte received, length header included
	frame []byte // the message, when a whole frame came
	err   error  // what ended the read: nil after a whole frame
}

// read reads one frame. Its length header must start arriving within first;
// the rest of the frame, within patience.
func (c *rawTerm) read(first time.Duration) wireRead {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(first))
	lb := make([]byte, 2)
	n, err := io.ReadFull(c.r, lb)
	if err != nil {
		return wireRead{got: lb[:n], err: err}
	}
	return c.readBody(lb)
}

func (c *rawTerm) readBody(lb []byte) wireRead {
	c.conn.SetReadDeadline(time.Now().Add(patience))
	body := make([]byte, int(lb[0])<<8|int(lb[1]))
	n, err := io.ReadFull(c.r, body)
	got := append(append([]byte(nil), lb...), body[:n]...)
	if err != nil {
		return wireRead{got: got, err: err}
	}
	return wireRead{got: got, frame: body}
}

// response reads a whole frame and decodes it.
func (c *rawTerm) response(what string) *iso8583.Message {
	c.t.Helper()
	w := c.read(patience)
	if w.err != nil {
		c.t.Fatalf("%s: read %d bytes, then %v; want a whole frame", what, len(w.got), w.err)
	}
	return c.decode(what, w.frame)
}

func (c *rawTerm) decode(what string, frame []byte) *iso8583.Message {
	c.t.Helper()
	m, err := c.d.Decode(frame)
	if err != nil {
		c.t.Fatalf("%s: the response does not decode: %v", what, err)
	}
	return m
}

// quiet checks that nothing more arrives for d, and the connection stays open.
func (c *rawTerm) quiet(what string, d time.Duration) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	if n, err := c.r.Read(b[:]); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("%s: read %d byte(s) and %v; want nothing for %v on an open connection", what, n, err, d)
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func isEOF(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) }

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// --- one test per built-in scenario about the host's answers and the wire, in
// the order of scenarioTests ---

func testConnectionReset(t *testing.T) {
	s := startWith(t, "connection-reset", sim.Config{})
	c := rawDial(t, s, "TERM0001", "898100012340001")
	c.sale("000001", 1500)
	w := c.read(patience)
	if len(w.got) != 0 || !isReset(w.err) {
		t.Fatalf("sale: read %d bytes, then %v; want a TCP reset (ECONNRESET)", len(w.got), w.err)
	}
	if e := entry(t, s, journal.Filter{STAN: "000001", Txn: "sale"}); e.Action != "reset" || e.RC != txn.Approved {
		t.Errorf("journal of the sale: action %q RC %s; want reset of a booked approval", e.Action, e.RC)
	}

	// The terminal reverses on a new connection; the host finds the sale.
	term := connect(t, s, opts{})
	x, err := term.Reverse("000001", 1500, "98", false)
	expect(t, "reversal on a new connection", x, err, txn.Approved)
	if e := entry(t, s, journal.Filter{STAN: "000001", Txn: "reversal"}); !strings.Contains(e.Decision, "reversed") {
		t.Errorf("reversal decision %q, want the sale found and reversed", e.Decision)
	}
	x, err = term.Echo()
	expect(t, "echo (not a sale)", x, err, txn.Approved)
}

func testCutover(t *testing.T) {
	s := startWith(t, "cutover", sim.Config{})
	term := connect(t, s, opts{})

	s.Clock.Set(at(11, 22, 50))
	x, err := term.Sale(1000)
	expect(t, "sale at 22:50", x, err, txn.Approved)
	if got := x.Get(15); got != "0312" {
		t.Errorf("sale at 22:50 on 11 March settles on %s, want 0312", got)
	}

	s.Clock.Set(at(11, 23, 2))
	for _, step := range []struct {
		what string
		do   func() (*terminal.Exchange, error)
	}{
		{"sale", func() (*terminal.Exchange, error) { return term.Sale(1000) }},
		{"refund", func() (*terminal.Exchange, error) { return term.Refund(100, term.Last(txn.Sale)) }},
		{"void", func() (*terminal.Exchange, error) { return term.Void(term.Last(txn.Sale)) }},
		{"pre-auth", func() (*terminal.Exchange, error) { return term.PreAuth(1000) }},
	} {
		x, err := step.do()
		expect(t, step.what+" at 23:02", x, err, "90")
	}
	xs, err := term.Settle()
	if err == nil || len(xs) != 1 || xs[0].RC() != "90" {
		t.Fatalf("settlement at 23:02: %d exchanges, err %v; want RC 90 and the batch kept", len(xs), err)
	}
	x, err = term.Echo()
	expect(t, "echo at 23:02", x, err, txn.Approved)
	x, err = term.SignOn()
	expect(t, "sign-on at 23:02", x, err, txn.Approved)
	if e := entry(t, s, journal.Filter{Txn: "sale", RC: "90"}); e.Rule != "cut-over in progress" || e.Action != "respond rc=90" {
		t.Errorf("journal of the refused sale: rule %q action %q", e.Rule, e.Action)
	}

	s.Clock.Set(at(11, 23, 6))
	x, err = term.Sale(1000)
	expect(t, "sale at 23:06", x, err, txn.Approved)
	if got := x.Get(15); got != "0313" {
		t.Errorf("sale at 23:06 on 11 March settles on %s, want the next clearing day's 0313", got)
	}
	xs, err = term.Settle()
	if err != nil || xs[0].RC() != txn.Approved {
		t.Fatalf("settlement after the cut-over: %v", err)
	}
}

func testDailyLimit(t *testing.T) {
	s := startWith(t, "daily-limit", sim.Config{})
	s.Clock.Set(at(11, 10, 0))
	card := func(pan string) terminal.Card { return terminal.Card{PAN: pan, Expiry: "2712"} }
	a := connect(t, s, opts{Card: card("6222020000000001")})

	x, err := a.Sale(6_000_000)
	expect(t, "sale of 60,000.00", x, err, txn.Approved)
	x, err = a.Sale(4_000_000)
	expect(t, "sale up to the limit", x, err, txn.Approved)
	second := *a.Last(txn.Sale)
	x, err = a.Sale(1)
	expect(t, "sale past the limit", x, err, "61")
	if e := entry(t, s, journal.Filter{RC: "61"}); e.Scenario != "daily-limit" || e.Rule != "limit 1" || e.Action != "respond rc=61" {
		t.Errorf("journal of the 61: %+v", e)
	}

	// A reversal gives its sale's amount back.
	x, err = a.Reverse(second.STAN, 0, "98", false)
	expect(t, "reversal of the 40,000.00 sale", x, err, txn.Approved)
	x, err = a.Sale(3_000_000)
	expect(t, "sale in the room the reversal made", x, err, txn.Approved)
	x, err = a.Sale(1_000_001)
	expect(t, "sale one unit past the limit", x, err, "61")
	x, err = a.Sale(1_000_000)
	expect(t, "sale exactly to the limit", x, err, txn.Approved)

	// So does a void.
	x, err = a.Void(a.Last(txn.Sale))
	expect(t, "void of the 10,000.00 sale", x, err, txn.Approved)
	x, err = a.Sale(1_000_000)
	expect(t, "sale after the void", x, err, txn.Approved)

	// Another card has its own limit; the next day starts afresh.
	b := connect(t, s, opts{Card: card("6222020000000002"), STAN: 100})
	x, err = b.Sale(10_000_000)
	expect(t, "another card's sale", x, err, txn.Approved)
	s.Clock.Set(at(12, 10, 0))
	x, err = a.Sale(10_000_000)
	expect(t, "the next day", x, err, txn.Approved)

	// The 21st approval of a card in a day gets 65.
	c := connect(t, s, opts{Card: card("6222020000000003"), STAN: 200})
	for i := range 20 {
		x, err := c.Sale(100)
		expect(t, fmt.Sprintf("small sale %d", i+1), x, err, txn.Approved)
	}
	x, err = c.Sale(100)
	expect(t, "21st sale of the day", x, err, "65")
}

func testDuplicateResponse(t *testing.T) {
	s := startWith(t, "duplicate-response", sim.Config{})
	c := rawDial(t, s, "TERM0001", "898100012340001")
	c.sale("000001", 1500)
	first := c.read(patience)
	t1 := time.Now()
	second := c.read(patience)
	gap := time.Since(t1)
	if first.err != nil || second.err != nil {
		t.Fatalf("reading two frames: %v, %v", first.err, second.err)
	}
	if string(first.got) != string(second.got) {
		t.Fatalf("the copies differ:\n%q\n%q", first.got, second.got)
	}
	if gap < 400*time.Millisecond || gap > patience {
		t.Errorf("the copy came %v after the first, want about 500ms", gap)
	}
	m := c.decode("sale", first.frame)
	if mti, _ := m.GetMTI(); mti != "0210" || field(m, 39) != txn.Approved || field(m, 11) != "000001" {
		t.Errorf("response %s RC %s STAN %s, want an 0210 approving STAN 000001", mti, field(m, 39), field(m, 11))
	}
	// The connection is still in step: an echo after the copies is answered.
	c.echo("000002")
	if m := c.response("echo"); field(m, 11) != "000002" || field(m, 39) != txn.Approved {
		t.Errorf("echo answered STAN %s RC %s", field(m, 11), field(m, 39))
	}

	// The emulator ignores the copies.
	term := connect(t, s, opts{TID: "TERM0002"})
	for i := range 2 {
		x, err := term.Sale(100)
		expect(t, fmt.Sprintf("emulator sale %d", i+1), x, err, txn.Approved)
	}
	if e := entry(t, s, journal.Filter{TID: "TERM0002"}); e.Action != "duplicate" {
		t.Errorf("journal action %q, want duplicate", e.Action)
	}
}

// flakyRun sends sales, each on a fresh connection, to a flaky-network host
// with the given seed, and returns what each met: "ok", "reset", "truncate",
// "no-response" or "delay 3.2s", as the wire showed it and the journal
// explained it.
func flakyRun(t *testing.T, seed uint64, sales int) []string {
	s := startWith(t, "flaky-network", sim.Config{Seed: seed})
	var out []string
	for i := range sales {
		stan := fmt.Sprintf("%06d", i+1)
		c := rawDial(t, s, "TERM0001", "898100012340001")
		c.sale(stan, 1000)
		// A plain answer takes a millisecond; one slower than this is
		// told apart from a dropped or delayed one by the journal below.
		w := c.read(100 * time.Millisecond)
		e := func() journal.Entry { return entry(t, s, journal.Filter{STAN: stan, Txn: "sale"}) }
		var what string
		switch {
		case w.err == nil:
			m := c.decode("sale "+stan, w.frame)
			if rc := field(m, 39); rc != txn.Approved || e().Action != "" {
				t.Fatalf("sale %s: RC %s, journal action %q; want a plain approval", stan, rc, e().Action)
			}
			what = "ok"
		case isReset(w.err) && len(w.got) == 0:
			if a := e().Action; a != "reset" {
				t.Fatalf("sale %s: reset, but the journal says %q", stan, a)
			}
			what = "reset"
		case isEOF(w.err) && len(w.got) >= 2:
			whole := 2 + (int(w.got[0])<<8 | int(w.got[1]))
			if len(w.got) != whole/2 {
				t.Fatalf("sale %s: %d bytes of a %d-byte frame, then EOF; want half", stan, len(w.got), whole)
			}
			if a := e().Action; a != "truncate" {
				t.Fatalf("sale %s: half a frame, but the journal says %q", stan, a)
			}
			what = "truncate"
		case isTimeout(w.err) && len(w.got) == 0:
			switch a := e().Action; {
			case a == "no-response":
				what = a
			case strings.HasPrefix(a, "delay "):
				if d := delayOf(t, a); d < 2*time.Second || d > 8*time.Second {
					t.Fatalf("sale %s: delayed %v, want 2s to 8s", stan, d)
				}
				what = a
			case a == "":
				// Only slow: the host answered normally.
				if w = c.read(patience); w.err != nil {
					t.Fatalf("sale %s: %v", stan, w.err)
				}
				what = "ok"
			default:
				t.Fatalf("sale %s: nothing came, and the journal says %q", stan, a)
			}
		default:
			t.Fatalf("sale %s: read %d bytes, then %v", stan, len(w.got), w.err)
		}
		out = append(out, what)
		c.conn.Close() // a delayed answer is abandoned with its connection
	}
	return out
}

func testFlakyNetwork(t *testing.T) {
	const seed, sales = 7, 40
	run := flakyRun(t, seed, sales)
	count := map[string]int{}
	for _, o := range run {
		if strings.HasPrefix(o, "delay ") {
			o = "delay"
		}
		count[o]++
	}
	for _, f := range []string{"no-response", "reset", "truncate", "delay", "ok"} {
		if count[f] == 0 {
			t.Errorf("over %d sales with seed %d, no %s: %v", sales, seed, f, run)
		}
	}
	if again := flakyRun(t, seed, sales); !slices.Equal(run, again) {
		t.Errorf("the same seed gave two runs:\n%v\n%v", run, again)
	}
	t.Logf("seed %d: %v", seed, count)
}

func testGarbageResponse(t *testing.T) {
	s := startWith(t, "garbage-response", sim.Config{})
	c := rawDial(t, s, "TERM0001", "898100012340001")
	c.sale("000001", 1500)
	c.conn.SetReadDeadline(time.Now().Add(patience))
	got := make([]byte, 32)
	if _, err := io.ReadFull(c.r, got); err != nil {
		t.Fatalf("reading 32 bytes: %v", err)
	}
	c.quiet("after the garbage", short)
	if n := int(got[0])<<8 | int(got[1]); n == len(got)-2 {
		if _, err := c.d.Decode(got[2:]); err == nil {
			t.Fatalf("the garbage %X is a valid frame", got)
		}
	}
	if e := entry(t, s, journal.Filter{STAN: "000001"}); e.Action != "garbage" {
		t.Errorf("journal action %q, want garbage", e.Action)
	}
	// The connection stays open: the host still answers on it.
	c.echo("000002")
	if m := c.response("echo after the garbage"); field(m, 11) != "000002" || field(m, 39) != txn.Approved {
		t.Errorf("echo answered STAN %s RC %s", field(m, 11), field(m, 39))
	}
}

func testInsufficientFunds(t *testing.T) {
	s := startWith(t, "insufficient-funds", sim.Config{})
	term := connect(t, s, opts{})
	x, err := term.Sale(1000)
	expect(t, "sale", x, err, "51")
	if x.Get(38) != "" {
		t.Errorf("a declined sale carries auth code %q", x.Get(38))
	}
	x, err = term.Balance()
	expect(t, "balance", x, err, txn.Approved)
	x, err = term.PreAuth(1000)
	expect(t, "pre-auth", x, err, txn.Approved)
	x, err = term.Echo()
	expect(t, "echo", x, err, txn.Approved)
	if e := entry(t, s, journal.Filter{Txn: "sale"}); e.Action != "respond rc=51" {
		t.Errorf("journal action %q", e.Action)
	}
}

func testIssuerFlaky(t *testing.T) {
	s := startWith(t, "issuer-flaky", sim.Config{})
	s.Clock.Set(at(11, 12, 0))
	term := connect(t, s, opts{MID: otherMID})
	lossy := connect(t, s, opts{MID: otherMID, Timeout: short, STAN: 100})

	x, err := term.Sale(5_000_001)
	expect(t, "sale over 50,000.00", x, err, "61")

	// The first two sales of a terminal get no answer, the third is approved.
	var dropped []string
	for i := range 2 {
		x, err := lossy.Sale(100)
		dropped = append(dropped, expectTimeout(t, fmt.Sprintf("sale %d", i+1), x, err))
	}
	x, err = term.Sale(100)
	expect(t, "third sale", x, err, txn.Approved)
	x, err = term.Sale(200)
	expect(t, "fourth sale", x, err, txn.Approved)
	x, err = term.Sale(5_000_000)
	expect(t, "sale of exactly 50,000.00", x, err, txn.Approved)
	for _, stan := range dropped {
		e := entry(t, s, journal.Filter{STAN: stan, Txn: "sale"})
		if e.Action != "no-response" || e.Rule != "first two sales get no answer, then approve" {
			t.Errorf("journal of dropped sale %s: rule %q step %d action %q", stan, e.Rule, e.Step, e.Action)
		}
		x, err := term.Reverse(stan, 100, "98", false)
		expect(t, "reversal of sale "+stan, x, err, txn.Approved)
	}

	// Counted per terminal: another terminal starts over.
	other := connect(t, s, opts{TID: "TERM0002", MID: otherMID, Timeout: short})
	x, err = other.Sale(100)
	expectTimeout(t, "another terminal's first sale", x, err)

	// The fixture freezes the default test merchant.
	frozen := connect(t, s, opts{TID: "TERM0003"})
	x, err = frozen.Sale(100)
	expect(t, "sale of the frozen merchant", x, err, txn.InvalidMerchant)
	x, err = frozen.SignOn()
	expect(t, "sign-on of the frozen merchant", x, err, txn.InvalidMerchant)
	unknown := connect(t, s, opts{TID: "T0000099", MID: otherMID})
	x, err = unknown.Sale(100)
	expect(t, "sale of the unregistered terminal", x, err, "97")

	// Echoes pass the registry, and a tenth of them reset the connection.
	for _, who := range [][2]string{{"TERM0003", "898100012340001"}, {"T0000099", otherMID}, {"TERM0004", otherMID}} {
		ok, reset := 0, 0
		for i := range 30 {
			c := rawDial(t, s, who[0], who[1])
			c.echo(fmt.Sprintf("%06d", 500+i))
			switch w := c.read(patience); {
			case w.err == nil:
				if rc := field(c.decode("echo", w.frame), 39); rc != txn.Approved {
					t.Fatalf("echo of %s/%s: RC %s, want 00", who[0], who[1], rc)
				}
				ok++
			case isReset(w.err) && len(w.got) == 0:
				reset++
			default:
				t.Fatalf("echo of %s: read %d bytes, then %v", who[0], len(w.got), w.err)
			}
			c.conn.Close()
		}
		if ok < 15 || reset == 0 {
			t.Errorf("30 echoes of %s: %d answered, %d reset; want about a tenth reset", who[0], ok, reset)
		}
	}

	// Settlement is slow at night (23:00 to 01:00), normal by day.
	for i, when := range []time.Time{at(11, 23, 30), at(12, 0, 30)} {
		s.Clock.Set(when)
		tid := fmt.Sprintf("TERM100%d", i)
		night := connect(t, s, opts{TID: tid, MID: otherMID, Timeout: short})
		xs, err := night.Settle()
		expectTimeout(t, "settlement at "+when.Format("15:04"), xs[0], err)
		e := entry(t, s, journal.Filter{TID: tid, Txn: "settlement"})
		if e.Rule != "slow settlement at night" || e.Action != "delay 45s" || e.RC != txn.Approved {
			t.Errorf("journal of the settlement at %s: rule %q action %q RC %s; want the normal answer held back 45s",
				when.Format("15:04"), e.Rule, e.Action, e.RC)
		}
	}
	s.Clock.Set(at(12, 12, 0))
	xs, err := term.Settle()
	if err != nil || len(xs) != 1 || xs[0].RC() != txn.Approved {
		t.Fatalf("settlement by day: %d exchanges, err %v; want balanced at once", len(xs), err)
	}

	// The fixture's daily limit: 100,000.00 per card and day.
	t.Run("daily limit", func(t *testing.T) {
		card := connect(t, s, opts{TID: "TERM0001", MID: otherMID, Card: terminal.Card{PAN: "6222020000000021", Expiry: "2712"}, STAN: 300})
		for i := range 2 {
			x, err := card.Sale(5_000_000)
			expect(t, fmt.Sprintf("sale %d of 50,000.00", i+1), x, err, txn.Approved)
		}
		x, err := card.Sale(100)
		expect(t, "sale past the daily limit", x, err, "61")
	})
}

func testKeyError(t *testing.T) {
	s := startWith(t, "key-error", sim.Config{Dialect: "cup"})
	term := connect(t, s, opts{})
	x, err := term.SignOn()
	if err == nil || !strings.Contains(err.Error(), "check value") {
		t.Fatalf("cup sign-on: err %v; want the working keys refused for their check value", err)
	}
	if x.RC() != txn.Approved {
		t.Errorf("sign-on RC %s; the host approved it, only the keys are wrong", x.RC())
	}
	if e := entry(t, s, journal.Filter{Txn: "signon"}); e.Action != "corrupt" || e.Rule != "working keys with a bad check value" {
		t.Errorf("journal of the sign-on: rule %q action %q", e.Rule, e.Action)
	}
	// A terminal that signs with a key of its own gets A0 and is asked to
	// sign on again.
	term.UseMACKey([]byte("12345678"))
	x, err = term.Sale(100)
	expect(t, "sale with a MAC the host cannot verify", x, err, txn.MACError)
	if x.Requirement != 3 {
		t.Errorf("header processing requirement %d, want 3 (sign on again)", x.Requirement)
	}
}

func testLateResponse(t *testing.T) {
	s := startWith(t, "late-response", sim.Config{})
	term := connect(t, s, opts{Timeout: short})
	x, err := term.Sale(1500)
	stan := expectTimeout(t, "sale", x, err)
	e := entry(t, s, journal.Filter{STAN: stan, Txn: "sale"})
	if d := delayOf(t, e.Action); d != 65*time.Second {
		t.Errorf("sale delayed %v (journal %q), want 65s", d, e.Action)
	}
	if e.RC != txn.Approved {
		t.Errorf("the late answer is RC %s, want an approval", e.RC)
	}
	// The terminal has given up: its reversal, on the same line, is answered
	// at once and finds the sale.
	x, err = term.Reverse(stan, 1500, "98", false)
	expect(t, "reversal before the late answer", x, err, txn.Approved)

	// The same shape with a delay short enough to wait for: the answer comes,
	// late.
	fast, err := scenarios.Load("late-response-300ms.yaml", []byte(`
name: late-response-300ms
rules:
  - name: sales answered late
    match: txn == "sale"
    delay: 300ms
`))
	if err != nil {
		t.Fatal(err)
	}
	s.Engine.SetGlobal(fast)
	patient := connect(t, s, opts{TID: "TERM0002"})
	x, err = patient.Sale(1500)
	expect(t, "sale with a 300ms delay", x, err, txn.Approved)
	if x.Latency < 300*time.Millisecond || x.Latency > patience {
		t.Errorf("the answer came after %v, want 300ms or a little more", x.Latency)
	}
	x, err = patient.Echo()
	expect(t, "echo (not delayed)", x, err, txn.Approved)
	if x.Latency >= 300*time.Millisecond {
		t.Errorf("the echo took %v; only sales are delayed", x.Latency)
	}
}

func testMagicAmounts(t *testing.T) {
	s := startWith(t, "magic-amounts", sim.Config{})
	term := connect(t, s, opts{})
	for _, rc := range []string{"05", "12", "13", "14", "30", "51", "54", "55", "57", "61", "62", "65", "75", "91", "96"} {
		var cents int64
		fmt.Sscan(rc, &cents)
		x, err := term.Sale(4200 + cents)
		expect(t, fmt.Sprintf("sale of 42.%s", rc), x, err, rc)
	}
	x, err := term.Sale(4234)
	expect(t, "sale of 42.34", x, err, txn.Approved)
	x, err = term.Sale(100)
	expect(t, "sale of 1.00", x, err, txn.Approved)
	x, err = term.PreAuth(10075)
	expect(t, "pre-auth of 100.75", x, err, "75")
	x, err = term.Refund(113, nil)
	expect(t, "refund of 1.13", x, err, "13")
	x, err = term.Advice(105) // advices are not magic
	expect(t, "advice of 1.05", x, err, txn.Approved)
}

func testMaintenanceWindow(t *testing.T) {
	s := startWith(t, "maintenance-window", sim.Config{})
	term := connect(t, s, opts{})
	for _, when := range []time.Time{at(11, 23, 55), at(12, 0, 5)} {
		s.Clock.Set(when)
		hhmm := when.Format("15:04")
		x, err := term.Sale(100)
		expect(t, "sale at "+hhmm, x, err, "91")
		x, err = term.Balance()
		expect(t, "balance at "+hhmm, x, err, "91")
		x, err = term.PreAuth(100)
		expect(t, "pre-auth at "+hhmm, x, err, "91")
		x, err = term.SignOn()
		expect(t, "sign-on at "+hhmm, x, err, txn.Approved)
		x, err = term.Echo()
		expect(t, "echo at "+hhmm, x, err, txn.Approved)
	}
	xs, err := term.Settle()
	if err != nil || xs[0].RC() != txn.Approved {
		t.Fatalf("settlement in the window: %v", err)
	}
	for _, when := range []time.Time{at(11, 23, 45), at(12, 0, 15)} {
		s.Clock.Set(when)
		x, err := term.Sale(100)
		expect(t, "sale at "+when.Format("15:04"), x, err, txn.Approved)
	}
}

func testMerchantFrozen(t *testing.T) {
	s := startWith(t, "merchant-frozen", sim.Config{})
	for _, mid := range []string{"898100012340001", otherMID} {
		term := connect(t, s, opts{MID: mid})
		x, err := term.SignOn()
		expect(t, "sign-on", x, err, txn.InvalidMerchant)
		x, err = term.Sale(100)
		expect(t, "sale of "+mid, x, err, txn.InvalidMerchant)
		x, err = term.Echo()
		expect(t, "echo", x, err, txn.Approved)
		x, err = term.SignOff()
		expect(t, "sign-off", x, err, txn.Approved)
		xs, err := term.Settle()
		if err == nil || xs[0].RC() != txn.InvalidMerchant {
			t.Errorf("settlement of a frozen merchant: err %v", err)
		}
	}
}

func testSettlementDelay(t *testing.T) {
	s := startWith(t, "settlement-delay", sim.Config{})
	term := connect(t, s, opts{Timeout: short})
	x, err := term.Sale(1000)
	expect(t, "sale (not delayed)", x, err, txn.Approved)
	xs, err := term.Settle()
	expectTimeout(t, "settlement", xs[0], err)
	e := entry(t, s, journal.Filter{Txn: "settlement"})
	if e.Action != "delay 45s" || delayOf(t, e.Action) != 45*time.Second {
		t.Errorf("journal action %q, want delay 45s", e.Action)
	}
	if e.RC != txn.Approved {
		t.Errorf("the delayed answer is RC %s, want the normal 00", e.RC)
	}
}

func testSettlementFailure(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := startWith(t, "settlement-failure", sim.Config{Dialect: dn})
			term := connect(t, s, opts{})
			x, err := term.SignOn()
			expect(t, "sign-on", x, err, txn.Approved)
			x, err = term.Sale(1000)
			expect(t, "sale", x, err, txn.Approved)
			xs, err := term.Settle()
			if err == nil || len(xs) != 1 || xs[0].RC() != txn.SystemError {
				t.Fatalf("settlement: %d exchanges, err %v; want RC 96 and nothing more", len(xs), err)
			}
			if len(term.State.Records) != 1 {
				t.Fatalf("the terminal's batch holds %d records after a failed settlement, want it kept", len(term.State.Records))
			}
			// The batch stayed open on the host too: trying again later works.
			s.Engine.SetGlobal(nil)
			xs, err = term.Settle()
			if err != nil || xs[0].RC() != txn.Approved {
				t.Fatalf("settlement again: %v", err)
			}
			if dn == "cup" && xs[0].Get(48)[30] != '1' {
				t.Errorf("cup settlement again: F48 %s, want balanced", xs[0].Get(48))
			}
			if dn != "cup" && len(xs) != 1 {
				t.Errorf("iso87 settlement again: %d exchanges, want balanced at once", len(xs))
			}
		})
	}
}

func testSettlementOutOfBalance(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := startWith(t, "settlement-out-of-balance", sim.Config{Dialect: dn})
			term := connect(t, s, opts{})
			x, err := term.SignOn()
			expect(t, "sign-on", x, err, txn.Approved)
			for _, amt := range []int64{1000, 2500} {
				x, err := term.Sale(amt)
				expect(t, "sale", x, err, txn.Approved)
			}
			sale := *term.Last(txn.Sale)
			xs, err := term.Settle() // the terminal's totals are right
			if err != nil {
				t.Fatalf("settle: %v", err)
			}
			if len(xs) != 4 {
				t.Fatalf("%d exchanges, want the settlement, two uploads and the end", len(xs))
			}
			if dn == "cup" {
				if f48 := xs[0].Get(48); xs[0].RC() != txn.Approved || len(f48) < 62 || f48[30] != '2' {
					t.Fatalf("cup settlement: RC %s F48 %s, want 00 with code 2", xs[0].RC(), f48)
				}
				if f60 := field(xs[3].Request, 60); xs[3].Type != txn.UploadEnd || !strings.HasSuffix(f60, "202") {
					t.Errorf("cup end: %s with 60 %q, want the upload end with 60.3 202", xs[3].Type, f60)
				}
			} else {
				if xs[0].RC() != txn.OutOfBalance {
					t.Fatalf("iso87 settlement: RC %s, want 95", xs[0].RC())
				}
				if xs[3].Type != txn.UploadEnd || field(xs[3].Request, 3) != "960000" {
					t.Errorf("iso87 end: %s with F3 %q, want the 0500 trailer (960000)", xs[3].Type, field(xs[3].Request, 3))
				}
			}
			for _, x := range xs[1:] {
				if x.RC() != txn.Approved {
					t.Errorf("%s: RC %s", x.Type, x.RC())
				}
			}
			if e := entry(t, s, journal.Filter{Txn: "settlement"}); e.Action != "respond out-of-balance" || e.Scenario != "settlement-out-of-balance" {
				t.Errorf("journal of the settlement: %+v", e)
			}
			if e := entry(t, s, journal.Filter{Txn: "upload_end"}); !strings.Contains(e.Decision, "closed after an upload of 2 record(s)") {
				t.Errorf("upload end decision %q", e.Decision)
			}
			// The host closed the batch.
			x, err = term.Void(&sale)
			expect(t, "void after settlement", x, err, txn.InvalidTxn)
		})
	}
}

func testSingleLimit(t *testing.T) {
	s := startWith(t, "single-limit", sim.Config{})
	term := connect(t, s, opts{})
	x, err := term.Sale(5_000_000)
	expect(t, "sale of 50,000.00", x, err, txn.Approved)
	x, err = term.Sale(5_000_001)
	expect(t, "sale of 50,000.01", x, err, "61")
	x, err = term.PreAuth(5_000_001)
	expect(t, "pre-auth of 50,000.01", x, err, "61")
	x, err = term.Advice(5_000_001)
	expect(t, "advice of 50,000.01", x, err, "61")
	x, err = term.Refund(6_000_000, nil)
	expect(t, "refund of 60,000.00 (not a debit)", x, err, txn.Approved)
	x, err = term.Sale(5_000_000)
	expect(t, "another 50,000.00 (no daily limit)", x, err, txn.Approved)
}

func testTerminalUnregistered(t *testing.T) {
	s := startWith(t, "terminal-unregistered", sim.Config{})
	for _, tid := range []string{"TERM0001", "ANYTERM9"} {
		term := connect(t, s, opts{TID: tid})
		x, err := term.SignOn()
		expect(t, "sign-on of "+tid, x, err, "97")
		x, err = term.Sale(100)
		expect(t, "sale of "+tid, x, err, "97")
		x, err = term.SignOff()
		expect(t, "sign-off of "+tid, x, err, "97")
		x, err = term.Echo()
		expect(t, "echo of "+tid, x, err, txn.Approved)
	}
}

func testTimeout(t *testing.T) {
	s := startWith(t, "timeout", sim.Config{})
	term := connect(t, s, opts{Timeout: short})
	x, err := term.Echo()
	expect(t, "echo", x, err, txn.Approved)
	x, err = term.Sale(1500)
	stan := expectTimeout(t, "sale", x, err)
	if e := entry(t, s, journal.Filter{STAN: stan, Txn: "sale"}); e.Action != "no-response" || e.RC != txn.Approved {
		t.Errorf("journal of the sale: action %q RC %s; want a booked approval never sent", e.Action, e.RC)
	}
	term.Close()

	// The reversal, on a new connection, finds the sale.
	again := connect(t, s, opts{})
	x, err = again.Reverse(stan, 1500, "98", false)
	expect(t, "reversal on a new connection", x, err, txn.Approved)
	if e := entry(t, s, journal.Filter{STAN: stan, Txn: "reversal"}); !strings.Contains(e.Decision, "reversed") {
		t.Errorf("reversal decision %q, want the sale found and reversed", e.Decision)
	}
}

func testUndeliveredApproval(t *testing.T) {
	s := startWith(t, "undelivered-approval", sim.Config{})
	term := connect(t, s, opts{})
	lossy := connect(t, s, opts{Timeout: short, STAN: 100})
	lost := map[string]int64{} // STAN -> amount
	for i := 1; i <= 6; i++ {
		amount := int64(1000 + i)
		if i%3 != 0 {
			x, err := term.Sale(amount)
			expect(t, fmt.Sprintf("sale %d", i), x, err, txn.Approved)
			continue
		}
		x, err := lossy.Sale(amount)
		lost[expectTimeout(t, fmt.Sprintf("sale %d", i), x, err)] = amount
	}
	// The host approved and booked what the terminal never heard of; the
	// journal proves it, and the terminal's reversal settles it.
	for stan, amount := range lost {
		e := entry(t, s, journal.Filter{STAN: stan, Txn: "sale"})
		if e.RC != txn.Approved || e.RRN == "" || e.Amount != amount || e.Action != "no-response" || e.Rule != "approval lost on the way back" {
			t.Errorf("journal of lost sale %s: %+v", stan, e)
		}
		x, err := term.Reverse(stan, amount, "98", false)
		expect(t, "reversal of lost sale "+stan, x, err, txn.Approved)
		if e := entry(t, s, journal.Filter{STAN: stan, Txn: "reversal"}); !strings.Contains(e.Decision, "reversed") {
			t.Errorf("reversal of %s: decision %q, want the sale found and reversed", stan, e.Decision)
		}
	}
	if len(lost) != 2 {
		t.Errorf("%d of 6 sales lost, want the 3rd and the 6th", len(lost))
	}
}

func testVoidDisabled(t *testing.T) {
	s := startWith(t, "void-disabled", sim.Config{})
	term := connect(t, s, opts{})
	x, err := term.Sale(1000)
	expect(t, "sale", x, err, txn.Approved)
	x, err = term.Void(term.Last(txn.Sale))
	expect(t, "void", x, err, "58")
	x, err = term.PreAuth(500)
	expect(t, "pre-auth", x, err, txn.Approved)
	x, err = term.Void(term.Last(txn.PreAuth))
	expect(t, "pre-auth void", x, err, "58")
	x, err = term.Refund(1000, term.Last(txn.Sale))
	expect(t, "refund instead", x, err, txn.Approved)
	// Nothing was voided: the host's totals and the terminal's agree.
	xs, err := term.Settle()
	if err != nil || len(xs) != 1 || xs[0].RC() != txn.Approved {
		t.Fatalf("settlement: %d exchanges, err %v; want balanced", len(xs), err)
	}
}

func testWrongPIN(t *testing.T) {
	s := startWith(t, "wrong-pin", sim.Config{})
	cardA := terminal.Card{PAN: "6222020000000011", Expiry: "2712"}
	cardB := terminal.Card{PAN: "6222020000000012", Expiry: "2712"}
	a := connect(t, s, opts{Card: cardA})
	for i, rc := range []string{"55", "55", "55", "75", "75"} {
		x, err := a.Sale(1000)
		expect(t, fmt.Sprintf("card A sale %d", i+1), x, err, rc)
	}
	b := connect(t, s, opts{Card: cardB, STAN: 100})
	x, err := b.Sale(1000)
	expect(t, "card B's first sale", x, err, "55")
	// Counted per card, not per terminal: card A is locked on any terminal.
	a2 := connect(t, s, opts{TID: "TERM0002", Card: cardA})
	x, err = a2.Sale(1000)
	expect(t, "card A on another terminal", x, err, "75")
	x, err = a.Balance()
	expect(t, "balance (not a sale)", x, err, txn.Approved)

	// Every entry names the scenario, rule, step and action that decided it.
	es := s.Journal.Query(journal.Filter{TID: "TERM0001", Txn: "sale"})
	if len(es) != 6 {
		t.Fatalf("%d sales journalled for TERM0001, want 6", len(es))
	}
	wantSteps := []int{1, 1, 1, 2, 2, 1}
	for i, e := range es {
		wantRC := map[int]string{1: "55", 2: "75"}[wantSteps[i]]
		if e.Scenario != "wrong-pin" || e.Rule != "wrong PIN, then locked" || e.Step != wantSteps[i] ||
			e.Action != "respond rc="+wantRC || e.RC != wantRC {
			t.Errorf("sale %d journalled as scenario %q rule %q step %d action %q RC %s; want wrong-pin, step %d, respond rc=%s",
				i+1, e.Scenario, e.Rule, e.Step, e.Action, e.RC, wantSteps[i], wantRC)
		}
	}
	if e := entry(t, s, journal.Filter{Txn: "balance"}); e.Scenario != "" || e.Rule != "" || e.Action != "" {
		t.Errorf("the default answer is journalled as %q/%q/%q, want no scenario", e.Scenario, e.Rule, e.Action)
	}
}

// --- settlement and the books: what the terminal sees, then what the
// settlement report (GET /settlements) and the host's batches show; in the
// order of scenarioTests ---

// ourMID is the merchant connect gives a terminal by default.
const ourMID = "898100012340001"

// debitCard is a card the built-in BIN table takes for a debit card (62...);
// the terminal's default card (47...) is a credit card.
var debitCard = terminal.Card{PAN: "6222020000000011", Expiry: "2712"}

// startBooks runs a host with a built-in scenario bound to every terminal and
// the admin API on, for the settlement report.
func startBooks(t *testing.T, scenario string, cfg sim.Config) *sim.Sim {
	t.Helper()
	cfg.Scenario = scenario
	return start(t, cfg)
}

// report is the settlement report as the admin API computes it.
func settlements(s *sim.Sim, f report.Filter) []report.Settlement {
	return report.Settlements(s.Books.Records(), s.Books.Batches(), f)
}

// statement fetches the settlement report from the admin API, as a merchant
// or a test suite reads it.
func statement(t testing.TB, s *sim.Sim, q url.Values) []report.Settlement {
	t.Helper()
	client := &http.Client{Timeout: patience}
	resp, err := client.Get("http://" + s.AdminAddr() + "/settlements?" + q.Encode())
	if err != nil {
		t.Fatalf("GET /settlements: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /settlements: %s", resp.Status)
	}
	var ss []report.Settlement
	if err := json.NewDecoder(resp.Body).Decode(&ss); err != nil {
		t.Fatalf("GET /settlements: %v", err)
	}
	return ss
}

// settlementOn returns the report's one settlement of the merchant on date.
func settlementOn(t testing.TB, s *sim.Sim, mid, date string) report.Settlement {
	t.Helper()
	ss := settlements(s, report.Filter{MID: mid, Date: date})
	if len(ss) != 1 {
		t.Fatalf("the report has %d settlements for %s on %s, want 1: %+v", len(ss), mid, date, ss)
	}
	return ss[0]
}

// record returns the host's booking of the transaction with the given RRN.
func record(t testing.TB, s *sim.Sim, rrn string) books.Record {
	t.Helper()
	for _, r := range s.Books.Records() {
		if r.RRN == rrn {
			return r
		}
	}
	t.Fatalf("the host has no record with RRN %s", rrn)
	return books.Record{}
}

// hostBatch returns the host's record of one of a terminal's batches.
func hostBatch(t testing.TB, s *sim.Sim, tid, batch string) books.Batch {
	t.Helper()
	for _, b := range s.Books.Batches() {
		if b.TID == tid && b.Batch == batch {
			return b
		}
	}
	t.Fatalf("the host has no batch %s of %s: %+v", batch, tid, s.Books.Batches())
	return books.Batch{}
}

// money writes minor units as the report does: 1000000 -> 10000.00.
func money(n int64) string { return fmt.Sprintf("%d.%02d", n/100, n%100) }

// balanced checks that a settlement balanced at once: one exchange in
// iso87ascii, the settlement and the end of batch (207) in cup.
func balanced(t testing.TB, dn, what string, xs []*terminal.Exchange, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	switch {
	case xs[0].RC() != txn.Approved:
		t.Fatalf("%s: RC %s, want 00", what, xs[0].RC())
	case dn == "cup" && (len(xs) != 2 || len(xs[0].Get(48)) < 62 || xs[0].Get(48)[30] != '1'):
		t.Fatalf("%s: %d exchanges, F48 %s; want balanced (code 1) and the 207 end", what, len(xs), xs[0].Get(48))
	case dn != "cup" && len(xs) != 1:
		t.Fatalf("%s: %d exchanges, want balanced at once", what, len(xs))
	}
}

// outOfBalance checks that a settlement was answered out of balance: 95 in
// iso87ascii, 00 with F48 code 2 in cup.
func outOfBalance(t testing.TB, dn, what string, x *terminal.Exchange) {
	t.Helper()
	if dn == "cup" {
		if f48 := x.Get(48); x.RC() != txn.Approved || len(f48) < 62 || f48[30] != '2' {
			t.Fatalf("%s: RC %s F48 %s, want 00 with code 2", what, x.RC(), f48)
		}
	} else if x.RC() != txn.OutOfBalance {
		t.Fatalf("%s: RC %s, want 95", what, x.RC())
	}
}

// closing builds what TERM0001 sends after an out-of-balance settlement: the
// upload of one of its records, or (rec nil) the end of its batch, in the
// host's dialect; for a host that refuses the settlement before that.
func closing(t testing.TB, s *sim.Sim, term *terminal.Terminal, stan string, rec *terminal.Record) *iso8583.Message {
	t.Helper()
	batch, tot := term.State.Batch, term.Totals()
	m := iso8583.NewMessage(s.Dialect.Spec)
	fields := map[int]string{11: stan, 41: "TERM0001", 42: ourMID}
	cup := s.Dialect.Preamble > 0
	switch {
	case cup && rec != nil:
		m.MTI("0320")
		fields[48] = fmt.Sprintf("0100%s%020s%012d", rec.STAN, terminal.DefaultCard.PAN, rec.Amount)
		fields[60] = "00" + batch + "201"
	case cup:
		m.MTI("0320")
		fields[48] = "0001"
		fields[60] = "00" + batch + "202"
	case rec != nil:
		m.MTI("0320")
		fields[2], fields[3], fields[4] = terminal.DefaultCard.PAN, rec.Proc, fmt.Sprintf("%012d", rec.Amount)
		fields[37], fields[38], fields[60] = rec.RRN, rec.Auth, rec.MTI+rec.STAN
	default:
		m.MTI("0500")
		fields[3], fields[60] = "960000", batch
		fields[63] = fmt.Sprintf("%03d%012d%03d%012d", tot.DebitCount, tot.DebitAmount, tot.CreditCount, tot.CreditAmount)
	}
	for id, v := range fields {
		if err := m.Field(id, v); err != nil {
			t.Fatalf("field %d: %v", id, err)
		}
	}
	return m
}

// feeSale is a sale and what the statement must charge for it.
type feeSale struct {
	card   terminal.Card
	typ    string // debit or credit, as the BIN table has it
	amount int64
	fee    int64 // what the statement charges, the fault applied
	right  int64 // what the fee schedule says
}

// testFees sends each sale from a terminal of its own, then checks its fee in
// the host's books and the statement's figures, by card type and in total,
// and that the statement and the journal name the fault.
func testFees(t *testing.T, fault string, sales []feeSale) {
	s := startBooks(t, fault, sim.Config{})
	s.Clock.Set(at(11, 12, 0))
	want := report.Figures{}
	byType := map[string]*report.Figures{}
	for i, sale := range sales {
		tid := fmt.Sprintf("TERM%04d", i+1)
		what := fmt.Sprintf("%s sale of %s", sale.typ, money(sale.amount))
		x, err := connect(t, s, opts{TID: tid, Card: sale.card}).Sale(sale.amount)
		expect(t, what, x, err, txn.Approved)
		if got := x.Get(15); got != "0312" {
			t.Errorf("%s: F15 %s, want the next day, 0312", what, got)
		}
		rec := record(t, s, x.Get(37))
		if rec.Terms.CardType != sale.typ || rec.Terms.Fee != sale.fee {
			t.Errorf("%s: booked as a %s card with fee %s; want a %s card charged %s (the schedule says %s)",
				what, rec.Terms.CardType, money(rec.Terms.Fee), sale.typ, money(sale.fee), money(sale.right))
		}
		if e := entry(t, s, journal.Filter{TID: tid, Txn: "sale"}); e.Action != "books fault: "+fault || e.Scenario != fault {
			t.Errorf("%s: journalled as scenario %q action %q, want the books fault named", what, e.Scenario, e.Action)
		}
		want.Count, want.Gross, want.Fees, want.Net = want.Count+1, want.Gross+sale.amount, want.Fees+sale.fee, want.Net+sale.amount-sale.fee
		f := byType[sale.typ]
		if f == nil {
			f = &report.Figures{}
			byType[sale.typ] = f
		}
		f.Count, f.Gross, f.Fees, f.Net = f.Count+1, f.Gross+sale.amount, f.Fees+sale.fee, f.Net+sale.amount-sale.fee
	}

	ss := statement(t, s, url.Values{"mid": {ourMID}})
	if len(ss) != 1 {
		t.Fatalf("GET /settlements?mid=%s: %d settlements, want the one of 2025-03-12: %+v", ourMID, len(ss), ss)
	}
	st := ss[0]
	if st.SettlementDate != "2025-03-12" || st.Mode != "T1" {
		t.Errorf("statement for %s %s, want T1 on 2025-03-12", st.Mode, st.SettlementDate)
	}
	if st.Figures != want {
		t.Errorf("statement totals %+v, want %+v", st.Figures, want)
	}
	for typ, f := range byType {
		if got := st.ByCardType[typ]; got == nil || *got != *f {
			t.Errorf("statement for %s cards: %+v, want %+v", typ, got, *f)
		}
	}
	if !slices.Contains(st.Faults, fault) {
		t.Errorf("statement names faults %v, want %s among them", st.Faults, fault)
	}
}

func testFeeNoCap(t *testing.T) {
	testFees(t, "fee-no-cap", []feeSale{
		{card: debitCard, typ: "debit", amount: 1_000_000, fee: 5000, right: 2000},
		{card: debitCard, typ: "debit", amount: 10_000, fee: 50, right: 50},
		{card: terminal.DefaultCard, typ: "credit", amount: 1_000_000, fee: 6000, right: 6000},
	})
}

func testFeeOnVoid(t *testing.T) {
	s := startWith(t, "fee-on-void", sim.Config{})
	s.Clock.Set(at(11, 12, 0))
	term := connect(t, s, opts{Card: debitCard})
	x, err := term.Sale(10_000)
	expect(t, "debit sale of 100.00", x, err, txn.Approved)
	sale := record(t, s, x.Get(37))
	if sale.Terms.Fee != 50 {
		t.Fatalf("debit sale of 100.00 charged %s, want 0.50", money(sale.Terms.Fee))
	}
	x, err = term.Void(term.Last(txn.Sale))
	expect(t, "void", x, err, txn.Approved)
	if e := entry(t, s, journal.Filter{Txn: "void"}); e.Action != "books fault: fee-on-void" {
		t.Errorf("journal of the void: action %q, want the books fault named", e.Action)
	}
	// The terminal and the host agree there is nothing to settle...
	xs, err := term.Settle()
	balanced(t, "iso87ascii", "settlement", xs, err)

	// ...but the statement pays nothing for the voided sale and still
	// charges its fee.
	st := settlementOn(t, s, ourMID, "2025-03-12")
	want := report.Figures{Count: 1, Gross: 0, Fees: 50, Net: -50}
	if st.Figures != want {
		t.Errorf("statement totals %+v, want %+v: the voided sale's fee charged, nothing paid", st.Figures, want)
	}
	if d := st.ByCardType["debit"]; d == nil || *d != want {
		t.Errorf("statement for debit cards %+v, want %+v", d, want)
	}
	if !slices.Contains(st.Faults, "fee-on-void") {
		t.Errorf("statement names faults %v, want fee-on-void", st.Faults)
	}
}

func testFeeRounding(t *testing.T) {
	testFees(t, "fee-rounding", []feeSale{
		{card: debitCard, typ: "debit", amount: 10_010, fee: 51, right: 50},             // 0.5005 rounded up
		{card: terminal.DefaultCard, typ: "credit", amount: 10_010, fee: 61, right: 60}, // 0.6006 rounded up
		{card: debitCard, typ: "debit", amount: 10_000, fee: 50, right: 50},             // nothing to round
	})
}

func testFeeWrongTier(t *testing.T) {
	testFees(t, "fee-wrong-tier", []feeSale{
		{card: debitCard, typ: "debit", amount: 10_000, fee: 60, right: 50},
		{card: terminal.DefaultCard, typ: "credit", amount: 10_000, fee: 50, right: 60},
		// The debit cap still applies to the wrong rate.
		{card: debitCard, typ: "debit", amount: 1_000_000, fee: 2000, right: 2000},
	})
}

func testHolidaySettlementDate(t *testing.T) {
	// The host's own calendar has the fixture's holidays: without the
	// scenario, the same sale settles on the right date.
	holidays := []string{"2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07", "2027-01-01"}
	s := startWith(t, "holiday-settlement-date", sim.Config{Holidays: holidays})
	term := connect(t, s, opts{})
	for _, tc := range []struct {
		when time.Time
		f15  string
		date string
	}{
		// Wednesday before a week of holidays: the next day, a holiday,
		// instead of 1008.
		{time.Date(2026, time.September, 30, 12, 0, 0, 0, time.Local), "1001", "2026-10-01"},
		// Friday, a holiday: the weekend is skipped, the holiday Monday is not.
		{time.Date(2026, time.October, 2, 12, 0, 0, 0, time.Local), "1005", "2026-10-05"},
	} {
		s.Clock.Set(tc.when)
		x, err := term.Sale(1000)
		what := "sale at " + tc.when.Format("2006-01-02 15:04")
		expect(t, what, x, err, txn.Approved)
		if got := x.Get(15); got != tc.f15 {
			t.Errorf("%s: F15 %s, want the wrong date %s", what, got, tc.f15)
		}
		if e := entry(t, s, journal.Filter{STAN: x.Get(11), Txn: "sale"}); e.Action != "books fault: holiday-ignored" {
			t.Errorf("%s: journal action %q, want the books fault named", what, e.Action)
		}
		st := settlementOn(t, s, ourMID, tc.date)
		if st.Count != 1 || st.Gross != 1000 || !slices.Contains(st.Faults, "holiday-ignored") {
			t.Errorf("report for %s: %+v, want the sale, with the fault holiday-ignored", tc.date, st)
		}
	}

	s.Engine.SetGlobal(nil)
	s.Clock.Set(time.Date(2026, time.September, 30, 12, 0, 0, 0, time.Local))
	x, err := term.Sale(2000)
	expect(t, "sale without the scenario", x, err, txn.Approved)
	if got := x.Get(15); got != "1008" {
		t.Errorf("sale without the scenario: F15 %s, want 1008, after the holidays", got)
	}
	if st := settlementOn(t, s, ourMID, "2026-10-08"); st.Gross != 2000 || len(st.Faults) != 0 {
		t.Errorf("report for 2026-10-08: %+v, want the second sale and no fault", st)
	}
}

func testSettlementIssuerDown(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := startWith(t, "settlement-issuer-down", sim.Config{Dialect: dn})
			term := connect(t, s, opts{})
			x, err := term.SignOn()
			expect(t, "sign-on", x, err, txn.Approved)
			x, err = term.Sale(1000)
			expect(t, "sale", x, err, txn.Approved)
			xs, err := term.Settle()
			if err == nil || len(xs) != 1 || xs[0].RC() != "91" {
				t.Fatalf("settlement: %d exchanges, err %v; want RC 91 and nothing more", len(xs), err)
			}
			if len(term.State.Records) != 1 {
				t.Errorf("the terminal's batch holds %d records after a 91, want it kept", len(term.State.Records))
			}
			if e := entry(t, s, journal.Filter{Txn: "settlement"}); e.Rule != "back end down" || e.Action != "respond rc=91" {
				t.Errorf("journal of the settlement: rule %q action %q", e.Rule, e.Action)
			}
			if b := hostBatch(t, s, "TERM0001", "000001"); b.State != books.BatchOpen || b.Outcome != "" || b.Claimed != nil {
				t.Errorf("host batch after a 91: %+v, want it open and unsettled", b)
			}
			// The back end is up again: the same batch settles.
			s.Engine.SetGlobal(nil)
			xs, err = term.Settle()
			balanced(t, dn, "settlement again", xs, err)
			if b := hostBatch(t, s, "TERM0001", "000001"); b.State != books.BatchClosed || b.Outcome != "balanced" {
				t.Errorf("host batch after settling again: state %s outcome %q, want closed balanced", b.State, b.Outcome)
			}
		})
	}
}

func testSettlementNoResponse(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := startWith(t, "settlement-no-response", sim.Config{Dialect: dn})
			term := connect(t, s, opts{Timeout: short})
			x, err := term.SignOn()
			expect(t, "sign-on", x, err, txn.Approved)
			x, err = term.Sale(1000)
			expect(t, "sale (answered)", x, err, txn.Approved)
			xs, err := term.Settle()
			expectTimeout(t, "settlement", xs[0], err)
			if len(xs) != 1 || len(term.State.Records) != 1 {
				t.Fatalf("%d exchanges, %d records kept; want the settlement only, and the batch kept", len(xs), len(term.State.Records))
			}
			if e := entry(t, s, journal.Filter{Txn: "settlement"}); e.Rule != "settlement lost" || e.Action != "no-response" {
				t.Errorf("journal of the settlement: rule %q action %q", e.Rule, e.Action)
			}
			lost := hostBatch(t, s, "TERM0001", "000001")

			// Trying again: the scenario loses every settlement.
			xs, err = term.Settle()
			expectTimeout(t, "settlement again", xs[0], err)
			// Once the host answers again, the terminal settles the batch it
			// kept, at once.
			s.Engine.SetGlobal(nil)
			xs, err = term.Settle()
			if err == nil && xs[0].RC() == txn.OutOfBalance {
				t.Errorf("regression: the host settled and closed batch 000001 at the settlement whose answer it never sent "+
					"(state %s, outcome %q), so the terminal's retry is out of balance (95) and uploads its batch into batch 000002; "+
					"the fixture says the batch stays open for the terminal to try again", lost.State, lost.Outcome)
			}
			balanced(t, dn, "settlement after recovery", xs, err)
			if lost.State != books.BatchOpen {
				t.Errorf("regression: after the settlement whose answer was never sent, GET /batches shows batch 000001 %s (outcome %q); "+
					"the fixture says it stays open (the retry did settle it)", lost.State, lost.Outcome)
			}
		})
	}
}

func testSettlementOutOfBalanceOnce(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := startWith(t, "settlement-out-of-balance-once", sim.Config{Dialect: dn})
			s.Clock.Set(at(11, 12, 0))
			term := connect(t, s, opts{})
			x, err := term.SignOn()
			expect(t, "sign-on", x, err, txn.Approved)

			x, err = term.Sale(1000)
			expect(t, "sale in batch 1", x, err, txn.Approved)
			xs, err := term.Settle()
			balanced(t, dn, "settlement of batch 1", xs, err)

			for _, amt := range []int64{2000, 3000} {
				x, err := term.Sale(amt)
				expect(t, "sale in batch 2", x, err, txn.Approved)
			}
			xs, err = term.Settle() // the terminal's totals are right
			if err != nil {
				t.Fatalf("settlement of batch 2: %v", err)
			}
			outOfBalance(t, dn, "settlement of batch 2", xs[0])
			if len(xs) != 4 {
				t.Fatalf("settlement of batch 2: %d exchanges, want the settlement, two uploads and the end", len(xs))
			}
			for _, x := range xs[1:] {
				if x.RC() != txn.Approved {
					t.Errorf("batch 2 %s: RC %s", x.Type, x.RC())
				}
			}

			x, err = term.Sale(4000)
			expect(t, "sale in batch 3", x, err, txn.Approved)
			xs, err = term.Settle()
			balanced(t, dn, "settlement of batch 3", xs, err)

			es := s.Journal.Query(journal.Filter{Txn: "settlement"})
			if len(es) != 3 {
				t.Fatalf("%d settlements journalled, want 3", len(es))
			}
			for i, e := range es {
				rule := map[bool]string{true: "batch 2 never balances"}[i == 1]
				if e.Rule != rule {
					t.Errorf("settlement of batch %d: journalled rule %q, want %q", i+1, e.Rule, rule)
				}
			}
			if es[1].Action != "respond out-of-balance" {
				t.Errorf("settlement of batch 2: journal action %q", es[1].Action)
			}

			// The host's batches, and the report's.
			want := []report.BatchOutcome{
				{TID: "TERM0001", Batch: "000001", State: books.BatchClosed, Outcome: "balanced"},
				{TID: "TERM0001", Batch: "000002", State: books.BatchClosed, Outcome: "out of balance"},
				{TID: "TERM0001", Batch: "000003", State: books.BatchClosed, Outcome: "balanced"},
			}
			if b := hostBatch(t, s, "TERM0001", "000002"); b.Uploaded != 2 || len(b.Differences) != 0 {
				t.Errorf("host batch 2: %d uploaded, differences %v; want both records uploaded, no difference", b.Uploaded, b.Differences)
			}
			st := settlementOn(t, s, ourMID, "2025-03-12")
			if !slices.Equal(st.Batches, want) {
				t.Errorf("report batches %+v, want %+v", st.Batches, want)
			}
			if st.Count != 4 || st.Gross != 10_000 {
				t.Errorf("report: %d transactions for %s, want 4 for 100.00", st.Count, money(st.Gross))
			}
		})
	}
}

func testSettlementSuspended(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := startWith(t, "settlement-suspended", sim.Config{Dialect: dn})
			term := connect(t, s, opts{})
			x, err := term.SignOn()
			expect(t, "sign-on", x, err, txn.Approved)
			x, err = term.Sale(1000)
			expect(t, "sale", x, err, txn.Approved)
			sale := *term.Last(txn.Sale)
			xs, err := term.Settle()
			if err == nil || len(xs) != 1 || xs[0].RC() != txn.InvalidMerchant {
				t.Fatalf("settlement: %d exchanges, err %v; want RC 03 and nothing more", len(xs), err)
			}
			if len(term.State.Records) != 1 {
				t.Errorf("the terminal's batch holds %d records after a 03, want it kept", len(term.State.Records))
			}
			x, err = term.Send(txn.Upload, closing(t, s, term, "000901", &sale))
			expect(t, "batch upload", x, err, txn.InvalidMerchant)
			x, err = term.Send(txn.UploadEnd, closing(t, s, term, "000902", nil))
			expect(t, "end of batch", x, err, txn.InvalidMerchant)
			if b := hostBatch(t, s, "TERM0001", "000001"); b.State != books.BatchOpen || b.Uploaded != 0 {
				t.Errorf("host batch: state %s, %d uploaded; want it open, nothing uploaded", b.State, b.Uploaded)
			}
			x, err = term.Sale(500)
			expect(t, "another sale", x, err, txn.Approved)
			if e := entry(t, s, journal.Filter{Txn: "settlement"}); e.Action != "merchant settlement-suspended" {
				t.Errorf("journal action of the settlement %q", e.Action)
			}
		})
	}
}

func testT0FundsLate(t *testing.T) {
	s := startWith(t, "t0-funds-late", sim.Config{})
	s.Clock.Set(at(11, 12, 0))
	term := connect(t, s, opts{})
	x, err := term.Sale(1000)
	expect(t, "sale", x, err, txn.Approved)
	if got := x.Get(15); got != "0311" {
		t.Errorf("T0 sale on 11 March settles on %s, want the same day, 0311", got)
	}
	rec := record(t, s, x.Get(37))
	if d := rec.At.Sub(at(11, 12, 0)); d < 0 || d > patience {
		t.Fatalf("the sale is booked at %v, want 12:00 on the virtual clock", rec.At)
	}
	if rec.Terms.Mode != "T0" || rec.Terms.FundsAt.Sub(rec.At) != 26*time.Hour {
		t.Errorf("booked %s with funds at %v, want T0 with funds 26h after the sale at %v", rec.Terms.Mode, rec.Terms.FundsAt, rec.At)
	}
	st := settlementOn(t, s, ourMID, "2025-03-11")
	if st.Mode != "T0" || !st.FundsAvailable.Equal(rec.At.Add(26*time.Hour)) {
		t.Errorf("report: %s with funds available %v, want T0 with funds at %v, a day and more late",
			st.Mode, st.FundsAvailable, rec.At.Add(26*time.Hour))
	}
}

func testT0OutsideWindow(t *testing.T) {
	s := startWith(t, "t0-outside-window", sim.Config{})
	term := connect(t, s, opts{})
	sale := func(when time.Time, amount int64, rc string) *terminal.Exchange {
		t.Helper()
		s.Clock.Set(when)
		x, err := term.Sale(amount)
		return expect(t, fmt.Sprintf("sale of %s at %s", money(amount), when.Format("Jan 2 15:04")), x, err, rc)
	}
	rule := func(what, want string) {
		t.Helper()
		if e := entry(t, s, journal.Filter{TID: "TERM0001", Txn: "sale"}); e.Rule != want {
			t.Errorf("%s: journalled rule %q, want %q", what, e.Rule, want)
		}
	}

	// The window is [09:00, 21:00).
	sale(at(11, 8, 59), 1000, "58")
	rule("sale at 08:59", "T0 outside its window 09:00-21:00")
	if x := sale(at(11, 9, 0), 1000, txn.Approved); x.Get(15) != "0311" {
		t.Errorf("T0 sale on 11 March settles on %s, want the same day, 0311", x.Get(15))
	}
	first := *term.Last(txn.Sale)
	sale(at(11, 20, 59), 1000, txn.Approved)
	sale(at(11, 21, 0), 1000, "58")
	sale(at(11, 22, 0), 1000, "58")

	// Credited at once: no void, no reversal; a refund instead.
	s.Clock.Set(at(11, 10, 0))
	x, err := term.Void(&first)
	expect(t, "void of a T0 sale", x, err, txn.InvalidTxn)
	if e := entry(t, s, journal.Filter{Txn: "void"}); !strings.Contains(e.Decision, "T+0") {
		t.Errorf("void decision %q, want the T+0 reason", e.Decision)
	}
	x, err = term.Reverse(first.STAN, 0, "98", false)
	expect(t, "reversal of a T0 sale", x, err, txn.InvalidTxn)
	x, err = term.Refund(1000, &first)
	expect(t, "refund of a T0 sale", x, err, txn.Approved)

	// Limits per transaction: 1.00 to 50,000.00.
	sale(at(11, 10, 0), 99, "13")
	rule("sale of 0.99", "T0 below its minimum amount")
	sale(at(11, 10, 0), 100, txn.Approved)
	sale(at(11, 10, 0), 5_000_001, "61")
	rule("sale of 50,000.01", "T0 above its maximum amount")

	// And 200,000.00 a day per merchant: 2,100.00 used so far... to the cent.
	for range 3 {
		sale(at(11, 10, 0), 5_000_000, txn.Approved)
	}
	sale(at(11, 10, 0), 5_000_000, "61")
	rule("sale past the daily quota", "T0 daily quota used up")
	sale(at(11, 10, 0), 20_000_000-15_002_100, txn.Approved)
	sale(at(11, 10, 0), 100, "61")
	other := connect(t, s, opts{TID: "TERM0002", MID: otherMID})
	x, err = other.Sale(5_000_000)
	expect(t, "another merchant's sale", x, err, txn.Approved)
	if x := sale(at(12, 10, 0), 5_000_000, txn.Approved); x.Get(15) != "0312" {
		t.Errorf("T0 sale on 12 March settles on %s, want 0312", x.Get(15))
	}

	// The report: the day's T0 settlement, exactly the quota less the refund.
	st := settlementOn(t, s, ourMID, "2025-03-11")
	if st.Mode != "T0" || st.Count != 8 || st.Gross != 20_000_000-1000 {
		t.Errorf("report for 11 March: %s, %d transactions for %s; want T0, 8 for 199,990.00", st.Mode, st.Count, money(st.Gross))
	}
	latest := time.Time{}
	for _, r := range s.Books.Records() {
		if r.MID == ourMID && r.State == "approved" && r.At.Before(at(12, 0, 0)) && r.At.After(latest) {
			latest = r.At
		}
	}
	if !st.FundsAvailable.Equal(latest) || latest.Before(at(11, 20, 59)) {
		t.Errorf("report for 11 March: funds available %v, want at once: at the latest transaction, %v", st.FundsAvailable, latest)
	}
	if t1 := settlements(s, report.Filter{Mode: "T1"}); len(t1) != 0 {
		t.Errorf("the report has T1 settlements for T0 merchants: %+v", t1)
	}
}

func testT0SettledT1(t *testing.T) {
	s := startWith(t, "t0-settled-t1", sim.Config{})
	term := connect(t, s, opts{})
	for _, tc := range []struct {
		when       time.Time
		f15, date  string
		fundsOnDay int
	}{
		{at(11, 12, 0), "0312", "2025-03-12", 12}, // Tuesday: Wednesday, not today
		{at(14, 12, 0), "0317", "2025-03-17", 17}, // Friday: Monday
	} {
		s.Clock.Set(tc.when)
		what := "sale at " + tc.when.Format("Mon 15:04")
		x, err := term.Sale(1000)
		expect(t, what, x, err, txn.Approved)
		if got := x.Get(15); got != tc.f15 {
			t.Errorf("%s: F15 %s, want the next working day %s", what, got, tc.f15)
		}
		if e := entry(t, s, journal.Filter{STAN: x.Get(11), Txn: "sale"}); e.Action != "books fault: t0-settled-t1" {
			t.Errorf("%s: journal action %q, want the books fault named", what, e.Action)
		}
		st := settlementOn(t, s, ourMID, tc.date)
		funds := time.Date(2025, time.March, tc.fundsOnDay, 9, 0, 0, 0, time.Local)
		if st.Mode != "T1" || !st.FundsAvailable.Equal(funds) || !slices.Contains(st.Faults, "t0-settled-t1") {
			t.Errorf("report for %s: %s, funds at %v, faults %v; want T1, funds at %v, fault t0-settled-t1",
				tc.date, st.Mode, st.FundsAvailable, st.Faults, funds)
		}
	}
	if t0 := settlements(s, report.Filter{Mode: "T0"}); len(t0) != 0 {
		t.Errorf("the report has T0 settlements: %+v", t0)
	}
}

func testUploadDelay(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := startWith(t, "upload-delay", sim.Config{Dialect: dn})

			// A batch with a sale: the settlement is out of balance, the
			// upload answered after 20 s: long after the terminal gave up.
			term := connect(t, s, opts{Timeout: short})
			x, err := term.SignOn()
			expect(t, "sign-on", x, err, txn.Approved)
			x, err = term.Sale(1000)
			expect(t, "sale", x, err, txn.Approved)
			xs, err := term.Settle()
			outOfBalance(t, dn, "settlement", xs[0])
			if len(xs) != 2 {
				t.Fatalf("%d exchanges, want the settlement and the upload", len(xs))
			}
			expectTimeout(t, "upload", xs[1], err)
			e := entry(t, s, journal.Filter{TID: "TERM0001", Txn: "upload"})
			if e.Rule != "slow uploads" || delayOf(t, e.Action) != 20*time.Second || e.RC != txn.Approved {
				t.Errorf("journal of the upload: rule %q action %q RC %s; want the approval held back 20s", e.Rule, e.Action, e.RC)
			}
			if b := hostBatch(t, s, "TERM0001", "000001"); b.State != books.BatchUploaded || b.Outcome != "out of balance" {
				t.Errorf("host batch: state %s outcome %q, want uploaded, out of balance", b.State, b.Outcome)
			}

			// An empty batch has nothing to upload: its end of batch is
			// never answered.
			empty := connect(t, s, opts{TID: "TERM0002", Timeout: short})
			x, err = empty.SignOn()
			expect(t, "sign-on of the empty terminal", x, err, txn.Approved)
			xs, err = empty.Settle()
			outOfBalance(t, dn, "settlement of an empty batch", xs[0])
			if len(xs) != 2 || xs[1].Type != txn.UploadEnd {
				t.Fatalf("%d exchanges, want the settlement and the end of batch", len(xs))
			}
			expectTimeout(t, "end of batch", xs[1], err)
			if e := entry(t, s, journal.Filter{TID: "TERM0002", Txn: "upload_end"}); e.Rule != "end of batch lost" || e.Action != "no-response" {
				t.Errorf("journal of the end of batch: rule %q action %q", e.Rule, e.Action)
			}
		})
	}
}

func testVoidAfterSettlement(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := startWith(t, "void-after-settlement", sim.Config{Dialect: dn})
			s.Clock.Set(at(11, 12, 0))
			term := connect(t, s, opts{})
			x, err := term.SignOn()
			expect(t, "sign-on", x, err, txn.Approved)
			x, err = term.Sale(1000)
			expect(t, "sale", x, err, txn.Approved)
			sale := *term.Last(txn.Sale)
			xs, err := term.Settle()
			balanced(t, dn, "settlement", xs, err)

			x, err = term.Void(&sale)
			expect(t, "void after settlement", x, err, txn.InvalidTxn)
			if e := entry(t, s, journal.Filter{Txn: "void"}); e.Decision != "void: original already settled" {
				t.Errorf("void decision %q", e.Decision)
			}
			x, err = term.Refund(1000, &sale)
			expect(t, "refund instead", x, err, txn.Approved)

			// The sale settled with batch 1; the refund is in batch 2, open.
			st := settlementOn(t, s, ourMID, "2025-03-12")
			want := []report.BatchOutcome{
				{TID: "TERM0001", Batch: "000001", State: books.BatchClosed, Outcome: "balanced"},
				{TID: "TERM0001", Batch: "000002", State: books.BatchOpen},
			}
			if st.Count != 2 || st.Gross != 0 || !slices.Equal(st.Batches, want) {
				t.Errorf("report: %d transactions for %s in batches %+v; want the sale and the refund, 0.00, in %+v",
					st.Count, money(st.Gross), st.Batches, want)
			}
		})
	}
}

// TestPerTerminalBinding: a scenario bound to one terminal does not reach
// another, even with both transacting at once.
func TestPerTerminalBinding(t *testing.T) {
	s := start(t, sim.Config{Admin: "off"})
	funds, ok := s.Library.Get("insufficient-funds")
	if !ok {
		t.Fatal("no insufficient-funds scenario")
	}
	s.Engine.Bind("TERM0001", funds)

	t.Run("together", func(t *testing.T) {
		for tid, rc := range map[string]string{"TERM0001": "51", "TERM0002": txn.Approved} {
			t.Run(tid, func(t *testing.T) {
				t.Parallel()
				term := connect(t, s, opts{TID: tid})
				for i := range 20 {
					x, err := term.Sale(1000)
					expect(t, fmt.Sprintf("%s sale %d", tid, i+1), x, err, rc)
				}
			})
		}
	})
	for tid, scenario := range map[string]string{"TERM0001": "insufficient-funds", "TERM0002": ""} {
		for _, e := range s.Journal.Query(journal.Filter{TID: tid}) {
			if e.Scenario != scenario {
				t.Fatalf("%s journalled under scenario %q, want %q", tid, e.Scenario, scenario)
			}
		}
	}

	s.Engine.Unbind("TERM0001")
	// A STAN of its own: STAN 1 again would be a retransmission of the
	// first sale, answered 51 again.
	x, err := connect(t, s, opts{TID: "TERM0001", STAN: 20}).Sale(1000)
	expect(t, "sale after unbinding", x, err, txn.Approved)
}

// TestFaultsOnTheWire covers what the built-in scenarios do not use: close
// (before and after the answer), refuse, and the corruptions a terminal must
// reject, each bound as a small scenario of its own.
func TestFaultsOnTheWire(t *testing.T) {
	bindAction := func(t *testing.T, s *sim.Sim, action string) {
		t.Helper()
		sc, err := scenarios.Load(t.Name()+".yaml", []byte(fmt.Sprintf(
			"name: fault\nrules:\n  - match: txn == \"sale\"\n    action: %s\n", action)))
		if err != nil {
			t.Fatal(err)
		}
		s.Engine.SetGlobal(sc)
	}
	saleOnRaw := func(t *testing.T, s *sim.Sim, action string) (*rawTerm, wireRead) {
		t.Helper()
		bindAction(t, s, action)
		c := rawDial(t, s, "TERM0001", "898100012340001")
		c.sale("000001", 1500)
		return c, c.read(patience)
	}

	t.Run("close before", func(t *testing.T) {
		s := start(t, sim.Config{Admin: "off"})
		_, w := saleOnRaw(t, s, "close")
		if len(w.got) != 0 || !errors.Is(w.err, io.EOF) {
			t.Errorf("read %d bytes, then %v; want a clean EOF and nothing else", len(w.got), w.err)
		}
	})
	t.Run("close after", func(t *testing.T) {
		s := start(t, sim.Config{Admin: "off"})
		c, w := saleOnRaw(t, s, "{close: {after: true}}")
		if w.err != nil || field(c.decode("sale", w.frame), 39) != txn.Approved {
			t.Fatalf("read %d bytes, then %v; want the approval", len(w.got), w.err)
		}
		if w := c.read(patience); len(w.got) != 0 || !errors.Is(w.err, io.EOF) {
			t.Errorf("after the answer: %d bytes, then %v; want EOF", len(w.got), w.err)
		}
	})
	t.Run("refuse", func(t *testing.T) {
		s := start(t, sim.Config{Admin: "off"})
		c, w := saleOnRaw(t, s, "{refuse: {for: 1h}}")
		if w.err != nil || field(c.decode("sale", w.frame), 39) != txn.Approved {
			t.Fatalf("read %d bytes, then %v; want the approval", len(w.got), w.err)
		}
		// The connection that had its answer stays; new ones are turned away.
		c.echo("000002")
		c.response("echo on the old connection")
		// The host accepts and resets at once: the reset may reach the
		// client while it is still connecting.
		conn, err := net.DialTimeout("tcp", s.Addr(), patience)
		if err == nil {
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(patience))
			var n int
			n, err = conn.Read(make([]byte, 1))
			if n > 0 {
				t.Fatalf("a new connection got %d byte(s); want it reset", n)
			}
		}
		if !isReset(err) && !isEOF(err) {
			t.Errorf("a new connection: %v; want it reset", err)
		}
		if e := s.Journal.Query(journal.Filter{Txn: "sale"}); len(e) != 1 || e[0].Action != "refuse" {
			t.Errorf("journal of the sale: %+v", e)
		}
	})
	for _, tc := range []struct {
		what  string
		check func(m *iso8583.Message) string
	}{
		{"stan", func(m *iso8583.Message) string { return "STAN " + field(m, 11) }},
		{"mti", func(m *iso8583.Message) string { mti, _ := m.GetMTI(); return "MTI " + mti }},
		{"f39", func(m *iso8583.Message) string { return "F39 " + field(m, 39) }},
	} {
		t.Run("corrupt "+tc.what, func(t *testing.T) {
			s := start(t, sim.Config{Admin: "off"})
			c, w := saleOnRaw(t, s, "{corrupt: {what: "+tc.what+"}}")
			if w.err != nil {
				t.Fatalf("read %d bytes, then %v; want a whole frame", len(w.got), w.err)
			}
			got := tc.check(c.decode("sale", w.frame))
			want := map[string]string{"stan": "STAN 000002", "mti": "MTI 0200", "f39": "F39 "}[tc.what]
			if got != want {
				t.Errorf("corrupted response has %s, want %s", got, want)
			}
			// The emulator refuses it.
			term := connect(t, s, opts{TID: "TERM0002", Timeout: short})
			if x, err := term.Sale(1500); err == nil {
				t.Errorf("the emulator accepted the response with the corrupted %s (RC %s)", tc.what, x.RC())
			}
		})
	}
	t.Run("corrupt mac", func(t *testing.T) {
		s := start(t, sim.Config{Admin: "off", Dialect: "cup"})
		bindAction(t, s, "{corrupt: {what: mac}}")
		term := connect(t, s, opts{})
		x, err := term.SignOn()
		expect(t, "sign-on", x, err, txn.Approved)
		x, err = term.Sale(1500)
		if !errors.Is(err, terminal.ErrBadMAC) {
			t.Errorf("sale: err %v; want the response's MAC refused", err)
		}
		if x.RC() != txn.Approved {
			t.Errorf("sale: RC %s, want the approval (with a bad MAC)", x.RC())
		}
	})
}
