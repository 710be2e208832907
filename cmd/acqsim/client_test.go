package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/journal"
)

// terminalFor returns a `send` for one terminal (its state in a fresh
// directory) against the host at iso; it fails the test unless send exits 0.
func terminalFor(t *testing.T, iso string) func(args ...string) string {
	t.Helper()
	state := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		all := append([]string{"send", "--host", iso, "--state-dir", state, "--timeout", "5s"}, args...)
		code, stdout, stderr := acqsim(all...)
		if code != 0 {
			t.Fatalf("send %v: exit %d: %s%s", args, code, stdout, stderr)
		}
		return stdout
	}
}

// against returns a runner of acqsim commands against the admin API at
// admin: --admin goes last.
func against(admin string) func(args ...string) (int, string, string) {
	return func(args ...string) (int, string, string) {
		return acqsim(append(args, "--admin", admin)...)
	}
}

// wantOneLine checks that stderr is one "acqsim: " line containing want.
func wantOneLine(t *testing.T, args []string, stderr, want string) {
	t.Helper()
	if !strings.HasPrefix(stderr, "acqsim: ") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, want) {
		t.Errorf("%v: stderr %q, want one line mentioning %q", args, stderr, want)
	}
}

// tableRows splits a journal table into its rows' cells; the time is two.
func tableRows(t *testing.T, out string) [][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !regexp.MustCompile(`^TIME +TID +MTI +TXN +STAN +AMOUNT +RC +LATENCY +RULE +ACTION$`).MatchString(lines[0]) {
		t.Fatalf("header %q, want the journal's columns", lines[0])
	}
	var rows [][]string
	for _, l := range lines[1:] {
		cells := strings.Fields(l)
		if len(cells) < 11 {
			t.Fatalf("row %q has %d cells, want 11 or more", l, len(cells))
		}
		rows = append(rows, cells)
	}
	return rows
}

// Cells of a journal row (with the time's date and clock apart).
const (
	cellTID = 2 + iota
	cellMTI
	cellTxn
	cellSTAN
	cellAmount
	cellRC
	cellLatency
	cellRule
	cellAction
)

