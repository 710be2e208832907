package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
)

// openRaw opens GET /journal/stream?query and returns the response as it is,
// to be closed by the caller (and at the end of the test).
func (h *liveHost) openRaw(t *testing.T, ctx context.Context, query string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/journal/stream?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /journal/stream: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestStreamCap: DefaultMaxStreams streams are open, the next is a 503 with
// a reason, and once one closes a new one is taken.
func TestStreamCap(t *testing.T) {
	h := startLive(t, "")
	ctx, closeFirst := context.WithCancel(context.Background())
	first := h.openRaw(t, ctx, "")
	if first.StatusCode != http.StatusOK {
		t.Fatalf("the first stream: status %d", first.StatusCode)
	}
	for range admin.DefaultMaxStreams - 1 {
		h.openStream(t, "")
	}
	if n := h.sim.Journal.Feeds(); n != admin.DefaultMaxStreams {
		t.Fatalf("%d streams open, want %d", n, admin.DefaultMaxStreams)
	}

	over := h.openRaw(t, context.Background(), "tid=TERM0001")
	body, _ := io.ReadAll(over.Body)
	var reason struct {
		Error string `json:"error"`
	}
	if over.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &reason) != nil ||
		!strings.Contains(reason.Error, strconv.Itoa(admin.DefaultMaxStreams)) || over.Header.Get("Retry-After") == "" {
		t.Fatalf("stream %d: status %d, Retry-After %q, body %s; want 503 with the reason and a Retry-After",
			admin.DefaultMaxStreams+1, over.StatusCode, over.Header.Get("Retry-After"), body)
	}
	if n := h.sim.Journal.Feeds(); n != admin.DefaultMaxStreams {
		t.Fatalf("a refused stream left %d open, want %d", n, admin.DefaultMaxStreams)
	}

	// The host learns of a closed stream when its handler sees the
	// connection go: no event tells the test, so it asks again until then.
	closeFirst()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := h.openRaw(t, context.Background(), "")
		if resp.StatusCode == http.StatusOK {
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("10 s after a stream closed, a new one is still %d", resp.StatusCode)
		}
		runtime.Gosched()
	}
}

// TestStreamDropsSlowReader: a reader that reads nothing while the host
// journals is dropped once it is the stream's buffer behind (whatever the
// socket buffers took first). Reading on, it gets what was buffered, then a
// "dropped" event whose last_seq resumes with GET /journal?after=, and the
// stream ends. A stream whose filter selects none of the traffic is not
// dropped by it.
func TestStreamDropsSlowReader(t *testing.T) {
	h := startLiveWith(t, sim.Config{JournalSize: 20_000})
	slow := h.openRaw(t, context.Background(), "tid=BUSY0001")
	other := h.openStream(t, "tid=QUIET001")
	if n := h.sim.Journal.Feeds(); n != 2 {
		t.Fatalf("%d streams open, want 2", n)
	}
	big := strings.Repeat("x", 10_000)
	appended := 0
	for h.sim.Journal.Feeds() == 2 {
		if appended++; appended > 15_000 {
			t.Fatal("15,000 exchanges of 10 kB journalled and the stream nobody reads is still open")
		}
		h.sim.Journal.Append(journal.Entry{TID: "BUSY0001", Txn: "sale", STAN: fmt.Sprintf("%06d", appended%1_000_000), Decision: big})
	}
	h.sim.Journal.Append(journal.Entry{TID: "QUIET001", Txn: "sale", STAN: "000001"})
	if e := other.next(t); e.TID != "QUIET001" {
		t.Errorf("the quiet stream got %s's entry, want QUIET001's", e.TID)
	}

	events := make(chan event, 100)
	var readErr error
	go func() {
		defer close(events)
		readErr = readEvents(slow.Body, events)
	}()
	var last uint64
	exchanges := 0
	var final *event
	for ev := range events {
		if final != nil {
			t.Fatalf("event %q after the dropped event", ev.name)
		}
		switch ev.name {
		case "exchange":
			seq, _ := strconv.ParseUint(ev.id, 10, 64)
			if seq != last+1 && last != 0 {
				t.Fatalf("exchange %d after %d: a stream sends what it buffered in order, without gaps", seq, last)
			}
			last = seq
			exchanges++
		case "dropped":
			final = &ev
		default:
			t.Fatalf("event %q", ev.name)
		}
	}
	if readErr != nil {
		t.Errorf("the stream ended with %v, want a clean end after the dropped event", readErr)
	}
	if final == nil {
		t.Fatalf("the stream ended after %d exchanges of %d without a dropped event", exchanges, appended)
	}
	var d struct {
		Reason  string `json:"reason"`
		LastSeq uint64 `json:"last_seq"`
	}
	if err := json.Unmarshal([]byte(final.data), &d); err != nil || d.Reason == "" || d.LastSeq != last {
		t.Fatalf("dropped event data %s (%v): want a reason and last_seq %d, the last exchange sent", final.data, err, last)
	}
	t.Logf("dropped after %d exchanges journalled, %d sent", appended, exchanges)
	if exchanges >= appended {
		t.Errorf("%d exchanges sent of %d: the drop lost none", exchanges, appended)
	}
	rest := h.journal(t, fmt.Sprintf("tid=BUSY0001&after=%d&limit=%d", d.LastSeq, admin.MaxJournalLimit))
	if len(rest) == 0 || rest[0].Seq != d.LastSeq+1 || exchanges+len(rest) != appended {
		t.Errorf("after=%d: %d entries from %v; with the %d streamed, want all %d", d.LastSeq, len(rest), seqs(rest[:min(1, len(rest))]), exchanges, appended)
	}
}

// TestStreamMemory: an open stream costs the host little (a Subscribe of
// 1024 whole entries cost about 0.45 MB each, allocated at once), and it
// is given back when the stream closes. Generous bounds: the client's side
// of each connection is counted too.
func TestStreamMemory(t *testing.T) {
	h := startLive(t, "")
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	const n = 50
	before := heap()
	ctx, closeAll := context.WithCancel(context.Background())
	for range n {
		if resp := h.openRaw(t, ctx, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("a stream: status %d", resp.StatusCode)
		}
	}
	each := (heap() - before) / n
	t.Logf("%d streams: %d bytes each", n, each)
	if each > 128<<10 {
		t.Errorf("an open stream costs %d bytes of heap, want under 128 KiB", each)
	}

	closeAll()
	deadline := time.Now().Add(10 * time.Second)
	for h.sim.Journal.Feeds() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the streams closed, %d are open", h.sim.Journal.Feeds())
		}
		runtime.Gosched()
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if left := heap() - before; left > 1<<20 {
		t.Errorf("the streams closed, and the heap is %d bytes above what it was before", left)
	}
}
