package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/keys"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// What the hard-kill tests share: a host in a child process that a test
// kills with SIGKILL and starts again on the same journal file; a tap in front
// of it that stops a terminal's traffic at a chosen point of a chosen
// exchange, so that the kill lands exactly there; and a terminal that does
// what a real one does about an exchange that went unanswered.

// crashHost is `acqsim serve --journal FILE` in a child process.
type crashHost struct {
	args  []string
	cmd   *exec.Cmd
	addr  string // terminals connect here
	admin string // the admin API
}

func startCrashHost(t *testing.T, file string, args ...string) *crashHost {
	t.Helper()
	h := &crashHost{args: append([]string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--journal", file, "--log-level", "error"}, args...)}
	h.cmd, h.addr, h.admin = hostProcess(t, h.args...)
	return h
}

// kill kills the host with SIGKILL and waits until it is gone.
func (h *crashHost) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing the host: %v", err)
	}
	h.cmd.Wait() // "signal: killed"
}

// restart starts the host again on the same journal file.
func (h *crashHost) restart(t *testing.T) {
	t.Helper()
	h.cmd, h.addr, h.admin = hostProcess(t, h.args...)
}

func (h *crashHost) get(t *testing.T, path string, q url.Values, v any) {
	t.Helper()
	resp, err := http.Get("http://" + h.admin + path + "?" + q.Encode())
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s?%s: %s", path, q.Encode(), resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// batch is the host's view of a terminal's batch (State "" when the host
// knows nothing of it).
func (h *crashHost) batch(t *testing.T, tid, batch string) books.Batch {
	t.Helper()
	var bs []books.Batch
	h.get(t, "/batches", url.Values{"tid": {tid}, "batch": {batch}}, &bs)
	if len(bs) > 1 {
		t.Fatalf("/batches lists terminal %s's batch %s %d times", tid, batch, len(bs))
	}
	if len(bs) == 0 {
		return books.Batch{TID: tid, Batch: batch}
	}
	return bs[0]
}

// batches lists every batch the host knows of.
func (h *crashHost) batches(t *testing.T) []books.Batch {
	t.Helper()
	var bs []books.Batch
	h.get(t, "/batches", url.Values{}, &bs)
	return bs
}

// journal is what the host's journal holds of a terminal's exchanges.
func (h *crashHost) journal(t *testing.T, tid string, more url.Values) []journal.Entry {
	t.Helper()
	q := url.Values{"tid": {tid}}
	for k, v := range more {
		q[k] = v
	}
	var es []journal.Entry
	h.get(t, "/journal", q, &es)
	return es
}

// killPoint is where, in the exchange that triggers it, a tap stops the
// traffic for the host to be killed there.
type killPoint int

const (
	// beforeHost: the request never reaches the host.
	beforeHost killPoint = iota
	// racing: the request is on its way to the host; the kill races the
	// host's reading, deciding and journalling it.
	racing
	// answerLost: the host has answered the request, so it has journalled
	// it; the answer never reaches the terminal.
	answerLost
)

func (p killPoint) String() string {
	return [...]string{"before it reaches the host", "while the host may be answering it", "after the host answered it"}[p]
}

// trigger is the exchange at which a tap stops: the nth request of a type
// that passes through it.
type trigger struct {
	typ txn.Type
	nth int
	at  killPoint
}

// String names the trigger; it names subtests, so their temporary
// directories, so it keeps to characters a journal path may hold
// (TestHardKillJournalPathVerbatim).
func (tr trigger) String() string { return fmt.Sprintf("%s %d %s", tr.typ, tr.nth, tr.at) }

// tap is a loopback TCP proxy between one terminal and the host. A terminal
// sends one request and waits for its answer, so the tap relays one exchange
// at a time, frame by frame. At its trigger it stops the exchange at the
// trigger's point and closes armed; cut (once the host is dead) hangs up on
// the terminal, as the dead host's socket does, wherever the exchange is.
type tap struct {
	addr  string
	armed chan struct{}
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

// newTap starts a tap to host for one terminal connection; trig nil relays
// everything until the host dies or the tap is cut.
func newTap(t *testing.T, d *dialect.Dialect, host string, trig *trigger) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tap{addr: ln.Addr().String(), armed: make(chan struct{}), stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		term, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer term.Close()
		hc, err := net.Dial("tcp", host)
		if err != nil {
			return
		}
		defer hc.Close()
		relayed := make(chan struct{})
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			select {
			case <-p.stop:
				term.Close()
				hc.Close()
			case <-relayed:
			}
		}()
		p.relay(d, term, hc, trig)
		close(relayed)
	}()
	t.Cleanup(func() { p.cut(); ln.Close(); p.wg.Wait() })
	return p
}

// cut hangs up on the terminal and ends the tap.
func (p *tap) cut() { p.once.Do(func() { close(p.stop) }) }