func TestJournalCommand(t *testing.T) {
	iso, admin, _ := serveInBackground(t)
	send, cli := terminalFor(t, iso), against(admin)
	send("signon")
	send("sale", "--amount", "12.34")
	send("sale", "--amount", "5")
	if code, _, stderr := cli("scenario", "use", "insufficient-funds"); code != 0 {
		t.Fatalf("scenario use: exit %d: %s", code, stderr)
	}
	send("sale", "--amount", "7")

	code, stdout, stderr := cli("journal")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows := tableRows(t, stdout)
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4:\n%s", len(rows), stdout)
	}
	for i, want := range [][]string{
		{"TERM0001", "0800", "signon", "000001", "-", "00"},
		{"TERM0001", "0200", "sale", "000002", "12.34", "00"},
		{"TERM0001", "0200", "sale", "000003", "5.00", "00"},
		{"TERM0001", "0200", "sale", "000004", "7.00", "51"},
	} {
		if got := rows[i][cellTID : cellRC+1]; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("row %d: %v, want %v", i+1, got, want)
		}
		if _, err := time.Parse("2006-01-02 15:04:05.000", rows[i][0]+" "+rows[i][1]); err != nil {
			t.Errorf("row %d: time %q %q: %v", i+1, rows[i][0], rows[i][1], err)
		}
		if !regexp.MustCompile(`^[0-9.]+(µs|ms|s)$`).MatchString(rows[i][cellLatency]) {
			t.Errorf("row %d: latency %q", i+1, rows[i][cellLatency])
		}
	}
	if rows[0][cellRule] != "-" || rows[0][cellAction] != "-" {
		t.Errorf("the sign-on, answered by the host's own rules, shows rule %q action %q; want - -", rows[0][cellRule], rows[0][cellAction])
	}
	if decline := strings.Join(rows[3][cellRule:], " "); !strings.Contains(decline, "51") || rows[3][cellRule] == "-" {
		t.Errorf("the declined sale's rule and action %q, want the scenario's rule and its 51", decline)
	}
	if strings.Contains(stdout, "4761739001010010") {
		t.Errorf("the journal shows the clear PAN:\n%s", stdout)
	}

	for _, tc := range []struct {
		filter []string
		stans  []string
	}{
		{[]string{"--txn", "sale"}, []string{"000002", "000003", "000004"}},
		{[]string{"--tid", "TERM0001", "--stan", "000003"}, []string{"000003"}},
		{[]string{"--mti", "0800"}, []string{"000001"}},
		{[]string{"--rc", "51"}, []string{"000004"}},
		{[]string{"--txn", "sale", "--limit", "2"}, []string{"000003", "000004"}},
		{[]string{"--mid", "898100012340001", "--rrn", "no-such-rrn"}, nil},
		{[]string{"--tid", "TERM0002"}, nil},
	} {
		code, stdout, stderr := cli(append([]string{"journal"}, tc.filter...)...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", tc.filter, code, stderr)
			continue
		}
		var stans []string
		for _, r := range tableRows(t, stdout) {
			stans = append(stans, r[cellSTAN])
		}
		if strings.Join(stans, " ") != strings.Join(tc.stans, " ") {
			t.Errorf("%v: STANs %v, want %v", tc.filter, stans, tc.stans)
		}
	}

	code, stdout, stderr = cli("journal", "-o", "json", "--txn", "sale")
	var es []journal.Entry
	if err := json.Unmarshal([]byte(stdout), &es); code != 0 || err != nil {
		t.Fatalf("-o json: exit %d, %v: %s%s", code, err, stdout, stderr)
	}
	if len(es) != 3 || es[0].Amount != 1234 || es[2].RC != "51" || es[0].PAN != "476173******0010" {
		t.Errorf("-o json: %+v, want the three sales, card numbers masked", es)
	}
}

// follow runs `acqsim journal --follow args...` until its context is
// cancelled, handing over each line it prints.
type follow struct {
	lines  chan string
	cancel context.CancelFunc
	code   chan int
	stderr *strings.Builder
}

func startFollow(t *testing.T, args ...string) *follow {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	f := &follow{lines: make(chan string, 100), cancel: cancel, code: make(chan int, 1), stderr: new(strings.Builder)}
	go func() {
		code := run(ctx, append([]string{"journal", "--follow"}, args...), pw, f.stderr)
		pw.Close()
		f.code <- code
	}()
	go func() {
		defer close(f.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		for range f.lines {
		}
	})
	return f
}

func (f *follow) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-f.lines:
		if !ok {
			t.Fatalf("journal --follow ended (exit %d: %s), want another line", <-f.code, f.stderr)
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("journal --follow printed nothing for 10 s")
		return ""
	}
}

// exit waits for the command to end and returns its exit status.
func (f *follow) exit(t *testing.T) int {
	t.Helper()
	select {
	case c := <-f.code:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("journal --follow did not end within 10 s")
		return -1
	}
}

