package admin_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// The browser tests drive the console in a real headless Chromium. Without
// one they skip, unless ACQSIM_BROWSER=1 (as in CI), when they fail: a CI run
// that silently skipped them would prove nothing.

// findChromium returns the browser to drive, or skips the test.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("ACQSIM_BROWSER") == "1" {
		t.Fatal("ACQSIM_BROWSER=1 but no Chromium on PATH: apt-get install -y chromium")
	}
	t.Skip("no Chromium on PATH (apt-get install -y chromium); set ACQSIM_BROWSER=1 to make this a failure")
	return ""
}

// browserTab starts a headless Chromium for the test's lifetime and returns
// a tab, and a func that reports what went wrong in the page: uncaught
// exceptions, console errors, and the browser's own error log (a refused
// Content-Security-Policy, a failed load).
func browserTab(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(findChromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 900),
		// A closed network: nothing may try to reach Google.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)

	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			p = fmt.Sprintf("exception: %s %s at %s:%d", d.Text, remoteText(d.Exception), d.URL, d.LineNumber+1)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				p = "console.error: " + remoteTexts(ev.Args)
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				p = fmt.Sprintf("%s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if p != "" {
			mu.Lock()
			problems = append(problems, p)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enabling the browser log: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

func remoteText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.Value)
}

func remoteTexts(objs []*runtime.RemoteObject) string {
	var parts []string
	for _, o := range objs {
		parts = append(parts, remoteText(o))
	}
	return strings.Join(parts, " ")
}

