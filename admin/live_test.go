package admin_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// The tests in this file drive a whole host (acqsimtest) on loopback: real
// terminals on its ISO 8583 listener, real HTTP on its admin API, through
// admin.Client where a test reads answers rather than the wire.

const liveMID = acqsimtest.MID

// liveHost is a running host, the admin API's token ("" for none) and a
// client of the API with that token.
type liveHost struct {
	host    *acqsimtest.Host
	sim     *sim.Sim
	base    string
	token   string
	client  *admin.Client
	stopped bool
}

// startLive starts a host on loopback for the test's lifetime.
func startLive(t *testing.T, token string) *liveHost {
	t.Helper()
	return startLiveWith(t, sim.Config{AdminToken: token})
}

// startLiveWith starts a host on loopback with cfg (its addresses set by
// acqsimtest) for the test's lifetime.
func startLiveWith(t *testing.T, cfg sim.Config) *liveHost {
	t.Helper()
	host, err := acqsimtest.Start(acqsimtest.Configure(func(c *sim.Config) {
		cfg.Listen, cfg.Admin = c.Listen, c.Admin
		*c = cfg
	}))
	if err != nil {
		t.Fatal(err)
	}
	h := &liveHost{host: host, sim: host.Sim(), base: host.AdminURL(), token: cfg.AdminToken}
	h.client = &admin.Client{Base: h.base, Token: h.token}
	t.Cleanup(func() {
		if !h.stopped {
			h.shutdown(t)
		}
	})
	return h
}