func TestJournalFollow(t *testing.T) {
	iso, admin, stop := serveInBackground(t)
	one, two := terminalFor(t, iso), terminalFor(t, iso)
	one("signon")

	t.Run("table", func(t *testing.T) {
		f := startFollow(t, "--admin", admin, "--tid", "TERM0001")
		// The header comes once the host has subscribed the stream.
		if h := f.next(t); !strings.HasPrefix(h, "TIME ") {
			t.Fatalf("first line %q, want the header", h)
		}
		two("sale", "--amount", "3.21", "--tid", "TERM0002")
		one("sale", "--amount", "7.00")
		row := strings.Fields(f.next(t))
		if len(row) < 11 || row[cellTID] != "TERM0001" || row[cellTxn] != "sale" || row[cellAmount] != "7.00" || row[cellRC] != "00" {
			t.Errorf("row %q, want TERM0001's sale of 7.00 (TERM0002's filtered out)", row)
		}
		f.cancel()
		if code := f.exit(t); code != 0 {
			t.Errorf("cancelled (as by SIGINT): exit %d, want 0; stderr %q", code, f.stderr)
		}
	})

	t.Run("json with the latest first", func(t *testing.T) {
		f := startFollow(t, "--admin", admin, "-o", "json", "--limit", "2", "--txn", "sale")
		var seqs []uint64
		for range 2 {
			var e journal.Entry
			if err := json.Unmarshal([]byte(f.next(t)), &e); err != nil || e.Txn != "sale" {
				t.Fatalf("a line that is not a sale's JSON (%v)", err)
			}
			seqs = append(seqs, e.Seq)
		}
		one("sale", "--amount", "9.99")
		var e journal.Entry
		if err := json.Unmarshal([]byte(f.next(t)), &e); err != nil || e.Amount != 999 {
			t.Fatalf("live line: %+v (%v), want the sale of 9.99", e, err)
		}
		if !(seqs[0] < seqs[1] && seqs[1] < e.Seq) {
			t.Errorf("seqs %v then %d, want increasing, none repeated", seqs, e.Seq)
		}
		f.cancel()
		if code := f.exit(t); code != 0 {
			t.Errorf("exit %d, want 0; stderr %q", code, f.stderr)
		}
	})

	t.Run("the host stops", func(t *testing.T) {
		f := startFollow(t, "--admin", admin)
		f.next(t) // the header
		if code := stop(); code != 0 {
			t.Fatalf("serve exited %d", code)
		}
		if code := f.exit(t); code != 0 {
			t.Errorf("the host ended the stream: exit %d, want 0; stderr %q", code, f.stderr)
		}
	})
}

const declineRefunds = `name: decline-refunds
description: Refunds are declined with 12.
rules:
  - match: txn == "refund"
    respond: { rc: "12" }
`

func TestScenarioCommand(t *testing.T) {
	iso, admin, _ := serveInBackground(t)
	send, cli := terminalFor(t, iso), against(admin)
	send("signon")
	ok := func(want string, args ...string) {
		t.Helper()
		code, stdout, stderr := cli(args...)
		if code != 0 || strings.TrimSpace(stdout) != want {
			t.Errorf("%v: exit %d, output %q (%s); want %q", args, code, stdout, stderr, want)
		}
	}

	ok("every terminal without its own: insufficient-funds", "scenario", "use", "insufficient-funds")
	if out := send("sale", "--amount", "1"); !strings.Contains(out, "RC 51") {
		t.Errorf("a sale under insufficient-funds:\n%s\nwant RC 51", out)
	}
	ok("terminal TERM0001: magic-amounts", "scenario", "use", "magic-amounts", "--terminal", "TERM0001")
	ok("every terminal without its own: insufficient-funds\nterminal TERM0001: magic-amounts", "scenario", "show")
	ok("terminal TERM0001: magic-amounts", "scenario", "show", "--terminal", "TERM0001")
	ok("terminal TERM0002: insufficient-funds (every terminal's)", "scenario", "show", "--terminal", "TERM0002")
	if out := send("sale", "--amount", "1.05"); !strings.Contains(out, "RC 05") {
		t.Errorf("a sale of 1.05 under magic-amounts:\n%s\nwant RC 05", out)
	}
	ok("terminal TERM0001: what every terminal gets", "scenario", "clear", "--terminal", "TERM0001")
	ok("every terminal without its own: the default host behaviour", "scenario", "clear")
	if out := send("sale", "--amount", "1"); !strings.Contains(out, "RC 00") {
		t.Errorf("a sale with no scenario:\n%s\nwant RC 00", out)
	}

	file := writeFile(t, "decline-refunds.yaml", declineRefunds)
	ok("every terminal without its own: decline-refunds", "scenario", "load", file)
	ok("terminal TERM0009: decline-refunds", "scenario", "load", file, "--terminal", "TERM0009")
	ok("every terminal without its own: decline-refunds\nterminal TERM0009: decline-refunds", "scenario", "show")
	if out := send("refund", "--amount", "1"); !strings.Contains(out, "RC 12") {
		t.Errorf("a refund under the loaded scenario:\n%s\nwant RC 12", out)
	}
	// Once loaded, the host knows it by name.
	ok("terminal TERM0001: decline-refunds", "scenario", "use", "decline-refunds", "--terminal", "TERM0001")

	bad := writeFile(t, "bad.yaml", "name: x\nrules:\n  - action: explode\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"scenario", "load", bad}, 1, bad + ":3: "},
		{[]string{"scenario", "use", "no-such-scenario"}, 1, "404"},
		{[]string{"scenario", "load", bad + ".missing"}, 2, "no such file"},
		{[]string{"scenario"}, 2, "subcommand"},
		{[]string{"scenario", "use"}, 2, "NAME"},
		{[]string{"scenario", "use", "a", "b"}, 2, "NAME"},
		{[]string{"scenario", "load"}, 2, "FILE"},
		{[]string{"scenario", "clear", "now"}, 2, "no arguments"},
		{[]string{"scenario", "show", "all"}, 2, "no arguments"},
		{[]string{"scenario", "use", "timeout", "--tid", "TERM0001"}, 2, "unknown flag"},
	} {
		code, stdout, stderr := cli(tc.args...)
		if code != tc.code || stdout != "" {
			t.Errorf("%v: exit %d, output %q; want %d and nothing", tc.args, code, stdout, tc.code)
		}
		wantOneLine(t, tc.args, stderr, tc.want)
	}
}

