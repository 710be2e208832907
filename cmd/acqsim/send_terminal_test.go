package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/txn"
)

// These tests run `acqsim send` in-process against a host started with
// acqsimtest on loopback, whose scenario the test sets directly.

// sendHost starts a host of the dialect with rules bound to every terminal.
func sendHost(t *testing.T, dialectName, rules string) *sim.Sim {
	t.Helper()
	s := acqsimtest.New(t, acqsimtest.Dialect(dialectName), acqsimtest.Configure(func(c *sim.Config) { c.Admin = "off" })).Sim()
	sendRules(t, s, rules)
	return s
}

// sendRules binds a scenario of the given rules to every terminal of s; no
// rules unbind it.
func sendRules(t *testing.T, s *sim.Sim, rules string) {
	t.Helper()
	if rules == "" {
		s.Engine.SetGlobal(nil)
		return
	}
	sc, err := scenarios.Load(t.Name()+".yaml", []byte("name: test\nrules:\n"+rules))
	if err != nil {
		t.Fatal(err)
	}
	s.Engine.SetGlobal(sc)
}

// sendTo returns a runner of `acqsim send` against s with its state in
// state. Its timeout is generous; a test that waits for an answer that must
// not come gives noAnswer (the later flag wins).
func sendTo(s *sim.Sim, state string) func(args ...string) (int, string, string) {
	return func(args ...string) (int, string, string) {
		all := append([]string{"send", "--host", s.Addr(), "--dialect", s.Dialect.Name, "--state-dir", state, "--timeout", "5s"}, args...)
		return acqsim(all...)
	}
}

// mustSend fails the test unless send exits 0.
func mustSend(t *testing.T, send func(args ...string) (int, string, string), args ...string) string {
	t.Helper()
	code, stdout, stderr := send(args...)
	if code != 0 {
		t.Fatalf("send %v: exit %d: %s%s", args, code, stdout, stderr)
	}
	return stdout
}

// sentLines are the request lines of a send's output ("-> MTI type ...").
func sentLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "-> ") {
			lines = append(lines, l)
		}
	}
	return lines
}

// noAnswer is the timeout flag for an answer that must not come; loopback
// answers take a millisecond or so.
var noAnswer = []string{"--timeout", "300ms"}

const saleOf15Unanswered = `  - match: txn == "sale" && amount == 1500
    action: no-response
`

// TestSendReversalAfterTimeout: a sale that gets no answer says so in the
// configured timeout's words and becomes the pending reversal, which
// persists to the next run; `send reversal` sends it (the sale's STAN and
// amount, F39 98), and the host reverses the sale it booked.
func TestSendReversalAfterTimeout(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			s := sendHost(t, dn, saleOf15Unanswered)
			send := sendTo(s, t.TempDir())
			mustSend(t, send, "signon")
			args := append([]string{"sale", "--amount", "15.00"}, noAnswer...)
			code, stdout, stderr := send(args...)
			if code != 1 {
				t.Fatalf("unanswered sale: exit %d, want 1: %s%s", code, stdout, stderr)
			}
			wantOneLine(t, args, stderr, "sale: no response from the host in 300ms")
			if !strings.Contains(stderr, "reverses sale 000002") || strings.Contains(stderr, "message send timeout") {
				t.Errorf("stderr %q; want it to say the terminal reverses sale 000002, in its own words", stderr)
			}
			if !strings.Contains(stdout, "<- no response") {
				t.Errorf("stdout of the unanswered sale:\n%s", stdout)
			}

			out := mustSend(t, send, "reversal", "-v")
			sent := sentLines(out)
			if len(sent) != 1 || !regexp.MustCompile(`^-> 0400 reversal +stan=000002 .*amount=15\.00`).MatchString(sent[0]) {
				t.Fatalf("send reversal sent %q, want the 0400 of STAN 000002 for 15.00:\n%s", sent, out)
			}
			if !strings.Contains(out, "RC 00") || !regexp.MustCompile(`(?m)^F39 .*: 98$`).MatchString(out) {
				t.Errorf("reversal not approved, or without F39 98:\n%s", out)
			}
			if e := s.Journal.Query(journal.Filter{STAN: "000002", Txn: "reversal"}); len(e) != 1 || !strings.Contains(e[0].Decision, "reversed") {
				t.Errorf("journal of the reversal: %+v; want the booked sale found and reversed", e)
			}
			// Nothing is owed any more, and the batch is empty.
			code, _, stderr = send("reversal")
			if code != 2 || !strings.Contains(stderr, "nothing to reverse") {
				t.Errorf("a second send reversal: exit %d %q; want 2, nothing to reverse", code, stderr)
			}
		})
	}
}

