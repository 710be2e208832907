package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/clock"
	"github.com/acqsim/acqsim/journal"
)

// pagedJournal is an admin API whose journal holds more entries than a page,
// and the GET /journal calls it was sent.
type pagedJournal struct {
	url string
	mu  sync.Mutex
	got []url.Values // the query of each GET /journal, in order
}

// calls returns the queries of the GET /journal calls sent since the last.
func (p *pagedJournal) calls() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	got := p.got
	p.got = nil
	return got
}

// journalEntries is how many entries the paged journal holds: two full
// default pages and part of a third, so that a reader that stops at the
// first page, or at the second, is short.
const journalEntries = 2*admin.DefaultJournalLimit + 17

// servePagedJournal serves a real admin API on loopback whose journal holds
// journalEntries sales: odd seqs from TERM0001, even ones from TERM0002,
// each with its seq as its STAN, so that a table row says which entry it is.
func servePagedJournal(t *testing.T) *pagedJournal {
	t.Helper()
	j := journal.New(4 * journalEntries)
	t0 := time.Date(2026, 6, 11, 9, 0, 0, 0, time.UTC)
	for i := 1; i <= journalEntries; i++ {
		tid := "TERM0001"
		if i%2 == 0 {
			tid = "TERM0002"
		}
		if err := j.Append(journal.Entry{
			Time: t0.Add(time.Duration(i) * time.Millisecond), Conn: "127.0.0.1:40000", Dialect: "iso87ascii",
			MTI: "0200", RespMTI: "0210", Txn: "sale", Proc: "000000", STAN: fmt.Sprintf("%06d", i),
			TID: tid, MID: "898100012340001", Amount: 100, Currency: "840", RC: "00", LatencyUS: 50,
		}); err != nil {
			t.Fatal(err)
		}
	}
	api := &admin.API{Journal: j, Clock: clock.New(time.Time{}), Reset: func() {}}
	p := &pagedJournal{}
	h := api.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/journal" {
			p.mu.Lock()
			p.got = append(p.got, r.URL.Query())
			p.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// wantSeqs checks that seqs are from, from+step, ... to, in order, each once.
func wantSeqs(t *testing.T, what string, seqs []uint64, from, to, step uint64) {
	t.Helper()
	want := (to-from)/step + 1
	if uint64(len(seqs)) != want {
		t.Errorf("%s: %d entries, want %d (seqs %d to %d)", what, len(seqs), want, from, to)
	}
	for i, seq := range seqs {
		if w := from + uint64(i)*step; seq != w {
			t.Fatalf("%s: entry %d is seq %d, want %d (a page repeated, skipped or out of order)", what, i+1, seq, w)
		}
	}
}

// tableSeqs reads the seqs of a journal table's rows from their STANs, and
// checks each row's terminal.
func tableSeqs(t *testing.T, out, tid string) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, cells := range tableRows(t, out) {
		seq, err := strconv.ParseUint(cells[cellSTAN], 10, 64)
		if err != nil {
			t.Fatalf("row %q: STAN %q is not a seq", cells, cells[cellSTAN])
		}
		if tid != "" && cells[cellTID] != tid {
			t.Errorf("row of seq %d is terminal %s, want only %s", seq, cells[cellTID], tid)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// jsonSeqs wants out to be one JSON array of entries, and nothing after it,
// and returns their seqs.
func jsonSeqs(t *testing.T, out, tid string) []uint64 {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(out)))
	var es []journal.Entry
	if err := dec.Decode(&es); err != nil {
		t.Fatalf("-o json: %v; output begins %.200q", err, out)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("-o json: more after the first array (%v): one array was wanted, however many pages", err)
	}
	var seqs []uint64
	for _, e := range es {
		if tid != "" && e.TID != tid {
			t.Errorf("entry %d is terminal %s, want only %s", e.Seq, e.TID, tid)
		}
		seqs = append(seqs, e.Seq)
	}
	return seqs
}

// TestJournalPages: acqsim journal reads a journal longer than a page by
// following the host's Link rel="next" pages, keeping its filter on every
// one, and prints every entry once, in order; --limit beyond a page's most
// is refused before the host is asked.
func TestJournalPages(t *testing.T) {
	p := servePagedJournal(t)
	cli := against(p.url)
	const odd, even = "TERM0001", "TERM0002"
	lastOdd := uint64(journalEntries)
	if lastOdd%2 == 0 {
		lastOdd--
	}

	tests := []struct {
		name           string
		args           []string
		tid            string
		from, to, step uint64
		pages          int // GET /journal calls the CLI should make
	}{
		{"table", []string{"journal"}, "", 1, journalEntries, 1, 3},
		{"json", []string{"journal", "-o", "json"}, "", 1, journalEntries, 1, 3},
		{"table of one terminal", []string{"journal", "--tid", odd}, odd, 1, lastOdd, 2, 2},
		{"json of one terminal", []string{"journal", "--tid", odd, "-o", "json"}, odd, 1, lastOdd, 2, 2},
		{"json of the other", []string{"journal", "--tid", even, "-o", "json"}, even, 2, lastOdd - 1, 2, 2},
		// The latest N is one page; its Link is rel="first", not one to follow.
		{"the latest 1500", []string{"journal", "--limit", "1500"}, "", journalEntries - 1499, journalEntries, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.calls()
			code, stdout, stderr := cli(tt.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("%v: exit %d, stderr %q", tt.args, code, stderr)
			}
			var seqs []uint64
			if tt.args[len(tt.args)-1] == "json" {
				seqs = jsonSeqs(t, stdout, tt.tid)
			} else {
				seqs = tableSeqs(t, stdout, tt.tid)
			}
			wantSeqs(t, fmt.Sprint(tt.args), seqs, tt.from, tt.to, tt.step)

			// The host, not the CLI, cut the pages: a CLI that read one page
			// and stopped, or that asked for everything at once, is caught
			// here even if the counts above were to agree.
			calls := p.calls()
			if len(calls) != tt.pages {
				t.Errorf("%v: the host was sent %d GET /journal calls, want %d: %v", tt.args, len(calls), tt.pages, calls)
			}
			for i, q := range calls {
				if q.Get("tid") != tt.tid {
					t.Errorf("%v: call %d asked for tid %q, want %q: the filter must hold on every page (%v)", tt.args, i+1, q.Get("tid"), tt.tid, q)
				}
				if i > 0 && q.Get("after") == "" {
					t.Errorf("%v: call %d has no after= cursor: %v", tt.args, i+1, q)
				}
			}
		})
	}

	t.Run("limit over a page", func(t *testing.T) {
		p.calls()
		args := []string{"journal", "--limit", strconv.Itoa(admin.MaxJournalLimit + 1)}
		code, stdout, stderr := cli(args...)
		if code != 2 || stdout != "" {
			t.Errorf("%v: exit %d, output %q; want 2 and nothing", args, code, stdout)
		}
		wantOneLine(t, args, stderr, "--limit")
		if calls := p.calls(); len(calls) != 0 {
			t.Errorf("%v: the host was asked %v; a usage error asks nothing", args, calls)
		}
	})
}