func TestClockCommand(t *testing.T) {
	_, admin, _ := serveInBackground(t)
	cli := against(admin)
	// clock runs a clock command and returns what it printed: the time,
	// the offset and whether the clock is frozen.
	clock := func(args ...string) (time.Time, string, bool) {
		t.Helper()
		code, stdout, stderr := cli(append([]string{"clock"}, args...)...)
		if code != 0 {
			t.Fatalf("clock %v: exit %d: %s", args, code, stderr)
		}
		f := strings.Fields(stdout)
		if len(f) != 4 || f[1] != "offset" || (f[3] != "frozen" && f[3] != "running") || strings.Count(stdout, "\n") != 1 {
			t.Fatalf("clock %v printed %q, want TIME offset OFFSET frozen|running", args, stdout)
		}
		now, err := time.Parse(time.RFC3339Nano, f[0])
		if err != nil {
			t.Fatalf("clock %v: time %q: %v", args, f[0], err)
		}
		return now, f[2], f[3] == "frozen"
	}
	at := func(s string) time.Time {
		v, _ := time.Parse(time.RFC3339, s)
		return v
	}

	if now, offset, frozen := clock(); frozen || offset != "0s" || time.Since(now).Abs() > time.Minute {
		t.Errorf("a fresh host's clock: %v, offset %s, frozen %v; want real time, running", now, offset, frozen)
	}
	if _, _, frozen := clock("freeze"); !frozen {
		t.Error("clock freeze: not frozen")
	}
	for _, tc := range []struct {
		args []string
		want time.Time
	}{
		{[]string{"set", "2026-06-11T22:59:00+08:00"}, at("2026-06-11T14:59:00Z")},
		{[]string{"advance", "90s"}, at("2026-06-11T15:00:30Z")},
		{[]string{"show"}, at("2026-06-11T15:00:30Z")},
		{nil, at("2026-06-11T15:00:30Z")},
	} {
		if now, _, frozen := clock(tc.args...); !now.Equal(tc.want) || !frozen {
			t.Errorf("clock %v: %v, frozen %v; want %v, frozen", tc.args, now, frozen, tc.want)
		}
	}
	code, stdout, stderr := acqsim("clock", "advance", "--admin", admin, "--", "-30s")
	if code != 0 || !strings.HasPrefix(stdout, "2026-06-11T") {
		t.Errorf("clock advance -- -30s: exit %d, %q %s", code, stdout, stderr)
	} else if now, _, _ := clock(); !now.Equal(at("2026-06-11T15:00:00Z")) {
		t.Errorf("after advancing -30s the clock reads %v", now)
	}
	if _, _, frozen := clock("unfreeze"); frozen {
		t.Error("clock unfreeze: still frozen")
	}
	if now, offset, _ := clock("offset", "0s"); offset != "0s" || time.Since(now).Abs() > time.Minute {
		t.Errorf("clock offset 0s: %v, offset %s; want real time", now, offset)
	}

	for _, args := range [][]string{
		{"clock", "set", "yesterday"},
		{"clock", "set", "2026-06-11T22:59:00"},
		{"clock", "set"},
		{"clock", "advance", "soon"},
		{"clock", "advance"},
		{"clock", "offset", "2"},
		{"clock", "freeze", "now"},
		{"clock", "stop"},
		{"clock", "show", "-o", "csv"},
	} {
		code, stdout, stderr := cli(args...)
		if code != 2 || stdout != "" {
			t.Errorf("%v: exit %d, output %q; want 2 and nothing", args, code, stdout)
		}
		wantOneLine(t, args, stderr, "")
	}
}

