package admin_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
)

// dropFirstStream is the admin API of a host with its first live stream
// dropped: that stream opens as the host's would, and ends with a "dropped"
// event when the test says, as the host's does for a reader that fell
// behind. Every other call, later streams included, reaches the API. It
// records the calls it was sent.
type dropFirstStream struct {
	api     http.Handler
	lastSeq uint64
	drop    chan struct{} // closed: the first stream is dropped
	mu      sync.Mutex
	streams int
	calls   []*url.URL // every call but the console's own files
}

func (d *dropFirstStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	if r.URL.Path != "/" && !strings.HasPrefix(r.URL.Path, "/console/") {
		d.calls = append(d.calls, r.URL)
	}
	first := false
	if r.URL.Path == "/journal/stream" {
		d.streams++
		first = d.streams == 1
	}
	d.mu.Unlock()
	if !first {
		d.api.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": acqsim journal\n\n")
	w.(http.Flusher).Flush()
	select {
	case <-d.drop:
		fmt.Fprintf(w, "event: dropped\ndata: {\"reason\":\"test\",\"last_seq\":%d}\n\n", d.lastSeq)
		w.(http.Flusher).Flush()
	case <-r.Context().Done():
	}
}

// seen returns the calls sent so far and how many of them were live streams.
func (d *dropFirstStream) seen() ([]*url.URL, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls), d.streams
}

// TestConsoleDropBrowser: when the host drops the console's live stream, the
// page says it fell behind, reads what it missed with GET
// /journal?after=last_seq, opens a new stream, and tells the user; the
// exchanges it missed are then in the table, beside the ones before, and the
// new stream is live.
func TestConsoleDropBrowser(t *testing.T) {
	ctx, problems := browserTab(t)
	// The whole host, for the parts of the console beyond the journal
	// (scenarios, batches, the clock); its own admin API is off, as the test
	// serves one of its own in front of the drop.
	s := startSim(t, sim.Config{Listen: "127.0.0.1:0", Admin: "off"})
	api := &admin.API{Journal: s.Journal, Clock: s.Clock, Reset: s.Reset, ResetTerminal: s.ResetTerminal,
		Engine: s.Engine, Library: s.Library, Books: s.Books, Describe: s.Dialect.Describe}

	// Before the page opens, the journal has `before` exchanges: the drop
	// says the stream was sent the last of them.
	const before, missed = 5, 300
	appendSales := func(n int) {
		t.Helper()
		for range n {
			if err := s.Journal.Append(journal.Entry{
				Time: s.Clock.Now(), Conn: "127.0.0.1:40000", Dialect: "iso87ascii", MTI: "0200", RespMTI: "0210",
				Txn: "sale", TID: "TERM0001", MID: "898100012340001", Amount: 1234, Currency: "840", RC: "00", LatencyUS: 80,
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendSales(before)
	lastSeq := s.Journal.Query(journal.Filter{})[before-1].Seq
	d := &dropFirstStream{api: api.Handler(), lastSeq: lastSeq, drop: make(chan struct{})}
	srv := httptest.NewUnstartedServer(d)
	// Close waits for every call, and the browser holds a stream open:
	// ending the calls' context ends the streams first.
	base, stop := context.WithCancel(context.Background())
	srv.Config.BaseContext = func(net.Listener) context.Context { return base }
	srv.Start()
	t.Cleanup(func() {
		stop()
		srv.Close()
	})

	// Every wait below is on a condition; this bounds them all.
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\npage problems: %q\ncalls: %v", what, err, problems(), func() []*url.URL { c, _ := d.seen(); return c }())
		}
	}
	rowsOf := func(from, to uint64) string {
		return fmt.Sprintf(`(() => { for (let s = %d; s <= %d; s++) {
			if (!document.querySelector('#exchange-rows tr[data-seq="' + s + '"]')) return false;
		} return true; })()`, from, to)
	}
	poll := func(what, expression string) {
		t.Helper()
		do(what, chromedp.Poll[chromedp.Void](expression, chromedp.WithPollingTimeout(20*time.Second)))
	}

	do("opening the console",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#status.ok")), // the first stream is open
	)
	poll("waiting for the exchanges before the drop", rowsOf(1, lastSeq))
	// The status says "fell behind" for a second only: record every text it
	// shows from here on.
	do("watching the status", chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.getElementById('status');
		window.statusSeen = [s.textContent];
		new MutationObserver(() => window.statusSeen.push(s.textContent)).observe(s, { childList: true, characterData: true, subtree: true });
	})()`))

	// The host goes on while the stream is stuck: these reach the page only
	// through GET /journal after it is dropped. The first 100 of them are
	// older than the latest 200 the page reads when a stream opens, so only
	// the read from last_seq brings them.
	appendSales(missed)
	close(d.drop)

	poll("waiting for the status to say the page fell behind, then that it is live again", `(() => {
		const i = window.statusSeen.indexOf('fell behind: reconnecting…');
		return i >= 0 && window.statusSeen.indexOf('live', i) > i;
	})()`)
	poll("waiting for the exchanges the dropped stream missed", rowsOf(lastSeq+1, lastSeq+missed))
	msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const m = document.getElementById('message'); return m.hidden ? '' : m.textContent; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "fell behind") || !strings.Contains(msg, "live again") {
		t.Errorf("the message reads %q; want one telling the user the view fell behind and is live again", msg)
	}

	// The page asked for what it missed from the drop's last_seq, and opened
	// a second stream, which is the host's own: an exchange now arrives live.
	calls, streams := d.seen()
	asked := false
	for _, u := range calls {
		if u.Path == "/journal" && u.Query().Get("after") == fmt.Sprint(lastSeq) {
			asked = true
		}
	}
	if !asked {
		t.Errorf("the page never asked for GET /journal?after=%d; its calls: %v", lastSeq, calls)
	}
	if streams < 2 {
		t.Errorf("the page opened %d live streams, want a second after the drop", streams)
	}
	appendSales(1)
	poll("waiting for an exchange on the second stream", rowsOf(lastSeq+missed+1, lastSeq+missed+1))
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#exchange-rows tr').length`)); err != nil || n != before+missed+1 {
		t.Errorf("the table has %d rows (%v), want %d: each exchange once", n, err, before+missed+1)
	}

	if p := problems(); len(p) > 0 {
		t.Errorf("the page had problems:\n  %s", strings.Join(p, "\n  "))
	}
}