func (p *tap) relay(d *dialect.Dialect, term, host net.Conn, trig *trigger) {
	f := d.Framer(dialect.Binary2, 0)
	tr, hr := bufio.NewReader(term), bufio.NewReader(host)
	hold := func() {
		close(p.armed)
		<-p.stop
	}
	seen := 0
	for {
		req, err := f.ReadFrame(tr, nil)
		if err != nil {
			return
		}
		here := false
		if trig != nil && typeOf(d, req) == trig.typ {
			seen++
			here = seen == trig.nth
		}
		if here && trig.at == beforeHost {
			hold()
			return
		}
		if err := writeFrame(host, f, d, req); err != nil {
			return
		}
		if here && trig.at == racing {
			hold()
			return
		}
		resp, err := f.ReadFrame(hr, nil)
		if err != nil {
			return
		}
		if here {
			hold()
			return
		}
		if err := writeFrame(term, f, d, resp); err != nil {
			return
		}
	}
}

// typeOf is the kind of request a frame (preamble and message) carries.
func typeOf(d *dialect.Dialect, frame []byte) txn.Type {
	m, err := d.Decode(frame[d.Preamble:])
	if err != nil {
		return txn.Unknown
	}
	r, _ := d.Request(m)
	return r.Type
}

func writeFrame(w net.Conn, f dialect.Framer, d *dialect.Dialect, frame []byte) error {
	out, err := f.AppendFrame(nil, frame[:d.Preamble], frame[d.Preamble:])
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// crashTerminal is a terminal whose host may die under it. It keeps what it
// was told was approved and the exchange left unanswered, and across a
// restart its state and (cup) working keys, as a real terminal keeps them in
// its own storage.
type crashTerminal struct {
	cfg terminal.Config
	t   *terminal.Terminal
	mac []byte // the MAC key from its sign-on (cup)
	// unanswered is the exchange that got no answer when the host died.
	unanswered *terminal.Exchange
	// told is every approval it received, in order; failure the first
	// answer it did not expect.
	told    []told
	failure error
}

// told is an approval a terminal received.
type told struct {
	typ    txn.Type
	stan   string
	rrn    string
	amount int64
}

func newCrashTerminal(t *testing.T, d *dialect.Dialect, addr, tid string) *crashTerminal {
	t.Helper()
	c := &crashTerminal{cfg: terminal.Config{Addr: addr, Dialect: d, TID: tid, MID: "898100012340001", Timeout: 10 * time.Second}}
	var err error
	if c.t, err = terminal.Dial(context.Background(), c.cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.t.Close() })
	return c
}

// signOn signs a cup terminal on and keeps its MAC key.
func (c *crashTerminal) signOn() error {
	if c.cfg.Dialect.Preamble == 0 {
		return nil
	}
	x, err := c.t.SignOn()
	if err != nil || x.RC() != txn.Approved {
		return fmt.Errorf("%s: sign-on: %v (RC %s)", c.cfg.TID, err, x.RC())
	}
	raw, _ := x.Response.GetField(62).Bytes()
	master, _ := keys.Parse(keys.TestMasterKey)
	_, c.mac, _, err = keys.SplitWorkingKeys(master, raw, "003")
	return err
}

// redial connects to addr (the host again, or a tap in front of it), with
// the terminal's state and working keys.
func (c *crashTerminal) redial(t *testing.T, addr string) {
	t.Helper()
	c.t.Close()
	cfg := c.cfg
	cfg.Addr = addr
	again, err := terminal.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	again.State = c.t.State
	if c.mac != nil {
		again.UseMACKey(c.mac)
	}
	c.t = again
}

// do notes an exchange's outcome: false when it went unanswered (the host is
// gone) or was not approved (failure).
func (c *crashTerminal) do(x *terminal.Exchange, err error) bool {
	if err != nil {
		c.unanswered = x
		return false
	}
	if x.RC() != txn.Approved {
		c.failure = fmt.Errorf("%s: %s STAN %s answered RC %s", c.cfg.TID, x.Type, stanOf(x), x.RC())
		return false
	}
	c.told = append(c.told, told{typ: x.Type, stan: stanOf(x), rrn: x.Get(37), amount: amountOf(x)})
	return true
}

// work is the terminal's day until the host stops answering: sales; every
// third one voided; every fourth reversed (reason 06, as after a response
// the terminal could not use). amounts makes every amount unique.
func (c *crashTerminal) work(amounts func() int64) {
	for n := 1; ; n++ {
		if !c.do(c.t.Sale(amounts())) {
			return
		}
		if n%3 == 0 && !c.do(c.t.Void(c.t.Last(txn.Sale))) {
			return
		}
		if n%4 == 0 && !c.do(c.t.Reverse(c.t.Last(txn.Sale).STAN, 0, "06", false)) {
			return
		}
	}
}

