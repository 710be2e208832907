package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// The terminal the tshark test drives.
const (
	tsharkTID = "TSHARK01"
	tsharkMID = "TSHARKMERCH0001"
)

// needTshark skips the test when tshark is missing, unless ACQSIM_TSHARK=1
// (as in CI, which installs it), where that is a failure. It returns the
// path of tshark.
func needTshark(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		tsharkUnavailable(t, "tshark is not on PATH")
	}
	return path
}

// tsharkUnavailable skips the test, or fails it under ACQSIM_TSHARK=1.
func tsharkUnavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("ACQSIM_TSHARK") == "1" {
		t.Fatalf("ACQSIM_TSHARK=1 but %s", why)
	}
	t.Skipf("skipping the tshark cross-check: %s (needs tshark, Debian package tshark, allowed to capture on lo; ACQSIM_TSHARK=1 makes this a failure)", why)
}

// capture is a running `tshark -i lo` capture of one TCP port.
type capture struct {
	cmd  *exec.Cmd
	file string
	// ready is closed once tshark says it is capturing; probed once it has
	// captured a probe datagram, which is when it really is.
	ready, probed chan struct{}
	// finished is closed once a FIN has been captured from each side of the
	// host's port: every byte of the connection before them is in the file.
	finished chan struct{}
	// exited is closed once tshark has exited, with err its error.
	exited chan struct{}
	err    error

	mu     sync.Mutex
	stderr bytes.Buffer
}

// startCapture starts capturing traffic to and from port on the loopback
// interface and returns once tshark is capturing it.
//
// tshark says "Capturing on 'Loopback: lo'" a moment before dumpcap's
// filter is in place: a terminal day on loopback, which takes a couple of
// milliseconds, can be over before the first packet is caught. So the
// capture also takes datagrams to a UDP port of the test's, and the test
// sends them until tshark shows one. tshark prints each packet as it writes
// it to the file (-P), which is also how stop knows the capture has caught
// up with the connection's end, without waiting a while for it.
func startCapture(t *testing.T, tshark string, port int) *capture {
	t.Helper()
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	probePort := probe.LocalAddr().(*net.UDPAddr).Port

	c := &capture{
		file:     filepath.Join(t.TempDir(), "day.pcapng"),
		ready:    make(chan struct{}),
		probed:   make(chan struct{}),
		finished: make(chan struct{}),
		exited:   make(chan struct{}),
	}
	c.cmd = exec.Command(tshark, "-i", "lo", "-f", fmt.Sprintf("tcp port %d or udp port %d", port, probePort), "-w", c.file,
		"-P", "-l", "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.flags.fin", "-e", "udp.dstport")
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		tsharkUnavailable(t, fmt.Sprintf("tshark does not start: %v", err))
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		c.watchStderr(stderr)
	}()
	go func() {
		defer readers.Done()
		c.watchPackets(stdout, strconv.Itoa(port), strconv.Itoa(probePort))
	}()
	go func() {
		readers.Wait()
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default: // the test ended early
			c.cmd.Process.Kill()
			<-c.exited
		}
	})

	timeout := time.After(30 * time.Second)
	select {
	case <-c.ready:
	case <-c.exited:
		tsharkUnavailable(t, fmt.Sprintf("tshark cannot capture on lo (%v); is this user allowed to capture? tshark said:\n%s", c.err, c.stderrText()))
	case <-timeout:
		t.Fatalf("tshark did not start capturing within 30 s; it said:\n%s", c.stderrText())
	}
	resend := time.NewTicker(20 * time.Millisecond)
	defer resend.Stop()
	for {
		if _, err := probe.WriteTo([]byte("probe"), probe.LocalAddr()); err != nil {
			t.Fatalf("probing the capture: %v", err)
		}
		select {
		case <-c.probed:
			return c
		case <-resend.C:
		case <-c.exited:
			// It says "Capturing on" even when it may not.
			tsharkUnavailable(t, fmt.Sprintf("tshark cannot capture on lo (%v); is this user allowed to capture? tshark said:\n%s", c.err, c.stderrText()))
		case <-timeout:
			t.Fatalf("tshark captured none of the probe datagrams within 30 s; it said:\n%s", c.stderrText())
		}
	}
}

func (c *capture) watchStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		c.mu.Lock()
		c.stderr.WriteString(sc.Text() + "\n")
		c.mu.Unlock()
		if strings.Contains(sc.Text(), "Capturing on") {
			closeOnce(c.ready)
		}
	}
}