// TestSendPendingReversalBeforeSettle: the pending reversal goes before the
// next transaction or the settlement, unasked.
func TestSendPendingReversalBeforeSettle(t *testing.T) {
	s := sendHost(t, "iso87ascii", saleOf15Unanswered)
	send := sendTo(s, t.TempDir())
	if code, _, _ := send(append([]string{"sale", "--amount", "15.00"}, noAnswer...)...); code != 1 {
		t.Fatalf("unanswered sale: exit %d, want 1", code)
	}
	out := mustSend(t, send, "sale", "--amount", "2.00")
	sent := sentLines(out)
	if len(sent) != 2 || !strings.HasPrefix(sent[0], "-> 0400 reversal") || !strings.Contains(sent[0], "stan=000001") ||
		!strings.HasPrefix(sent[1], "-> 0200 sale") || !strings.Contains(sent[1], "stan=000002") {
		t.Fatalf("sale after the timeout sent %q; want the reversal of 000001 first, then sale 000002", sent)
	}

	if code, _, _ := send(append([]string{"sale", "--amount", "15.00"}, noAnswer...)...); code != 1 {
		t.Fatalf("second unanswered sale: exit %d, want 1", code)
	}
	out = mustSend(t, send, "settle")
	sent = sentLines(out)
	if len(sent) != 2 || !strings.HasPrefix(sent[0], "-> 0400 reversal") || !strings.Contains(sent[0], "stan=000003") || !strings.HasPrefix(sent[1], "-> 0500") {
		t.Fatalf("settle sent %q; want the reversal of 000003, then the settlement", sent)
	}
	if !strings.Contains(out, "0510 RC 00") {
		t.Errorf("settlement of the one 2.00 sale not balanced:\n%s", out)
	}
}

// TestSendReversalRetried: a reversal that gets no answer is tried four
// times (once and three retries), the sale after it is not sent, and the
// error says why.
func TestSendReversalRetried(t *testing.T) {
	s := sendHost(t, "iso87ascii", `  - match: txn in ["sale", "reversal"] && amount == 1500
    action: no-response
`)
	send := sendTo(s, t.TempDir())
	send(append([]string{"sale", "--amount", "15.00"}, noAnswer...)...)
	code, stdout, stderr := send(append([]string{"sale", "--amount", "2.00"}, noAnswer...)...)
	if code != 1 {
		t.Fatalf("sale behind an unanswered reversal: exit %d, want 1", code)
	}
	sent := sentLines(stdout)
	if len(sent) != 4 || !strings.HasPrefix(sent[0], "-> 0400") || !strings.HasPrefix(sent[3], "-> 0401") || strings.Contains(stdout, "0200") {
		t.Errorf("sent %q; want 0400 and three 0401 repeats, and no sale:\n%s", sent, stdout)
	}
	wantOneLine(t, []string{"sale"}, stderr, "sale not sent: the pending reversal got no answer")
}