// TestConsoleBrowser opens the console of a whole host that wants a token,
// watches a sale arrive approved, switches the global scenario with the
// page's own switcher, and watches the next sale arrive declined with the
// rule that declined it; then it looks at one exchange in full.
func TestConsoleBrowser(t *testing.T) {
	const token = "console-Token"
	const tid = "TERM0001"
	ctx, problems := browserTab(t)

	s := startSim(t, sim.Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", AdminToken: token})

	// Every wait below is on a condition; this bounds them all.
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\npage problems: %q", what, err, problems())
		}
	}
	text := func(what, expression string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expression))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	// waitText waits until the element's text is want.
	waitText := func(id, want string) {
		t.Helper()
		do(fmt.Sprintf("waiting for #%s to read %q", id, want),
			chromedp.PollFunction[chromedp.Void](`(id, want) => document.getElementById(id).textContent === want`,
				chromedp.WithPollingArgs(id, want), chromedp.WithPollingTimeout(20*time.Second)))
	}
	// rowOf waits for the exchange's row and returns its cells' text.
	rowOf := func(e journal.Entry) []string {
		t.Helper()
		sel := fmt.Sprintf(`#exchange-rows tr[data-seq="%d"]`, e.Seq)
		do("waiting for the row of exchange "+fmt.Sprint(e.Seq), chromedp.WaitVisible(chromedp.CSS(sel)))
		cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
			fmt.Sprintf(`[...document.querySelector('%s').cells].map((c) => c.textContent)`, sel)))
		if err != nil {
			t.Fatal(err)
		}
		return cells
	}
	const (
		cTime = iota
		cTID
		cTxn
		cAmount
		cRC
		cLatency
		cRule
		cFault
	)
	lastSale := func() journal.Entry {
		t.Helper()
		es := s.Journal.Query(journal.Filter{TID: tid, Txn: "sale"})
		if len(es) == 0 {
			t.Fatal("no sale in the journal")
		}
		return es[len(es)-1]
	}

	// The page takes the token from the address, then drops it from there.
	do("opening the console",
		chromedp.Navigate("http://"+s.AdminAddr()+"/?token="+token),
		chromedp.WaitVisible(chromedp.CSS("#status.ok")), // the live stream is open
	)
	if search := text("the address", `location.search`); search != "" {
		t.Errorf("after loading, the address still has %q", search)
	}
	waitText("global-current", "default host behaviour")

	term, err := terminal.Dial(context.Background(), terminal.Config{
		Addr: s.Addr(), Dialect: s.Dialect, TID: tid, MID: "898100012340001", Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	if x, err := term.SignOn(); err != nil || x.RC() != txn.Approved {
		t.Fatalf("sign-on: %v", err)
	}

	// A sale, approved, appears as it happens.
	x, err := term.Sale(1234)
	if err != nil {
		t.Fatalf("sale: %v", err)
	}
	if x.RC() != txn.Approved {
		t.Fatalf("sale: RC %s, want 00", x.RC())
	}
	cells := rowOf(lastSale())
	if cells[cTID] != tid || cells[cTxn] != "sale" || cells[cAmount] != "12.34" || cells[cRC] != "00" ||
		cells[cRule] != "" || cells[cFault] != "" || cells[cLatency] == "" || cells[cTime] == "" {
		t.Errorf("the approved sale's row: %q", cells)
	}
	// Its batch is open, with its totals.
	do("waiting for the open batch",
		chromedp.PollFunction[chromedp.Void](`(tid) => [...document.querySelectorAll('#batch-rows tr')].some(
			(tr) => tr.cells[0].textContent === tid && tr.cells[2].textContent === '1 · 12.34')`,
			chromedp.WithPollingArgs(tid), chromedp.WithPollingTimeout(20*time.Second)))

	// The page's switcher puts every terminal on insufficient-funds.
	do("switching the global scenario",
		chromedp.SetValue(chromedp.ID("global-scenario"), "insufficient-funds"),
		chromedp.Click(chromedp.ID("global-apply")),
	)
	waitText("global-current", "insufficient-funds")
	if global, _ := s.Engine.Bindings(); global != "insufficient-funds" {
		t.Fatalf("after the switch the host's global scenario is %q", global)
	}

	x, err = term.Sale(1234)
	if err != nil {
		t.Fatalf("second sale: %v", err)
	}
	if x.RC() != "51" {
		t.Fatalf("second sale: RC %s, want 51", x.RC())
	}
	declined := lastSale()
	cells = rowOf(declined)
	if cells[cRC] != "51" || cells[cRule] != "insufficient-funds: sales declined for funds" || cells[cFault] != "respond rc=51" {
		t.Errorf("the declined sale's row: %q", cells)
	}

	// One exchange in full: every field, the card number masked.
	sel := fmt.Sprintf(`#exchange-rows tr[data-seq="%d"]`, declined.Seq)
	do("opening the declined sale",
		chromedp.Click(chromedp.CSS(sel)),
		chromedp.WaitVisible(chromedp.CSS(`#detail-fields dd[data-field="pan"]`)),
	)
	fields := map[string]string{}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[][2]string](
		`[...document.querySelectorAll('#detail-fields dd')].map((dd) => [dd.dataset.field, dd.textContent])`))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range raw {
		fields[kv[0]] = kv[1]
	}
	want := map[string]string{
		"seq": fmt.Sprint(declined.Seq), "tid": tid, "txn": "sale", "mti": "0200", "stan": declined.STAN,
		"rc": "51", "pan": "476173******0010", "amount": "1234 (12.34)",
		"scenario": "insufficient-funds", "rule": "sales declined for funds", "action": "respond rc=51",
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("detail %s: %q, want %q", k, fields[k], v)
		}
	}
	for _, k := range []string{"time", "conn", "dialect", "response_mti", "proc", "rrn", "mid", "batch", "currency", "latency_us", "decision"} {
		if fields[k] == "" {
			t.Errorf("detail: no %s; fields %q", k, fields)
		}
	}

	// And both its messages as they went over the wire: every field, the raw
	// frame, card data masked in both.
	do("waiting for the raw frames",
		chromedp.PollFunction[chromedp.Void](`() => ['frame-request', 'frame-response'].every(
			(id) => (document.querySelector('#' + id + ' .frame-hex') || {}).textContent)`,
			chromedp.WithPollingTimeout(20*time.Second)))
	frame := func(id string) (fields map[string]string, hex string) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[][2]string](fmt.Sprintf(
			`[...document.querySelectorAll('#%s tr[data-field]')].map((tr) => [tr.dataset.field, tr.querySelector('.c-value').textContent])`, id)))
		if err != nil {
			t.Fatal(err)
		}
		fields = map[string]string{}
		for _, kv := range raw {
			fields[kv[0]] = kv[1]
		}
		return fields, strings.Join(strings.Fields(text(id+"'s hex", fmt.Sprintf(`document.querySelector('#%s .frame-hex').textContent`, id))), "")
	}
	const panHex = "34373631373339303031303130303130" // the card number in ASCII, as hex
	reqFields, reqHex := frame("frame-request")
	respFields, respHex := frame("frame-response")
	for _, c := range []struct {
		what         string
		fields       map[string]string
		hex          string
		mti, f2, f11 string
	}{
		{"request", reqFields, reqHex, "0200", "476173******0010", declined.STAN},
		{"response", respFields, respHex, "0210", "476173******0010", declined.STAN},
	} {
		if c.fields["2"] != c.f2 || c.fields["11"] != c.f11 {
			t.Errorf("the %s's fields: %q", c.what, c.fields)
		}
		if !strings.HasPrefix(c.hex, fmt.Sprintf("%X", c.mti)) || !strings.Contains(c.hex, "**") {
			t.Errorf("the %s's raw frame: %q", c.what, c.hex)
		}
		if strings.Contains(strings.ToUpper(c.hex), panHex) {
			t.Errorf("the %s's raw frame shows the clear card number: %s", c.what, c.hex)
		}
	}
	if reqFields["35"] == "" || strings.Contains(reqFields["35"], "4761739001010010") || respFields["39"] != "51" {
		t.Errorf("request F35 %q, response F39 %q", reqFields["35"], respFields["39"])
	}
	if got := text("the request's MTI", `document.querySelector('#frame-request .frame-mti').textContent`); got != "0200" {
		t.Errorf("the request's MTI reads %q", got)
	}

	page := text("the page's text", `document.documentElement.textContent`)
	if text("the page's text", `document.body.textContent`) == "" ||
		strings.Contains(page, terminal.DefaultCard.PAN) || strings.Contains(page, "4761739001010010") {
		t.Error("the page shows the clear card number")
	}

	// The per-terminal switcher: opening the row put its terminal in the box.
	if got := text("the terminal box", `document.getElementById('terminal-id').value`); got != tid {
		t.Errorf("terminal box %q after opening a %s row, want %s", got, tid, tid)
	}
	do("binding the terminal to magic-amounts",
		chromedp.SetValue(chromedp.ID("terminal-scenario"), "magic-amounts"),
		chromedp.Click(chromedp.ID("terminal-apply")),
		chromedp.WaitVisible(chromedp.CSS(`#terminal-bindings button[data-tid="`+tid+`"]`)),
	)
	if _, terms := s.Engine.Bindings(); terms[tid] != "magic-amounts" {
		t.Fatalf("after binding, the host's terminal scenarios are %v", terms)
	}
	if x, err = term.Sale(1205); err != nil || x.RC() != "05" {
		t.Fatalf("sale of 12.05 on magic-amounts: %v, want RC 05", err)
	}
	if cells = rowOf(lastSale()); cells[cRC] != "05" || cells[cRule] != "magic-amounts: amount ending 05: do not honour" {
		t.Errorf("the terminal's own scenario's row: %q", cells)
	}
	do("unbinding the terminal",
		chromedp.Click(chromedp.CSS(`#terminal-bindings button[data-tid="`+tid+`"]`)),
		chromedp.PollFunction[chromedp.Void](`() => document.getElementById('terminal-bindings').childElementCount === 0`,
			chromedp.WithPollingTimeout(20*time.Second)),
	)
	if _, terms := s.Engine.Bindings(); len(terms) != 0 {
		t.Errorf("after unbinding, the host's terminal scenarios are %v", terms)
	}

	// The clock's freeze button freezes the host's clock.
	do("freezing the clock", chromedp.Click(chromedp.ID("clock-freeze")))
	waitText("clock-state", "frozen")
	if !s.Clock.Frozen() {
		t.Error("the console says frozen, the host's clock runs")
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.ArtifactDir(), "console.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)

	if p := problems(); len(p) > 0 {
		t.Errorf("the page had problems:\n  %s", strings.Join(p, "\n  "))
	}
}