// watchPackets reads tshark's line per packet (TCP source port, FIN flag,
// UDP destination port): it closes probed at the first probe datagram, and
// finished once both the host (hostPort) and its peer have sent a FIN.
func (c *capture) watchPackets(r io.Reader, hostPort, probePort string) {
	var fromHost, fromPeer bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			continue
		}
		port, fin, udp := f[0], f[1], f[2]
		switch {
		case udp == probePort:
			closeOnce(c.probed)
		case fin != "1" && fin != "True":
		case port == hostPort:
			fromHost = true
		default:
			fromPeer = true
		}
		if fromHost && fromPeer {
			closeOnce(c.finished)
		}
	}
}

// closeOnce closes ch unless it is closed already; only its one writer
// calls it.
func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (c *capture) stderrText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

// stop waits for the connection's end to be captured, then stops tshark
// (SIGINT, as Ctrl-C) and waits for it to write the file and exit.
func (c *capture) stop(t *testing.T) {
	t.Helper()
	select {
	case <-c.finished:
	case <-c.exited:
		t.Fatalf("tshark stopped capturing on its own (%v); it said:\n%s", c.err, c.stderrText())
	case <-time.After(10 * time.Second):
		t.Errorf("tshark did not show both ends of the connection closing within 10 s; stopping it anyway")
	}
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("stopping tshark: %v", err)
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("tshark did not exit within 30 s of SIGINT; it said:\n%s", c.stderrText())
	}
	if c.err != nil {
		t.Fatalf("tshark capture: %v; it said:\n%s", c.err, c.stderrText())
	}
}

// day is a terminal day: the MTIs of what the terminal sent and got, in
// wire order.
type day struct {
	mtis []string
	// badRequest is the index in mtis of the request sent with a letter in
	// F4 on purpose, which tshark must find malformed.
	badRequest int
}

// record checks that an exchange went through with RC rc and adds its
// messages to the day.
func (d *day) record(t *testing.T, x *terminal.Exchange, err error, rc string) *terminal.Exchange {
	t.Helper()
	if err != nil || x == nil || x.Response == nil {
		t.Fatalf("exchange %d of the day: %v", len(d.mtis)/2+1, err)
	}
	req, _ := x.Request.GetMTI()
	resp, _ := x.Response.GetMTI()
	d.mtis = append(d.mtis, req, resp)
	if x.RC() != rc {
		t.Fatalf("%s %s: RC %s, want %s", req, x.Type, x.RC(), rc)
	}
	return x
}

// runDay drives a host through a terminal's day in iso87ascii: sign-on,
// sales, a void, a refund, a balance, a reversal, a retransmission, a sale
// with a letter in F4, and a settlement whose totals are off, so that it
// takes a batch upload and a trailer.
func runDay(t *testing.T, addr string, d *dialect.Dialect) *day {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	term, err := terminal.Dial(ctx, terminal.Config{Addr: addr, Dialect: d, TID: tsharkTID, MID: tsharkMID, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	var day day
	ok := txn.Approved

	x, err := term.SignOn()
	day.record(t, x, err, ok)
	x, err = term.Sale(1000)
	first := day.record(t, x, err, ok)
	x, err = term.Sale(2500)
	day.record(t, x, err, ok)
	x, err = term.Void(term.Last(txn.Sale))
	day.record(t, x, err, ok)
	x, err = term.Refund(700, nil)
	day.record(t, x, err, ok)
	x, err = term.Balance()
	day.record(t, x, err, ok)
	x, err = term.Sale(4200)
	reversed := day.record(t, x, err, ok)
	x, err = term.Reverse(dialect.FieldValue(reversed.Request, 11), 0, "98", false)
	day.record(t, x, err, ok)

	x, err = term.Send(txn.Sale, first.Request)
	again := day.record(t, x, err, ok)
	if again.Get(37) != first.Get(37) || again.Get(38) != first.Get(38) {
		t.Errorf("retransmission answered RRN %q auth %q, want the first answer's %q %q",
			again.Get(37), again.Get(38), first.Get(37), first.Get(38))
	}

	day.badRequest = len(day.mtis)
	x, err = term.Send(txn.Sale, badSale(term, d))
	day.record(t, x, err, txn.FormatError)

	tot := term.Totals()
	tot.DebitCount++ // one sale more than the host booked: out of balance
	xs, err := term.SettleWithTotals(tot)
	if err != nil {
		t.Fatalf("settlement: %v", err)
	}
	if len(xs) < 3 {
		t.Fatalf("settlement made %d exchanges; want the 0500 with 95, uploads and a trailer", len(xs))
	}
	day.record(t, xs[0], nil, txn.OutOfBalance)
	for _, x := range xs[1:] {
		day.record(t, x, nil, ok)
	}
	return &day
}

// badSale is the sale the terminal would send, but with a letter in F4.
func badSale(term *terminal.Terminal, d *dialect.Dialect) *iso8583.Message {
	term.State.STAN++
	now := time.Now()
	m := iso8583.NewMessage(d.Spec)
	m.MTI("0200")
	for id, v := range map[int]string{
		2: terminal.DefaultCard.PAN, 3: "000000", 4: "0000000012X4", 11: fmt.Sprintf("%06d", term.State.STAN),
		12: now.Format("150405"), 13: now.Format("0102"), 14: terminal.DefaultCard.Expiry, 22: "012", 25: "00",
		41: tsharkTID, 42: tsharkMID, 49: d.Currency,
	} {
		m.Field(id, v)
	}
	return m
}

// wireMessage is one ISO 8583 message as tshark decoded it.
type wireMessage struct {
	frame     int
	mti       string
	fromHost  bool
	malformed bool   // in a frame with a malformed part or an expert error
	experts   string // the frame's expert messages
}

// piError is Wireshark's expert severity "Error" (PI_ERROR).
const piError = 0x00800000

// tsharkArgs make tshark decode the host's port as ISO 8583 with a 2-byte
// big-endian length header (acqsim's binary2; the dissector's default is
// little-endian). Its other defaults suit iso87ascii: digits as ASCII
// characters (iso8583.charset) and binary fields as hex characters
// (iso8583.binencode).
func tsharkArgs(file string, port int) []string {
	return []string{"-r", file, "-o", "iso8583.len_endian:Big endian", "-d", fmt.Sprintf("tcp.port==%d,iso8583", port)}
}

// decode lists the ISO 8583 messages tshark finds in the capture, in order.
func decode(t *testing.T, tshark, file string, port int) []wireMessage {
	t.Helper()
	args := append(tsharkArgs(file, port), "-Y", "iso8583", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|",
		"-e", "frame.number", "-e", "tcp.srcport", "-e", "iso8583.mti", "-e", "_ws.malformed",
		"-e", "_ws.expert.severity", "-e", "_ws.expert.message")
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
	}
	var msgs []wireMessage
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			t.Fatalf("tshark printed %q, want 6 tab-separated fields", line)
		}
		frame, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("tshark printed frame number %q", f[0])
		}
		malformed := f[3] != ""
		for _, s := range strings.Split(f[4], "|") {
			if n, err := strconv.Atoi(s); err == nil && n >= piError {
				malformed = true
			}
		}
		for _, mti := range strings.Split(f[2], "|") {
			msgs = append(msgs, wireMessage{frame: frame, mti: mti, fromHost: f[1] == strconv.Itoa(port),
				malformed: malformed, experts: f[5]})
		}
	}
	return msgs
}