// verifyHost serves a host whose frozen clock puts 1.5 s between TERM0001's
// sale (STAN 000002) and its reversal.
func verifyHost(t *testing.T) (cli func(args ...string) (int, string, string)) {
	t.Helper()
	iso, admin, _ := serveInBackground(t, "--clock", "2026-06-11T10:00:00Z")
	send, cli := terminalFor(t, iso), against(admin)
	if code, _, stderr := cli("clock", "freeze"); code != 0 {
		t.Fatalf("clock freeze: exit %d: %s", code, stderr)
	}
	send("signon")
	send("sale", "--amount", "10")
	if code, _, stderr := cli("clock", "advance", "1500ms"); code != 0 {
		t.Fatalf("clock advance: exit %d: %s", code, stderr)
	}
	send("reversal")
	return cli
}

func TestVerifyCommand(t *testing.T) {
	cli := verifyHost(t)

	for _, tc := range []struct {
		args    []string
		code    int
		verdict string
	}{
		{[]string{"--txn", "reversal", "--count", "1"}, 0, "ok: 1 exchange of TERM0001 matched, want exactly 1"},
		{[]string{"--stan", "000002"}, 0, "ok: 2 exchanges of TERM0001 matched"},
		{[]string{"--stan", "000002", "--min", "1", "--max", "2"}, 0, "ok: 2 exchanges of TERM0001 matched, want at least 1 and at most 2"},
		{[]string{"--mti", "0800", "--rc", "00", "--count", "1"}, 0, "ok: 1 exchange of TERM0001 matched, want exactly 1"},
		{[]string{"--txn", "reversal", "--min", "2"}, 1, "not ok: 1 exchange of TERM0001 matched, want at least 2"},
		{[]string{"--txn", "void", "--count", "1"}, 1, "not ok: 0 exchanges of TERM0001 matched, want exactly 1"},
		{[]string{"--txn", "sale", "--max", "0"}, 1, "not ok: 1 exchange of TERM0001 matched, want at most 0"},
	} {
		args := append([]string{"verify", "--tid", "TERM0001"}, tc.args...)
		code, stdout, stderr := cli(args...)
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if code != tc.code || lines[0] != tc.verdict {
			t.Errorf("%v: exit %d, first line %q (%s); want %d, %q", tc.args, code, lines[0], stderr, tc.code, tc.verdict)
			continue
		}
		if code == 1 {
			wantOneLine(t, args, stderr, "verify: "+strings.TrimPrefix(tc.verdict, "not ok: "))
			// What arrived: the terminal's exchanges, the matches marked.
			if len(lines) != 6 || lines[1] != "TERM0001's latest 3 exchanges (* matched):" {
				t.Errorf("%v: output\n%s\nwant the verdict, then TERM0001's three exchanges", tc.args, stdout)
			}
		} else if stderr != "" {
			t.Errorf("%v: stderr %q", tc.args, stderr)
		}
	}

	// The reversal's row says how long after the sale it came.
	_, stdout, _ := cli("verify", "--tid", "TERM0001", "--txn", "reversal", "--min", "1")
	if !regexp.MustCompile(`(?m)^\* +3 +2026-06-11 10:00:\d\d\.\d{3} +TERM0001 +0400 +reversal +000002 +10\.00 +00 .* 1\.5s after #2$`).MatchString(stdout) {
		t.Errorf("verify of the reversal:\n%s\nwant its row, marked, 1.5s after #2", stdout)
	}
	_, stdout, _ = cli("verify", "--tid", "TERM0001", "--txn", "reversal", "--count", "0")
	if n := len(regexp.MustCompile(`(?m)^\* `).FindAllString(stdout, -1)); n != 1 || !strings.Contains(stdout, "signon") {
		t.Errorf("a failed verify:\n%s\nwant every exchange of TERM0001 listed, the reversal alone marked", stdout)
	}

	t.Run("json", func(t *testing.T) {
		for _, tc := range []struct {
			count string
			code  int
		}{{"1", 0}, {"3", 1}} {
			code, stdout, _ := cli("verify", "--tid", "TERM0001", "--txn", "reversal", "--count", tc.count, "-o", "json")
			var ans admin.Verified
			if err := json.Unmarshal([]byte(stdout), &ans); err != nil || code != tc.code {
				t.Fatalf("--count %s -o json: exit %d, %v: %s", tc.count, code, err, stdout)
			}
			if ans.OK != (tc.code == 0) || ans.Count != 1 || len(ans.Entries) != 1 || ans.Entries[0].AfterOriginalMS == nil || *ans.Entries[0].AfterOriginalMS != 1500 {
				t.Errorf("--count %s -o json: %s", tc.count, stdout)
			}
		}
	})

	t.Run("sequence", func(t *testing.T) {
		for _, tc := range []struct {
			kinds   []string
			code    int
			verdict string
		}{
			{[]string{"signon", "sale"}, 0, "ok: TERM0001's first signon, sale came in that order"},
			{[]string{"signon,sale,reversal"}, 0, "ok: TERM0001's first signon, sale, reversal came in that order"},
			{[]string{"sale", "signon"}, 1, "not ok: TERM0001's first signon (#1) came before its first sale (#2)"},
			{[]string{"signon", "sale", "settlement"}, 1, "not ok: TERM0001 sent no settlement"},
		} {
			args := append([]string{"verify", "sequence", "--tid", "TERM0001"}, tc.kinds...)
			code, stdout, stderr := cli(args...)
			lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if code != tc.code || lines[0] != tc.verdict || len(lines) != 2+len(kindsOf(tc.kinds)) {
				t.Errorf("%v: exit %d, output\n%s(%s)\nwant %d, %q and a row a kind", tc.kinds, code, stdout, stderr, tc.code, tc.verdict)
			}
			if code == 1 {
				wantOneLine(t, args, stderr, "verify sequence: "+strings.TrimPrefix(tc.verdict, "not ok: "))
			}
		}
		code, stdout, _ := cli("verify", "sequence", "--tid", "TERM0001", "signon", "sale", "-o", "json")
		var ans admin.Sequence
		if err := json.Unmarshal([]byte(stdout), &ans); err != nil || code != 0 || !ans.OK || len(ans.Steps) != 2 || ans.Steps[1].Seq != 2 {
			t.Errorf("sequence -o json: exit %d, %v: %s", code, err, stdout)
		}
	})

	for _, args := range [][]string{
		{"verify"},
		{"verify", "--txn", "sale", "--count", "1"},
		{"verify", "--tid", "TERM0001", "--count", "1", "--min", "1"},
		{"verify", "--tid", "TERM0001", "--count", "1", "--max", "1"},
		{"verify", "--tid", "TERM0001", "--count", "-1"},
		{"verify", "--tid", "TERM0001", "--min", "one"},
		{"verify", "--tid", "TERM0001", "-o", "yaml"},
		{"verify", "--tid", "TERM0001", "extra"},
		{"verify", "sequence", "signon", "sale"},
		{"verify", "sequence", "--tid", "TERM0001", "signon"},
		{"verify", "sequence", "--tid", "TERM0001", "signon,"},
		{"verify", "sequence", "--tid", "TERM0001", "--count", "1", "signon", "sale"},
	} {
		code, stdout, stderr := cli(args...)
		if code != 2 || stdout != "" {
			t.Errorf("%v: exit %d, output %q; want 2 and nothing", args, code, stdout)
		}
		wantOneLine(t, args, stderr, "")
	}
}