// TestSendStatePerHost: the state is kept per host, so a second host's
// settlement holds only what it saw; --reset-state starts a terminal afresh.
func TestSendStatePerHost(t *testing.T) {
	a, b := sendHost(t, "iso87ascii", ""), sendHost(t, "iso87ascii", "")
	state := t.TempDir()
	onA, onB := sendTo(a, state), sendTo(b, state)
	mustSend(t, onA, "sale", "--amount", "12.34")
	out := mustSend(t, onB, "settle")
	if !strings.Contains(out, "0510 RC 00") || strings.Contains(out, "0320") {
		t.Errorf("settlement on the second host, which saw nothing:\n%s\nwant an empty batch, balanced, no upload", out)
	}
	out = mustSend(t, onA, "settle")
	if !strings.Contains(out, "0510 RC 00") || !strings.Contains(out, "f63=001000000001234") {
		t.Errorf("settlement on the first host, of its sale:\n%s", out)
	}

	mustSend(t, onA, "sale", "--amount", "1.00")
	if out := mustSend(t, onA, "echo"); !strings.Contains(out, "stan=000004") {
		t.Errorf("echo without a reset:\n%s\nwant it to carry on from the state (STAN 000004)", out)
	}
	if out := mustSend(t, onA, "echo", "--reset-state"); !strings.Contains(out, "stan=000001") {
		t.Errorf("echo --reset-state:\n%s\nwant a fresh terminal (STAN 000001)", out)
	}
	files, _ := filepath.Glob(filepath.Join(state, "*.json"))
	if len(files) != 2 {
		t.Errorf("state files %v, want one per host", files)
	}
	for _, f := range files {
		if !strings.Contains(filepath.Base(f), strings.ReplaceAll(a.Addr(), ":", "_")) && !strings.Contains(filepath.Base(f), strings.ReplaceAll(b.Addr(), ":", "_")) {
			t.Errorf("state file %s does not name its host", f)
		}
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatal(err)
	}
}

// TestSendVoidAmount: a void sends the amount asked for (the host says 64
// when it is not the original's), and the original's without --amount.
func TestSendVoidAmount(t *testing.T) {
	s := sendHost(t, "iso87ascii", "")
	send := sendTo(s, t.TempDir())
	mustSend(t, send, "sale", "--amount", "5.00")
	out := mustSend(t, send, "void", "--amount", "4.00")
	if !strings.Contains(out, "amount=4.00") || !strings.Contains(out, "RC 64") {
		t.Errorf("void --amount 4.00 of a 5.00 sale:\n%s\nwant 4.00 sent and RC 64", out)
	}
	out = mustSend(t, send, "void")
	if !strings.Contains(out, "amount=5.00") || !strings.Contains(out, "RC 00") {
		t.Errorf("void of the same sale:\n%s\nwant the booked 5.00 sent and approved", out)
	}
}

// TestSendMAC: cup --mac signs on, signs the request with the working MAC
// key (the host checks it: a wrong one gets A0) and checks the approval's
// MAC; one that does not verify is reversed with A0. iso87ascii carries no
// MAC: --mac is refused.
func TestSendMAC(t *testing.T) {
	s := sendHost(t, "cup", `  - match: txn == "sale" && amount == 1500
    action: {corrupt: {what: mac}}
`)
	send := sendTo(s, t.TempDir())
	out := mustSend(t, send, "sale", "--amount", "12.34", "--mac", "-v")
	sent := sentLines(out)
	if len(sent) != 2 || !strings.HasPrefix(sent[0], "-> 0800 signon") || !strings.HasPrefix(sent[1], "-> 0200 sale") {
		t.Fatalf("--mac sent %q, want the sign-on, then the sale:\n%s", sent, out)
	}
	if strings.Count(out, "F64 ") != 2 || !strings.Contains(out, "<- 0210 RC 00") {
		t.Errorf("the sale and its approval do not both carry F64, or it was not approved:\n%s", out)
	}
	if regexp.MustCompile(`(?m)^F64 .*: 0{16}$`).MatchString(out) {
		t.Errorf("the printout shows a MAC of zeros, not the one sent:\n%s", out)
	}
	if e := s.Journal.Query(journal.Filter{Txn: "sale", RC: "00"}); len(e) != 1 {
		t.Errorf("the host approved %d signed sales, want 1 (its MAC verified)", len(e))
	}
	if out := mustSend(t, send, "sale", "--amount", "1.00"); strings.Contains(out, "0800") {
		t.Errorf("without --mac, send signed on:\n%s", out)
	}

	args := []string{"sale", "--amount", "15.00", "--mac"}
	code, _, stderr := send(args...)
	if code != 1 {
		t.Fatalf("sale with a corrupted MAC in its approval: exit %d, want 1", code)
	}
	wantOneLine(t, args, stderr, "response MAC does not verify")
	out = mustSend(t, send, "reversal", "--mac", "-v")
	if !regexp.MustCompile(`-> 0400 reversal +stan=000005`).MatchString(out) || !regexp.MustCompile(`(?m)^F39 .*: A0$`).MatchString(out) {
		t.Errorf("reversal of the sale whose MAC failed:\n%s\nwant 0400 of STAN 000005 with F39 A0", out)
	}

	iso := sendHost(t, "iso87ascii", "")
	args = []string{"sale", "--mac"}
	code, _, stderr = sendTo(iso, "")(args...)
	if code != 2 {
		t.Errorf("iso87ascii --mac: exit %d, want 2", code)
	}
	wantOneLine(t, args, stderr, "--mac: the iso87ascii dialect carries no MAC")
}