// details is tshark's ISO 8583 detail view of one frame: it names the field
// it found malformed.
func details(tshark, file string, port, frame int) string {
	args := append(tsharkArgs(file, port), "-Y", fmt.Sprintf("frame.number == %d", frame), "-O", "iso8583", "-V")
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		return fmt.Sprintf("(tshark -V: %v)", err)
	}
	_, iso, _ := strings.Cut(string(out), "ISO 8583")
	return "ISO 8583" + iso
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// TestTsharkTerminalDay captures a terminal's day against the host in
// iso87ascii and has Wireshark's ISO 8583 dissector decode it: every message
// the host sent must decode, none malformed. The one request sent with a
// letter in F4 on purpose must show as malformed: it proves the check sees
// what it looks for.
func TestTsharkTerminalDay(t *testing.T) {
	tshark := needTshark(t)
	h := start(t, sim.Config{})
	_, p, err := net.SplitHostPort(h.Addr())
	if err != nil {
		t.Fatal(err)
	}
	hostPort, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}

	c := startCapture(t, tshark, hostPort)
	day := runDay(t, h.Addr(), h.Dialect)
	c.stop(t)

	msgs := decode(t, tshark, c.file, hostPort)
	var got []string
	for _, m := range msgs {
		got = append(got, m.mti)
	}
	if strings.Join(got, " ") != strings.Join(day.mtis, " ") {
		t.Errorf("tshark decoded %d ISO 8583 messages:\n  %v\nthe terminal exchanged %d:\n  %v", len(got), got, len(day.mtis), day.mtis)
	}
	reported := map[int]bool{}
	for i, m := range msgs {
		switch {
		case i == day.badRequest && len(got) == len(day.mtis):
			if !m.malformed {
				t.Errorf("tshark finds nothing wrong with the request with a letter in F4 (frame %d): the malformed check checks nothing\n%s",
					m.frame, details(tshark, c.file, hostPort, m.frame))
			}
		case m.malformed && !reported[m.frame]:
			reported[m.frame] = true
			from := "the terminal"
			if m.fromHost {
				from = "the host"
			}
			t.Errorf("tshark finds %s %s malformed (frame %d: %s):\n%s", from, m.mti, m.frame, m.experts,
				details(tshark, c.file, hostPort, m.frame))
		}
	}
	t.Logf("tshark decoded %d ISO 8583 messages of the day: %v", len(msgs), got)
}