// TestAdminToken: against a host started with --admin-token, every client
// needs the token, from --admin-token or ACQSIM_ADMIN_TOKEN.
func TestAdminToken(t *testing.T) {
	const token = "s3cret-4dm1n"
	t.Setenv("ACQSIM_ADMIN_TOKEN", "")
	iso, admin, _ := serveInBackground(t, "--admin-token", token)
	terminalFor(t, iso)("signon")
	cli := against(admin)

	commands := [][]string{
		{"journal"},
		{"journal", "-o", "json"},
		{"clock"},
		{"clock", "advance", "1s"},
		{"scenario", "show"},
		{"scenario", "use", "timeout", "--terminal", "TERM0002"},
		{"verify", "--tid", "TERM0001", "--txn", "signon", "--count", "1"},
		{"verify", "sequence", "--tid", "TERM0001", "signon", "signon"},
		{"report", "batches"},
		{"report", "settlements", "-o", "csv"},
	}
	for _, args := range commands {
		code, stdout, stderr := cli(args...)
		if code != 1 || stdout != "" {
			t.Errorf("%v without a token: exit %d, output %q; want 1 and nothing", args, code, stdout)
		}
		wantOneLine(t, args, stderr, "401")
		if !strings.Contains(stderr, "--admin-token") {
			t.Errorf("%v: stderr %q, want a hint at --admin-token", args, stderr)
		}

		if code, _, stderr := cli(append(args, "--admin-token", token)...); code != 0 {
			t.Errorf("%v --admin-token: exit %d: %s", args, code, stderr)
		}
		if code, _, _ := cli(append(args, "--admin-token", token+"x")...); code != 1 {
			t.Errorf("%v with a wrong token: exit %d, want 1", args, code)
		}
	}

	t.Run("follow", func(t *testing.T) {
		f := startFollow(t, "--admin", admin, "--admin-token", token, "--limit", "1")
		if h := f.next(t); !strings.HasPrefix(h, "TIME ") {
			t.Fatalf("first line %q, want the header", h)
		}
		if row := strings.Fields(f.next(t)); len(row) < 11 || row[cellTxn] != "signon" {
			t.Errorf("row %q, want the sign-on", row)
		}
		f.cancel()
		if code := f.exit(t); code != 0 {
			t.Errorf("exit %d, want 0; stderr %q", code, f.stderr)
		}

		f = startFollow(t, "--admin", admin)
		if code := f.exit(t); code != 1 || !strings.Contains(f.stderr.String(), "401") {
			t.Errorf("without a token: exit %d, stderr %q; want 1 and the 401", code, f.stderr)
		}
	})

	t.Run("from the environment", func(t *testing.T) {
		t.Setenv("ACQSIM_ADMIN_TOKEN", token)
		for _, args := range commands {
			if code, _, stderr := cli(args...); code != 0 {
				t.Errorf("%v with ACQSIM_ADMIN_TOKEN: exit %d: %s", args, code, stderr)
			}
		}
		// The flag wins over the environment.
		if code, _, _ := cli("journal", "--admin-token", "wrong"); code != 1 {
			t.Errorf("--admin-token wrong with the right ACQSIM_ADMIN_TOKEN: exit %d, want 1", code)
		}
		// ...and help does not give the token away.
		for _, cmd := range []string{"journal", "clock", "scenario", "verify", "report"} {
			if _, stdout, _ := acqsim(cmd, "--help"); strings.Contains(stdout, token) {
				t.Errorf("acqsim %s --help shows the token from the environment", cmd)
			}
		}
	})
}

