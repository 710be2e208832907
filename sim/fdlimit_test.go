//go:build linux

package sim_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/internal/childtest"
	"github.com/acqsim/acqsim/txn"
)

// fdLimit is the child host's soft RLIMIT_NOFILE: small enough that the test
// reaches it with a few dozen connections.
const fdLimit = 128

// TestDescriptorLimit: a host at its file descriptor limit (issue 13) said
// "accept failed" on every accept while new terminals and the admin API hung.
// A child process with a low RLIMIT_NOFILE runs the host; this process, with
// its own limit, connects terminals past it. The terminals beyond their share
// are reset, never left hanging; the admin API still answers; the log says so
// once a second at most; and once connections close, terminals are taken
// again. When something else in the host takes every descriptor, a new
// terminal is reset on the spare descriptor.
func TestDescriptorLimit(t *testing.T) {
	if os.Getenv("ACQSIM_TEST_FDLIMIT") != "" {
		fdLimitChild()
		return
	}

	cmd := childtest.Command("TestDescriptorLimit", "ACQSIM_TEST_FDLIMIT=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the child shuts its host down and exits
		if err := cmd.Wait(); err != nil {
			t.Errorf("the child host: %v\nstderr:\n%s", err, string(stderr.Bytes()))
		}
	})
	out := bufio.NewScanner(stdout)
	say := func(cmd string) string {
		t.Helper()
		if cmd != "" {
			fmt.Fprintln(stdin, cmd)
		}
		if !out.Scan() {
			t.Fatalf("the child host said nothing: %v\nstderr:\n%s", out.Err(), string(stderr.Bytes()))
		}
		return out.Text()
	}
	addrs := strings.Fields(say(""))
	if len(addrs) != 2 {
		t.Fatalf("the child host said %q, want its two addresses", addrs)
	}
	addr, adminAddr := addrs[0], addrs[1]
	d, err := fixtures.Dialect("iso87ascii")
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()

	// Terminals connect until the host turns one away: it must, before the
	// limit, and with a reset rather than silence.
	var held []*rawTerm
	closeHeld := func() {
		for _, c := range held {
			c.conn.Close()
		}
		held = nil
	}
	t.Cleanup(closeHeld)
	for i := 0; ; i++ {
		if i == fdLimit {
			t.Fatalf("%d terminal connections taken under a limit of %d descriptors", i, fdLimit)
		}
		c, answered := fdTerm(t, addr, d, i)
		if !answered {
			break
		}
		held = append(held, c)
	}
	if len(held) < 8 {
		t.Fatalf("only %d terminal connections taken under a limit of %d", len(held), fdLimit)
	}
	t.Logf("%d terminal connections taken under RLIMIT_NOFILE %d", len(held), fdLimit)
	for i := range 30 {
		if _, answered := fdTerm(t, addr, d, 1000+i); answered {
			t.Fatalf("terminal %d beyond the share was answered", i+1)
		}
	}

	// The admin API answers all the while, and says what is wrong: /healthz
	// with the reason, /metrics with the count.
	hc := &http.Client{Timeout: patience}
	resp, err := hc.Get("http://" + adminAddr + "/healthz")
	if err != nil {
		t.Fatalf("/healthz with the terminals' descriptors in use: %v", err)
	}
	health, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(health), `"descriptors"`) ||
		!strings.Contains(string(health), "RLIMIT_NOFILE") {
		t.Errorf("/healthz out of descriptors for terminals: %s %s, want 503 saying so", resp.Status, health)
	}
	resp, err = hc.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatalf("/metrics with the terminals' descriptors in use: %v", err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`acqsim_refused_connections_total\{reason="descriptors"\} [1-9]`).Match(scrape) {
		t.Errorf("/metrics does not count the refusals:\n%s", grepLines(scrape, "refused"))
	}
	if !strings.Contains(string(scrape), "process_open_fds ") {
		t.Errorf("/metrics has no process_open_fds")
	}

	// Once connections close, terminals are taken again: as soon as the
	// host has closed its side of them (it notices a hang-up when it reads).
	closeHeld()
	if n := say("idle"); n != "0" {
		t.Fatalf("the host still holds %s terminal connections closed on the terminal's side", n)
	}
	c, answered := fdTerm(t, addr, d, 2000)
	if !answered {
		t.Fatal("no terminal taken after the others closed")
	}
	c.conn.Close()

	// Something else takes every descriptor: the next terminal is reset
	// on the spare, not left in the backlog, and so is the one after. The
	// host first closes its side of the connection closed above, so that
	// it frees no descriptor meanwhile.
	if n := say("idle"); n != "0" {
		t.Fatalf("the host still holds %s terminal connections closed on the terminal's side", n)
	}
	if got := say("hog"); !strings.HasPrefix(got, "hogged") {
		t.Fatalf("the child: %q", got)
	}
	for i := range 3 {
		if _, answered := fdTerm(t, addr, d, 3000+i); answered {
			t.Fatalf("terminal %d answered with no descriptor free", i+1)
		}
	}
	if got := say("free"); got != "freed" {
		t.Fatalf("the child: %q", got)
	}
	// The host has no way to say when it takes terminals again (the first
	// one after the free is still reset): poll.
	deadline := time.Now().Add(patience)
	for i := 4000; ; i++ {
		c, answered := fdTerm(t, addr, d, i)
		if answered {
			c.conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no terminal taken after descriptors were freed")
		}
	}

	// Each kind of line at most once a second, each saying how many since.
	elapsed := time.Since(began)
	log := string(stderr.Bytes())
	for _, line := range []string{
		"connection refused: out of file descriptors for terminals",
		"accept failed: the process is out of file descriptors",
	} {
		n := strings.Count(log, line)
		if n == 0 || n > int(elapsed/time.Second)+1 {
			t.Errorf("%d lines %q in %v, want one a second at most (and one at least)\n%s", n, line, elapsed, log)
		}
	}
	if strings.Contains(log, "accept failed; retrying") {
		t.Errorf("the log has a line an accept:\n%s", log)
	}
	if !strings.Contains(log, "refused_since_last_warning=") || !strings.Contains(log, "failed_since_last_line=") {
		t.Errorf("the log does not say how many since the last line:\n%s", log)
	}
}