// shutdown stops the host and returns how long that took.
func (h *liveHost) shutdown(t *testing.T) time.Duration {
	t.Helper()
	h.stopped = true
	start := time.Now()
	if err := h.host.Close(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	return time.Since(start)
}

// request sends a call with the given Authorization header ("" for none).
func (h *liveHost) request(t *testing.T, method, path, auth, body string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// call sends a call with the host's token and returns the status and body.
func (h *liveHost) call(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	auth := ""
	if h.token != "" {
		auth = "Bearer " + h.token
	}
	resp := h.request(t, method, path, auth, body)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// getJSON GETs path, wants 200, and decodes the body into v.
func (h *liveHost) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	status, body := h.call(t, http.MethodGet, path, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

// journal returns the entries GET /journal?query selects.
func (h *liveHost) journal(t *testing.T, query string) []journal.Entry {
	t.Helper()
	var es []journal.Entry
	h.getJSON(t, "/journal?"+query, &es)
	return es
}

// clock changes the host's clock (PUT /clock).
func (h *liveHost) clock(t *testing.T, ch admin.ClockChange) {
	t.Helper()
	if _, _, err := h.client.SetClock(t.Context(), ch); err != nil {
		t.Fatalf("PUT /clock: %v", err)
	}
}

// advance moves the host's clock on by d.
func (h *liveHost) advance(t *testing.T, d time.Duration) {
	t.Helper()
	h.clock(t, admin.ClockChange{Advance: &d})
}

// terminal connects a terminal to the host.
func (h *liveHost) terminal(t *testing.T, tid string) *terminal.Terminal {
	t.Helper()
	return h.host.Terminal(t, tid)
}

// approve returns a check that fails the test unless an exchange was
// answered 00: approve(t, "sale")(term.Sale(100)).
func approve(t *testing.T, what string) func(*terminal.Exchange, error) *terminal.Exchange {
	return func(x *terminal.Exchange, err error) *terminal.Exchange {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if rc := x.RC(); rc != txn.Approved {
			t.Fatalf("%s: RC %s, want 00", what, rc)
		}
		return x
	}
}

func seqs(es []journal.Entry) []uint64 {
	out := []uint64{}
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func TestLiveToken(t *testing.T) {
	const token = "s3cret-Token"
	h := startLive(t, token)
	routes := []struct{ method, path, body string }{
		{"GET", "/healthz", ""},
		{"GET", "/openapi.yaml", ""},
		{"GET", "/journal", ""},
		{"GET", "/journal?tid=TERM0001&limit=1", ""},
		{"GET", "/verify?tid=TERM0001&count=0", ""},
		{"GET", "/verify/sequence?tid=TERM0001&txn=signon,sale", ""},
		{"GET", "/clock", ""},
		{"PUT", "/clock", `{"advance": "0s"}`},
		{"GET", "/scenarios", ""},
		{"GET", "/settlements", ""},
		{"GET", "/batches", ""},
		{"POST", "/reset?tid=TERM0001", ""},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			for _, auth := range []string{"", "Bearer wrong", "Bearer " + token + "x", "Bearer", token, "Basic " + token} {
				resp := h.request(t, rt.method, rt.path, auth, rt.body)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("Authorization %q: status %d, want 401; body %s", auth, resp.StatusCode, body)
					continue
				}
				if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("Authorization %q: WWW-Authenticate %q, want a Bearer challenge", auth, got)
				}
				var e struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
					t.Errorf("Authorization %q: body %q, want a JSON error", auth, body)
				}
			}
			if status, body := h.call(t, rt.method, rt.path, rt.body); status != http.StatusOK {
				t.Errorf("with the token: status %d, want 200; body %s", status, body)
			}
		})
	}

	t.Run("the stream", func(t *testing.T) {
		resp := h.request(t, "GET", "/journal/stream", "", "")
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Errorf("no token: status %d, Content-Type %q; want 401 and no stream", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		resp = h.request(t, "GET", "/journal/stream", "Bearer "+token, "")
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Errorf("with the token: status %d, Content-Type %q; want 200 and a stream", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

// TestLiveJournalPages: after=SEQ&limit=N gives the first N entries after
// SEQ, so walking the pages from a cursor sees every later entry exactly
// once, even while exchanges go on arriving between pages.
func TestLiveJournalPages(t *testing.T) {
	h := startLive(t, "")
	a, b := h.terminal(t, "TERM000A"), h.terminal(t, "TERM000B")
	approve(t, "A sign-on")(a.SignOn())
	approve(t, "B sign-on")(b.SignOn())
	for i := range 4 {
		approve(t, "A sale")(a.Sale(int64(100 + i)))
		approve(t, "B sale")(b.Sale(int64(200 + i)))
	}
	all := h.journal(t, "")
	if len(all) != 10 {
		t.Fatalf("journal holds %d entries, want 10", len(all))
	}
	first := all[0].Seq // A's sign-on

	t.Run("one page", func(t *testing.T) {
		got := h.journal(t, fmt.Sprintf("after=%d&limit=3", first))
		if !slices.Equal(seqs(got), seqs(all[1:4])) {
			t.Errorf("after=%d&limit=3: seqs %v, want the first three after it %v", first, seqs(got), seqs(all[1:4]))
		}
		got = h.journal(t, fmt.Sprintf("after=%d&limit=3", all[8].Seq))
		if !slices.Equal(seqs(got), seqs(all[9:])) {
			t.Errorf("a short last page: seqs %v, want %v", seqs(got), seqs(all[9:]))
		}
		got = h.journal(t, fmt.Sprintf("after=%d", all[6].Seq))
		if !slices.Equal(seqs(got), seqs(all[7:])) {
			t.Errorf("after alone: seqs %v, want everything after it %v", seqs(got), seqs(all[7:]))
		}
	})

	// walk pages through the entries after cursor that query selects; more
	// is called after the first page.
	walk := func(t *testing.T, query string, cursor uint64, limit int, more func()) []journal.Entry {
		t.Helper()
		var out []journal.Entry
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("the walk does not end")
			}
			page := h.journal(t, fmt.Sprintf("%safter=%d&limit=%d", query, cursor, limit))
			if len(page) > limit {
				t.Fatalf("a page of %d entries, want at most %d", len(page), limit)
			}
			if len(page) == 0 {
				return out
			}
			out = append(out, page...)
			cursor = page[len(page)-1].Seq
			if pages == 0 && more != nil {
				more()
			}
		}
	}
	for _, limit := range []int{1, 2, 3, 9, 10} {
		t.Run(fmt.Sprintf("walk limit=%d", limit), func(t *testing.T) {
			got := walk(t, "", first, limit, nil)
			if !slices.Equal(seqs(got), seqs(all[1:])) {
				t.Errorf("walked seqs %v, want each entry after the first once: %v", seqs(got), seqs(all[1:]))
			}
		})
	}

	t.Run("walk one terminal while it transacts", func(t *testing.T) {
		before := h.journal(t, "tid=TERM000A")
		got := walk(t, "tid=TERM000A&", first, 2, func() {
			for i := range 3 {
				approve(t, "A sale between pages")(a.Sale(int64(300 + i)))
				approve(t, "B sale between pages")(b.Sale(int64(400 + i)))
			}
		})
		want := h.journal(t, "tid=TERM000A")
		if len(want) != len(before)+3 {
			t.Fatalf("A has %d entries after three more sales, want %d", len(want), len(before)+3)
		}
		if !slices.Equal(seqs(got), seqs(want[1:])) {
			t.Errorf("walked seqs %v, want each of A's entries after its sign-on once: %v", seqs(got), seqs(want[1:]))
		}
		for _, e := range got {
			if e.TID != "TERM000A" {
				t.Errorf("entry %d of %s in a walk of TERM000A", e.Seq, e.TID)
			}
		}
	})

	t.Run("after=0 starts at the beginning", func(t *testing.T) {
		got := h.journal(t, "after=0&limit=3")
		if !slices.Equal(seqs(got), seqs(all[:3])) {
			t.Errorf("after=0&limit=3: seqs %v, want the first three %v", seqs(got), seqs(all[:3]))
		}
	})
}

// event is one server-sent event.
type event struct {
	id, name, data string
}

// stream is an open GET /journal/stream: its events arrive on events, which
// is closed when the stream ends; err then says how.
type stream struct {
	events chan event
	done   chan struct{}
	err    error
}

// openStream opens GET /journal/stream?query and reads it in the background.
// When it returns, the host has subscribed the stream to its journal.
func (h *liveHost) openStream(t *testing.T, query string) *stream {
	t.Helper()
	resp := h.request(t, http.MethodGet, "/journal/stream?"+query, "Bearer "+h.token, "")
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET /journal/stream?%s: status %d; body %s", query, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	s := &stream{events: make(chan event, 100), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.events)
		defer resp.Body.Close()
		s.err = readEvents(resp.Body, s.events)
	}()
	t.Cleanup(func() {
		resp.Body.Close()
		<-s.done
	})
	return s
}

// readEvents parses an event stream (comments aside) until it ends.
func readEvents(r io.Reader, out chan<- event) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	var ev event
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != nil {
				ev.data = strings.Join(data, "\n")
				out <- ev
			}
			ev, data = event{}, nil
		case strings.HasPrefix(line, ":"):
		default:
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch name {
			case "id":
				ev.id = value
			case "event":
				ev.name = value
			case "data":
				data = append(data, value)
			}
		}
	}
	return sc.Err()
}