// TestClientHostTrouble: a host that cannot be reached, or that answers
// with an error, is exit status 1 and one line saying so.
func TestClientHostTrouble(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>upstream gone</html>", http.StatusBadGateway)
	}))
	t.Cleanup(failing.Close)

	for _, tc := range []struct{ name, admin, want string }{
		{"unreachable", closed, "asking the host"},
		{"an error status", failing.URL, "502 Bad Gateway: <html>upstream gone</html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{
				{"journal"},
				{"journal", "--follow"},
				{"clock", "freeze"},
				{"scenario", "use", "timeout"},
				{"scenario", "clear", "--terminal", "T1"},
				{"verify", "--tid", "T1", "--count", "0"},
				{"verify", "sequence", "--tid", "T1", "signon", "sale"},
			} {
				code, stdout, stderr := acqsim(append(args, "--admin", tc.admin)...)
				if code != 1 || stdout != "" {
					t.Errorf("%v: exit %d, output %q; want 1 and nothing", args, code, stdout)
				}
				wantOneLine(t, args, stderr, tc.want)
			}
		})
	}
}

func TestClientUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"journal", "sales"},
		{"journal", "-o", "csv"},
		{"journal", "--limit", "-1"},
		{"journal", "--limit", "ten"},
		{"journal", "--no-such-flag"},
		{"clock", "--admin"},
	} {
		code, stdout, stderr := acqsim(args...)
		if code != 2 || stdout != "" {
			t.Errorf("%v: exit %d, output %q; want 2 and nothing", args, code, stdout)
		}
		wantOneLine(t, args, stderr, "")
	}
}