// TestSendCompletionVoid: `send completion-void` voids the terminal's last
// completion; the cup host books it as a completion void (60.1 21) and
// gives the pre-authorisation back, so it can be completed again. With no
// completion in the batch it is refused.
func TestSendCompletionVoid(t *testing.T) {
	s := sendHost(t, "cup", "")
	send := sendTo(s, t.TempDir())
	if code, _, stderr := send("completion-void"); code != 2 || !strings.Contains(stderr, "nothing to void") {
		t.Errorf("completion-void with no completion: exit %d, %s; want 2 and nothing to void", code, stderr)
	}
	mustSend(t, send, "signon")
	mustSend(t, send, "preauth", "--amount", "50.00")
	mustSend(t, send, "completion", "--amount", "48.00")
	mustSend(t, send, "sale", "--amount", "1.00") // the last transaction, but not a completion
	out := mustSend(t, send, "completion-void")
	if !strings.Contains(out, "amount=48.00") || !strings.Contains(out, "RC 00") {
		t.Errorf("completion-void:\n%s\nwant the 48.00 completion voided and approved", out)
	}
	es := s.Journal.Query(journal.Filter{Txn: string(txn.CompletionVoid), RC: txn.Approved})
	if len(es) != 1 || es[0].Amount != 4800 {
		t.Errorf("journal holds completion voids %+v, want the one of 4800", es)
	}
	if out := mustSend(t, send, "completion", "--amount", "50.00"); !strings.Contains(out, "RC 00") {
		t.Errorf("completing the pre-authorisation again after its completion was voided:\n%s\nwant RC 00", out)
	}
}

// TestSendTPDU: --tpdu puts a TPDU before each iso87bcd message, which the
// host answers with its addresses swapped; a dialect without one refuses it.
func TestSendTPDU(t *testing.T) {
	s := sendHost(t, "iso87bcd", "")
	send := sendTo(s, t.TempDir())
	mustSend(t, send, "sale", "--tpdu", "6000030007")
	mustSend(t, send, "sale")
	got := s.Journal.Query(journal.Filter{Txn: "sale"})
	if len(got) != 2 {
		t.Fatalf("%d sales journalled, want 2", len(got))
	}
	for i, want := range [][2]string{{"6000030007", "6000070003"}, {"", ""}} {
		e, _ := s.Journal.Get(got[i].Seq)
		req, resp := s.Dialect.Describe([]byte(e.Request)), s.Dialect.Describe([]byte(e.Response))
		if req.Preamble != want[0] || resp.Preamble != want[1] || e.RC != "00" {
			t.Errorf("sale %d: RC %s, request TPDU %q, response %q; want 00, %q, %q", i+1, e.RC, req.Preamble, resp.Preamble, want[0], want[1])
		}
	}
	ascii := sendTo(sendHost(t, "iso87ascii", ""), t.TempDir())
	if code, _, stderr := ascii("sale", "--tpdu", "6000030007"); code != 2 || !strings.Contains(stderr, "carries no TPDU") {
		t.Errorf("iso87ascii --tpdu: exit %d %q; want 2, carries no TPDU", code, stderr)
	}
	if code, _, stderr := send("sale", "--tpdu", "60"); code != 2 || !strings.Contains(stderr, "want 5 bytes") {
		t.Errorf("--tpdu 60: exit %d %q; want 2, want 5 bytes", code, stderr)
	}
}