// fdTerm connects terminal i and sends an echo. It reports whether the echo
// was answered; a connection not answered must have been reset or closed
// within patience, not left hanging.
func fdTerm(t *testing.T, addr string, d *dialect.Dialect, i int) (*rawTerm, bool) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, patience)
	if errors.Is(err, syscall.ECONNRESET) {
		return nil, false // the reset overtook the connect
	}
	if err != nil {
		t.Fatal(err)
	}
	c := &rawTerm{t: t, conn: conn, r: bufio.NewReader(conn), d: d, tid: fmt.Sprintf("T%07d", i), mid: "898100012340001"}
	if err := fdEcho(c); err != nil {
		if !isReset(err) && !isEOF(err) && !errors.Is(err, syscall.EPIPE) {
			t.Fatalf("terminal %d: %v; want an answer, or a reset", i, err)
		}
		conn.Close()
		return nil, false
	}
	return c, true
}

// fdEcho sends an echo and reads its answer, returning what ended the read.
func fdEcho(c *rawTerm) error {
	m := iso8583.NewMessage(c.d.Spec)
	m.MTI("0800")
	for id, v := range map[int]string{11: "000001", 41: c.tid, 42: c.mid, 70: "301"} {
		if err := m.Field(id, v); err != nil {
			c.t.Fatal(err)
		}
	}
	packed, err := m.Pack()
	if err != nil {
		c.t.Fatal(err)
	}
	c.conn.SetWriteDeadline(time.Now().Add(patience))
	if _, err := c.conn.Write(append([]byte{byte(len(packed) >> 8), byte(len(packed))}, packed...)); err != nil {
		return err // the reset came first
	}
	w := c.read(patience)
	if w.err != nil {
		return w.err
	}
	if rc := field(c.decode("echo", w.frame), 39); rc != txn.Approved {
		return fmt.Errorf("echo answered RC %s", rc)
	}
	return nil
}

// fdLimitChild runs the host under fdLimit: it says its addresses on stdout,
// then takes every free descriptor on "hog" and gives them back on "free",
// and on "idle" waits for it to hold no terminal connection and says how
// many it holds, until stdin closes.
func fdLimitChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := childtest.Lower(syscall.RLIMIT_NOFILE, fdLimit); err != nil {
		fail(err)
	}
	h, err := acqsimtest.Start(acqsimtest.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		fail(err)
	}
	s := h.Sim()
	fmt.Println(s.Addr(), s.AdminAddr())
	var hog []*os.File
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "hog":
			for {
				f, err := os.Open(os.DevNull)
				if err != nil {
					break
				}
				hog = append(hog, f)
			}
			fmt.Println("hogged", strconv.Itoa(len(hog)))
		case "idle":
			// A connection's end announces itself nowhere: poll.
			eventually(func() bool { return s.Connections() == 0 })
			fmt.Println(s.Connections())
		case "free":
			for _, f := range hog {
				f.Close()
			}
			hog = nil
			fmt.Println("freed")
		}
	}
	if err := h.Close(); err != nil {
		fail(err)
	}
	os.Exit(0)
}

// grepLines is the lines of b that contain s.
func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