// TestCompletion: cobra's completion command, and what the admin clients
// complete.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, stdout, stderr := acqsim("completion", shell)
		if code != 0 || !strings.Contains(stdout, "acqsim") || len(stdout) < 1000 {
			t.Errorf("completion %s: exit %d, %d bytes of script (%s)", shell, code, len(stdout), stderr)
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", ""}, []string{"journal", "scenario", "clock", "verify", "report", "serve", "send"}},
		{[]string{"__complete", "clock", ""}, []string{"set", "advance", "offset", "freeze", "unfreeze", "show"}},
		{[]string{"__complete", "scenario", "use", "insuff"}, []string{"insufficient-funds"}},
		{[]string{"__complete", "journal", "--txn", "rev"}, []string{"reversal"}},
		{[]string{"__complete", "verify", "sequence", "--tid", "T", "sig"}, []string{"signon", "signoff"}},
		{[]string{"__complete", "verify", "-o", ""}, []string{"table", "json"}},
		{[]string{"__complete", "report", "settlements", "-o", "c"}, []string{"csv"}},
	} {
		code, stdout, stderr := acqsim(tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", tc.args, code, stderr)
			continue
		}
		var got []string
		for _, l := range strings.Split(stdout, "\n") {
			if l != "" && !strings.HasPrefix(l, ":") {
				name, _, _ := strings.Cut(l, "\t")
				got = append(got, name)
			}
		}
		for _, w := range tc.want {
			if !strings.Contains(" "+strings.Join(got, " ")+" ", " "+w+" ") {
				t.Errorf("%v: completions %v, want %s among them", tc.args, got, w)
			}
		}
	}
}