// recoverUnanswered does what a terminal does, once its host answers again,
// about the exchange that went unanswered: a reversal is sent again (a
// resent reversal is harmless); a sale is reversed; a void is reversed, or
// with resendVoid sent again as it was (an identical retransmission gets
// the first answer).
func (c *crashTerminal) recoverUnanswered(resendVoid bool) error {
	x := c.unanswered
	if x == nil {
		return nil
	}
	c.unanswered = nil
	stan, amount := stanOf(x), amountOf(x)
	switch {
	case x.Type == txn.Void && resendVoid:
		again, err := c.t.Send(txn.Void, x.Request)
		if err != nil || again.RC() != txn.Approved {
			return fmt.Errorf("%s: void STAN %s sent again: %v (RC %s)", c.cfg.TID, stan, err, again.RC())
		}
		c.bookVoid(again)
		c.told = append(c.told, told{typ: txn.Void, stan: stan, rrn: again.Get(37), amount: amount})
	case x.Type == txn.Void || x.Type == txn.Sale || x.Type == txn.Reversal:
		reason := "98" // no answer
		if x.Type == txn.Reversal {
			reason, _ = x.Request.GetString(39)
		}
		rev, err := c.t.Reverse(stan, amount, reason, false)
		if err != nil || rev.RC() != txn.Approved {
			return fmt.Errorf("%s: reversal of the unanswered %s STAN %s: %v (RC %s)", c.cfg.TID, x.Type, stan, err, rev.RC())
		}
		c.told = append(c.told, told{typ: txn.Reversal, stan: stan, rrn: rev.Get(37), amount: amount})
	default:
		return fmt.Errorf("%s: no recovery for an unanswered %s", c.cfg.TID, x.Type)
	}
	return nil
}

// bookVoid books an approved void the terminal sent itself with Send, as its
// Void would have.
func (c *crashTerminal) bookVoid(x *terminal.Exchange) {
	s := &c.t.State
	rrn, _ := x.Request.GetString(37)
	mti, _ := x.Request.GetMTI()
	proc, _ := x.Request.GetString(3)
	rec := terminal.Record{Type: txn.Void, MTI: mti, Proc: proc, STAN: stanOf(x), RRN: x.Get(37), Auth: x.Get(38),
		Amount: amountOf(x), Date: time.Now().Format("0102"), Batch: s.Batch}
	for i := range s.Records {
		if s.Records[i].RRN == rrn {
			s.Records[i].Voided = true
			rec.Orig = s.Records[i].STAN
		}
	}
	s.Records = append(s.Records, rec)
}

// closeBatch moves the terminal to its next batch, as its Settle does when the
// host closes the batch.
func closeBatch(s *terminal.State) {
	n, _ := strconv.Atoi(s.Batch)
	s.Batch = fmt.Sprintf("%06d", n%999999+1)
	s.Records = nil
}

// settled reports whether a settlement's exchanges balanced the batch at
// once, the dialect's way: iso87 0510 RC 00 alone; cup 0510 with
// reconciliation codes 1, then the end of batch (207).
func settled(xs []*terminal.Exchange, cup bool) bool {
	if len(xs) == 0 || xs[0].RC() != txn.Approved {
		return false
	}
	if !cup {
		return len(xs) == 1
	}
	f48 := xs[0].Get(48)
	return len(xs) == 2 && len(f48) >= 62 && f48[30] == '1' && f48[61] == '1' && xs[1].RC() == txn.Approved
}

// checkBooks compares the host's books after a restart with what the
// terminal was told: its open batch's totals with the terminal's own, and
// every approval in told with the host's journal. It returns how many
// approvals the host lost and how many it counts that the terminal does
// not (twice, or never told and not reversed).
func checkBooks(t *testing.T, h *crashHost, c *crashTerminal, told []told) (lost, extra int) {
	t.Helper()
	tid := c.cfg.TID
	mine := c.t.Totals()
	host := h.batch(t, tid, c.t.State.Batch).Host
	lost += max(0, mine.DebitCount-host.DebitCount) + max(0, mine.CreditCount-host.CreditCount)
	extra += max(0, host.DebitCount-mine.DebitCount) + max(0, host.CreditCount-mine.CreditCount)
	if host != mine {
		t.Errorf("%s batch %s: the host's books after the restart have %+v, the terminal %+v", tid, c.t.State.Batch, host, mine)
	}

	approvedIn := map[string]bool{} // txn/STAN/RRN the host journalled as approved
	for _, e := range h.journal(t, tid, url.Values{"rc": {txn.Approved}}) {
		approvedIn[e.Txn+"/"+e.STAN+"/"+e.RRN] = true
	}
	missing := 0
	for _, a := range told {
		if approvedIn[string(a.typ)+"/"+a.stan+"/"+a.rrn] {
			continue
		}
		if missing++; missing <= 5 {
			t.Errorf("%s: the terminal was told %s STAN %s (RRN %q) was approved; the host's journal has no such approval after the restart",
				tid, a.typ, a.stan, a.rrn)
		}
	}
	if missing > 5 {
		t.Errorf("%s: %d more approvals missing from the host's journal", tid, missing-5)
	}
	return lost + missing, extra
}

func stanOf(x *terminal.Exchange) string {
	s, _ := x.Request.GetString(11)
	return s
}

func amountOf(x *terminal.Exchange) int64 {
	s, _ := x.Request.GetString(4)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