// next waits for the stream's next exchange.
func (s *stream) next(t *testing.T) journal.Entry {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatalf("the stream ended (%v), want another event", s.err)
		}
		if ev.name != "exchange" {
			t.Fatalf("event %q, want exchange", ev.name)
		}
		var e journal.Entry
		if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
			t.Fatalf("event data %q: %v", ev.data, err)
		}
		if ev.id != strconv.FormatUint(e.Seq, 10) {
			t.Errorf("event id %q, want the entry's seq %d", ev.id, e.Seq)
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
		return journal.Entry{}
	}
}

func TestLiveStream(t *testing.T) {
	h := startLive(t, "tok")
	everything := h.openStream(t, "")
	termA := h.openStream(t, "tid=TERM000A")
	salesOfB := h.openStream(t, "tid=TERM000B&txn=sale")

	a, b := h.terminal(t, "TERM000A"), h.terminal(t, "TERM000B")
	approve(t, "A sign-on")(a.SignOn())
	approve(t, "B sign-on")(b.SignOn())
	approve(t, "A sale")(a.Sale(1111))
	approve(t, "B sale")(b.Sale(2222))
	approve(t, "A second sale")(a.Sale(3333))

	journalled := h.journal(t, "")
	if len(journalled) != 5 {
		t.Fatalf("journal holds %d entries, want 5", len(journalled))
	}
	var got []journal.Entry
	for range journalled {
		got = append(got, everything.next(t))
	}
	if !slices.Equal(seqs(got), seqs(journalled)) {
		t.Errorf("unfiltered stream: seqs %v, want the journal's, in order: %v", seqs(got), seqs(journalled))
	}
	for i, e := range got {
		if e.TID != journalled[i].TID || e.Txn != journalled[i].Txn || e.Amount != journalled[i].Amount || e.RC != journalled[i].RC {
			t.Errorf("streamed %+v, journalled %+v", e, journalled[i])
		}
		if e.PAN != "" && strings.Contains(e.PAN, terminal.DefaultCard.PAN) {
			t.Errorf("streamed entry %d carries the clear PAN %s", e.Seq, e.PAN)
		}
	}

	type brief struct {
		tid, txn string
		amount   int64
	}
	for _, tc := range []struct {
		name string
		s    *stream
		want []brief
	}{
		{"tid=TERM000A", termA, []brief{{"TERM000A", "signon", 0}, {"TERM000A", "sale", 1111}, {"TERM000A", "sale", 3333}}},
		{"tid=TERM000B&txn=sale", salesOfB, []brief{{"TERM000B", "sale", 2222}}},
	} {
		var last uint64
		for i, want := range tc.want {
			e := tc.s.next(t)
			if got := (brief{e.TID, e.Txn, e.Amount}); got != want {
				t.Errorf("%s: event %d is %+v, want %+v", tc.name, i, got, want)
			}
			if e.Seq <= last {
				t.Errorf("%s: seq %d after %d, want increasing", tc.name, e.Seq, last)
			}
			last = e.Seq
		}
	}

	// Shutdown ends every stream, promptly: a stream is no in-flight call
	// to wait for.
	a.Close()
	b.Close()
	if took := h.shutdown(t); took > 5*time.Second {
		t.Errorf("Shutdown took %v with three streams open, want it prompt", took)
	}
	for name, s := range map[string]*stream{"unfiltered": everything, "tid=TERM000A": termA, "tid=TERM000B&txn=sale": salesOfB} {
		select {
		case <-s.done:
			for ev := range s.events {
				t.Errorf("%s: unexpected event after the last exchange: %+v", name, ev)
			}
			if s.err != nil {
				t.Errorf("%s: the stream ended with %v, want a clean end", name, s.err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: the stream is still open 10 s after Shutdown returned", name)
		}
	}
}

func TestLiveVerify(t *testing.T) {
	h := startLive(t, "")
	// A frozen clock, moved by hand, makes every delay exact.
	start, frozen := time.Date(2026, 6, 11, 10, 0, 0, 0, time.UTC), true
	h.clock(t, admin.ClockChange{Now: &start, Freeze: &frozen})
	term := h.terminal(t, "TERM0001")
	approve(t, "sign-on")(term.SignOn())

	sale := approve(t, "sale")(term.Sale(1000))
	saleSTAN := sale.Get(11)
	h.advance(t, 1500*time.Millisecond)
	approve(t, "reversal")(term.Reverse(saleSTAN, 0, "98", false))

	h.advance(t, time.Second)
	second := approve(t, "second sale")(term.Sale(2000))
	h.advance(t, 2500*time.Millisecond)
	// An approved void is answered with an RRN of its own, not its sale's.
	approve(t, "void")(term.Void(term.Last(txn.Sale)))

	h.advance(t, time.Second)
	advice := approve(t, "advice")(term.Advice(700))
	h.advance(t, 750*time.Millisecond)
	term.Repeat(advice) // answered or not, it is journalled

	find := func(stan, mti string) journal.Entry {
		t.Helper()
		es := h.journal(t, "tid=TERM0001&stan="+stan+"&mti="+mti)
		if len(es) != 1 {
			t.Fatalf("%d journal entries of %s with STAN %s, want 1", len(es), mti, stan)
		}
		return es[0]
	}
	saleEntry := find(saleSTAN, "0200")
	secondEntry := find(second.Get(11), "0200")
	adviceEntry := find(advice.Get(11), "0220")

	ms := func(n int64) *int64 { return &n }
	n := func(n int) *int { return &n }
	type orig struct {
		seq uint64
		ms  *int64
	}
	term1 := func(f journal.Filter) journal.Filter { f.TID = "TERM0001"; return f }
	tests := []struct {
		filter   journal.Filter
		want     admin.Want
		ok       bool
		count    int
		expected string
		origins  []orig // per entry, when checked
	}{
		{term1(journal.Filter{Txn: "reversal"}), admin.Exactly(1), true, 1, "exactly 1", []orig{{saleEntry.Seq, ms(1500)}}},
		{term1(journal.Filter{STAN: saleSTAN}), admin.Want{}, true, 2, "", []orig{{0, nil}, {saleEntry.Seq, ms(1500)}}},
		{term1(journal.Filter{Txn: "reversal"}), admin.Exactly(0), false, 1, "exactly 0", nil},
		{term1(journal.Filter{Txn: "reversal"}), admin.Exactly(2), false, 1, "exactly 2", nil},
		{term1(journal.Filter{Txn: "sale"}), admin.Want{Min: n(2), Max: n(2)}, true, 2, "at least 2 and at most 2", []orig{{0, nil}, {0, nil}}},
		{term1(journal.Filter{Txn: "sale"}), admin.Want{Min: n(3)}, false, 2, "at least 3", nil},
		{term1(journal.Filter{Txn: "sale"}), admin.Want{Max: n(1)}, false, 2, "at most 1", nil},
		{term1(journal.Filter{Txn: "sale"}), admin.Want{Min: n(0)}, true, 2, "at least 0", nil},
		{term1(journal.Filter{Txn: "void"}), admin.Exactly(1), true, 1, "exactly 1", []orig{{secondEntry.Seq, ms(2500)}}},
		{term1(journal.Filter{MTI: "0221"}), admin.Exactly(1), true, 1, "exactly 1", []orig{{adviceEntry.Seq, ms(750)}}},
		{term1(journal.Filter{RC: "96"}), admin.Exactly(0), true, 0, "exactly 0", nil},
		{journal.Filter{TID: "NOSUCHTM"}, admin.Want{Min: n(1)}, false, 0, "at least 1", nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v %s", tt.filter, tt.expected), func(t *testing.T) {
			got := h.verify(t, tt.filter, tt.want)
			if got.OK != tt.ok || got.Count != tt.count || got.Expected != tt.expected {
				t.Errorf("ok %v, count %d, expected %q; want %v, %d, %q", got.OK, got.Count, got.Expected, tt.ok, tt.count, tt.expected)
			}
			if got.Entries == nil || len(got.Entries) != got.Count {
				t.Errorf("%d entries for a count of %d", len(got.Entries), got.Count)
			}
			for i, want := range tt.origins {
				if i >= len(got.Entries) {
					break
				}
				e := got.Entries[i]
				switch {
				case want.ms == nil && (e.AfterOriginalMS != nil || e.OriginalSeq != 0):
					t.Errorf("entry %d (%s %s): original %d, after_original_ms %s; want none", i, e.MTI, e.Txn, e.OriginalSeq, msOf(e.AfterOriginalMS))
				case want.ms != nil && (e.AfterOriginalMS == nil || *e.AfterOriginalMS != *want.ms || e.OriginalSeq != want.seq):
					t.Errorf("entry %d (%s %s): original %d, after_original_ms %s; want %d, %d", i, e.MTI, e.Txn, e.OriginalSeq, msOf(e.AfterOriginalMS), want.seq, *want.ms)
				}
			}
		})
	}

	// A void the host refuses keeps the RRN it named: its sale's.
	t.Run("a refused void", func(t *testing.T) {
		if _, _, err := h.client.Bind(t.Context(), "TERM0002", admin.ScenarioRef{Name: "void-disabled"}); err != nil {
			t.Fatalf("binding void-disabled: %v", err)
		}
		other := h.terminal(t, "TERM0002")
		approve(t, "TERM0002 sign-on")(other.SignOn())
		sale := approve(t, "TERM0002 sale")(other.Sale(500))
		h.advance(t, 2*time.Second)
		if x, err := other.Void(other.Last(txn.Sale)); err != nil || x.RC() == txn.Approved {
			t.Fatalf("void under void-disabled: %v, want it refused", err)
		}
		got := h.verify(t, journal.Filter{TID: "TERM0002", Txn: "void"}, admin.Exactly(1))
		saleSeq := h.journal(t, "tid=TERM0002&rrn="+sale.Get(37)+"&txn=sale")[0].Seq
		if len(got.Entries) != 1 || got.Entries[0].OriginalSeq != saleSeq || msOf(got.Entries[0].AfterOriginalMS) != "2000" {
			t.Errorf("the refused void: %+v; want its sale %d, 2000 ms before", got.Entries, saleSeq)
		}
	})

	// A terminal the host was told to forget starts its trace numbers again:
	// its reversal's original is its new sale, not the old one with the same
	// STAN.
	t.Run("a STAN used again after a reset", func(t *testing.T) {
		h.advance(t, time.Minute)
		if _, err := h.client.Reset(t.Context(), "TERM0001"); err != nil {
			t.Fatalf("POST /reset?tid=: %v", err)
		}
		again := h.terminal(t, "TERM0001")
		approve(t, "sign-on again")(again.SignOn())
		sale := approve(t, "sale again")(again.Sale(1000))
		if sale.Get(11) != saleSTAN {
			t.Fatalf("the new sale has STAN %s, want the old one's %s again", sale.Get(11), saleSTAN)
		}
		h.advance(t, 4*time.Second)
		approve(t, "reversal again")(again.Reverse(saleSTAN, 0, "98", false))
		newSale := h.journal(t, "tid=TERM0001&txn=sale&stan="+saleSTAN)
		got := h.verify(t, journal.Filter{TID: "TERM0001", Txn: "reversal"}, admin.Exactly(2))
		if !got.OK || len(got.Entries) != 2 {
			t.Fatalf("ok %v with %d reversals, want 2", got.OK, len(got.Entries))
		}
		e := got.Entries[1]
		if e.OriginalSeq != newSale[len(newSale)-1].Seq || e.AfterOriginalMS == nil || *e.AfterOriginalMS != 4000 {
			t.Errorf("the second reversal: original %d, after_original_ms %s; want the new sale %d, 4000", e.OriginalSeq, msOf(e.AfterOriginalMS), newSale[len(newSale)-1].Seq)
		}
	})
}

func msOf(p *int64) string {
	if p == nil {
		return "absent"
	}
	return strconv.FormatInt(*p, 10)
}

// verify asks GET /verify through the client.
func (h *liveHost) verify(t *testing.T, f journal.Filter, want admin.Want) admin.Verified {
	t.Helper()
	v, _, err := h.client.Verify(t.Context(), f, want)
	if err != nil {
		t.Fatalf("GET /verify: %v", err)
	}
	return v
}

// sequence asks GET /verify/sequence through the client.
func (h *liveHost) sequence(t *testing.T, tid string, kinds ...string) admin.Sequence {
	t.Helper()
	s, _, err := h.client.VerifySequence(t.Context(), tid, kinds)
	if err != nil {
		t.Fatalf("GET /verify/sequence: %v", err)
	}
	return s
}

func TestLiveVerifySequence(t *testing.T) {
	h := startLive(t, "")
	first, late, never := h.terminal(t, "SIGNEDON"), h.terminal(t, "LATESIGN"), h.terminal(t, "NOSIGNON")
	first.SignOn()
	first.Sale(100)
	first.Sale(200)
	late.Sale(100) // declined or not, it came first
	late.SignOn()
	late.Sale(200)
	never.Sale(100)

	tests := []struct {
		tid   string
		kinds []string
		ok    bool
		found []bool // per step: whether the terminal had one
		at    int    // the step Break names, -1 for none
	}{
		{"SIGNEDON", []string{"signon", "sale"}, true, []bool{true, true}, -1},
		{"LATESIGN", []string{"signon", "sale"}, false, []bool{true, true}, 1},
		{"LATESIGN", []string{"sale", "signon"}, true, []bool{true, true}, -1},
		{"NOSIGNON", []string{"signon", "sale"}, false, []bool{false, true}, 0},
		{"SIGNEDON", []string{"signon", "sale", "settlement"}, false, []bool{true, true, false}, 2},
		{"NOSUCHTM", []string{"signon", "sale"}, false, []bool{false, false}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.tid+" "+strings.Join(tt.kinds, ","), func(t *testing.T) {
			got := h.sequence(t, tt.tid, tt.kinds...)
			if at, _ := got.Break(); at != tt.at {
				t.Errorf("Break at step %d, want %d (steps %+v)", at, tt.at, got.Steps)
			}
			if got.OK != tt.ok {
				t.Errorf("ok %v, want %v (steps %+v)", got.OK, tt.ok, got.Steps)
			}
			if len(got.Steps) != len(tt.found) {
				t.Fatalf("%d steps, want %d", len(got.Steps), len(tt.found))
			}
			for i, s := range got.Steps {
				if (s.Seq != 0) != tt.found[i] || (s.Time != nil) != tt.found[i] {
					t.Errorf("step %d (%s): seq %d, time %v; want found=%v", i, s.Txn, s.Seq, s.Time, tt.found[i])
				}
			}
		})
	}
	// The steps name the terminal's first exchange of each kind.
	got := h.sequence(t, "SIGNEDON", "signon", "sale")
	sales := h.journal(t, "tid=SIGNEDON&txn=sale")
	if len(got.Steps) == 2 && got.Steps[1].Seq != sales[0].Seq {
		t.Errorf("sale step seq %d, want the first sale's %d", got.Steps[1].Seq, sales[0].Seq)
	}
}

func TestLiveVerifyBadParams(t *testing.T) {
	h := startLive(t, "")
	for _, path := range []string{
		"/verify?count=-1",
		"/verify?count=one",
		"/verify?min=1.5",
		"/verify?max=-2",
		"/verify?tid=TERM0001&min=1&max=x",
		"/verify?since=yesterday",
		"/verify?after=abc",
		"/verify?limit=-1",
		"/verify/sequence",
		"/verify/sequence?tid=TERM0001",
		"/verify/sequence?txn=signon,sale",
		"/verify/sequence?tid=TERM0001&txn=signon",
		"/verify/sequence?tid=TERM0001&txn=signon,",
		"/verify/sequence?tid=TERM0001&txn=,sale",
		"/verify/sequence?tid=TERM0001&txn=signon,,sale",
		"/journal/stream?since=yesterday",
		"/journal/stream?limit=x",
	} {
		t.Run(path, func(t *testing.T) {
			status, body := h.call(t, http.MethodGet, path, "")
			var e struct {
				Error string `json:"error"`
			}
			if status != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Errorf("status %d, body %s; want 400 with a JSON error", status, body)
			}
		})
	}
}

func TestBearerScheme(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer s3cret": "s3cret", "bearer s3cret": "s3cret", "BEARER  s3cret ": "s3cret",
		"Basic s3cret": "", "s3cret": "", "": "",
	} {
		if got := admin.Bearer(in); got != want {
			t.Errorf("bearer(%q) = %q, want %q", in, got, want)
		}
	}
}