// TestConsoleBrowserBatchesFit: the open batches, with totals as wide as a
// busy terminal's, fit their panel at common laptop widths, the Credits
// column included: no cell runs past the panel's edge or out of the window,
// none is cut short inside itself, and nothing hides behind a scroll.
func TestConsoleBrowserBatchesFit(t *testing.T) {
	ctx, problems := browserTab(t)
	s := startSim(t, sim.Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0"})
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	term, err := terminal.Dial(context.Background(), terminal.Config{
		Addr: s.Addr(), Dialect: s.Dialect, TID: "TERM0001", MID: "898100012340001", Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	if x, err := term.SignOn(); err != nil || x.RC() != txn.Approved {
		t.Fatalf("sign-on: %v", err)
	}
	// Totals wider than a quick-start bench run leaves (thirteen thousand
	// sales of 1.00 a terminal): millions each way, over a few hundred sales.
	for i := range 300 {
		amt := int64(1234)
		if i < 2 {
			amt = 99999999
		}
		if x, err := term.Sale(amt); err != nil || x.RC() != txn.Approved {
			t.Fatalf("sale %d of %d: %v", i, amt, err)
		}
	}
	for range 2 {
		if x, err := term.Refund(99999999, nil); err != nil || x.RC() != txn.Approved {
			t.Fatalf("refund: %v", err)
		}
	}
	const debits, credits = "300 · 2003677.30", "2 · 1999999.98"

	// geometry measures every cell of the batches table against the panel's
	// content box, the window and the columns that could scroll it out of view.
	const geometry = `(() => {
		const panel = document.getElementById('batches');
		const ps = getComputedStyle(panel);
		const box = panel.getBoundingClientRect();
		const inner = box.right - parseFloat(ps.borderRightWidth) - parseFloat(ps.paddingRight);
		const out = [];
		if (box.right > document.documentElement.clientWidth + 0.5) {
			out.push('the panel ends at ' + box.right + ', past the window at ' + document.documentElement.clientWidth);
		}
		for (let el = panel.querySelector('table'); el && el !== document.body; el = el.parentElement) {
			if (el.scrollWidth > el.clientWidth + 0.5 && getComputedStyle(el).overflowX !== 'visible') {
				out.push((el.id || el.className || el.tagName) + ' hides ' + (el.scrollWidth - el.clientWidth) + 'px behind a scroll');
			}
		}
		const head = [...panel.querySelectorAll('thead th')].map((th) => th.textContent);
		for (const tr of panel.querySelectorAll('tr')) {
			[...tr.cells].forEach((c, i) => {
				const r = c.getBoundingClientRect();
				const what = head[i] + ' cell ' + JSON.stringify(c.textContent);
				if (r.right > inner + 0.5) out.push(what + ' ends at ' + r.right + ', past the panel at ' + inner);
				if (r.left < box.left) out.push(what + ' starts at ' + r.left + ', before the panel at ' + box.left);
				if (c.scrollWidth > c.clientWidth + 0.5) out.push(what + ' is cut short: ' + c.scrollWidth + 'px in ' + c.clientWidth);
			});
		}
		return out;
	})()`
	for _, width := range []int64{1400, 1280} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			if err := chromedp.Do(ctx,
				chromedp.EmulateViewport(width, 900),
				chromedp.Navigate("http://"+s.AdminAddr()+"/"),
				chromedp.PollFunction[chromedp.Void](`(want) => [...document.querySelectorAll('#batch-rows tr')].some(
					(tr) => tr.cells[3].textContent === want)`,
					chromedp.WithPollingArgs(credits), chromedp.WithPollingTimeout(20*time.Second)),
			); err != nil {
				t.Fatalf("waiting for the open batch's credits %q: %v\npage problems: %q", credits, err, problems())
			}
			cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
				`[...document.querySelector('#batch-rows tr').cells].map((c) => c.textContent)`))
			if err != nil {
				t.Fatal(err)
			}
			if len(cells) != 4 || cells[2] != debits || cells[3] != credits {
				t.Errorf("the batch's row reads %q, want debits %q and credits %q", cells, debits, credits)
			}
			bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](geometry))
			if err != nil {
				t.Fatalf("measuring the batches: %v", err)
			}
			for _, b := range bad {
				t.Errorf("at %dx900: %s", width, b)
			}
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			path := filepath.Join(t.ArtifactDir(), fmt.Sprintf("console-%d.png", width))
			if err := os.WriteFile(path, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", path)
		})
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the page had problems:\n  %s", strings.Join(p, "\n  "))
	}
}

// startSim starts a whole host on loopback for the test's lifetime.
func startSim(t *testing.T, cfg sim.Config) *sim.Sim {
	t.Helper()
	s, err := sim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}
