package journal_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acqsim/acqsim/journal"
)

var t0 = time.Date(2026, 6, 11, 22, 59, 0, 0, time.UTC)

// sample is a small day's traffic from two terminals; entry i is at t0 + i
// minutes, so its Seq in a fresh journal is i+1.
func sample() []journal.Entry {
	return []journal.Entry{
		{MTI: "0800", Txn: "signon", STAN: "000001", TID: "10000001", MID: "898310048990001", RC: "00"},
		{MTI: "0200", Txn: "sale", STAN: "000002", TID: "10000001", MID: "898310048990001", RRN: "000000000001", RC: "00", Amount: 1000},
		{MTI: "0200", Txn: "sale", STAN: "000002", TID: "10000002", MID: "898310048990002", RRN: "000000000002", RC: "51", Amount: 2000},
		{MTI: "0400", Txn: "reversal", STAN: "000002", TID: "10000001", MID: "898310048990001", RC: "00", Amount: 1000},
		{MTI: "0200", Txn: "void", STAN: "000003", TID: "10000002", MID: "898310048990002", RRN: "000000000003", RC: "25"},
		{MTI: "0500", Txn: "settlement", STAN: "000004", TID: "10000001", MID: "898310048990001", RC: "95"},
	}
}

func fill(j *journal.Journal, entries []journal.Entry) {
	for i, e := range entries {
		e.Time = t0.Add(time.Duration(i) * time.Minute)
		j.Append(e)
	}
}

func seqs(entries []journal.Entry) []uint64 {
	out := []uint64{}
	for _, e := range entries {
		out = append(out, e.Seq)
	}
	return out
}

func TestQuery(t *testing.T) {
	minute := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	tests := []struct {
		name   string
		filter journal.Filter
		want   []uint64
	}{
		{"everything", journal.Filter{}, []uint64{1, 2, 3, 4, 5, 6}},
		{"TID", journal.Filter{TID: "10000002"}, []uint64{3, 5}},
		{"MID", journal.Filter{MID: "898310048990001"}, []uint64{1, 2, 4, 6}},
		{"STAN", journal.Filter{STAN: "000002"}, []uint64{2, 3, 4}},
		{"RRN", journal.Filter{RRN: "000000000003"}, []uint64{5}},
		{"MTI", journal.Filter{MTI: "0200"}, []uint64{2, 3, 5}},
		{"Txn", journal.Filter{Txn: "reversal"}, []uint64{4}},
		{"RC", journal.Filter{RC: "00"}, []uint64{1, 2, 4}},
		{"Since is inclusive", journal.Filter{Since: minute(4)}, []uint64{5, 6}},
		{"Until is exclusive", journal.Filter{Until: minute(2)}, []uint64{1, 2}},
		{"Since and Until", journal.Filter{Since: minute(1), Until: minute(3)}, []uint64{2, 3}},
		{"Since in another zone", journal.Filter{Since: minute(5).In(time.FixedZone("CST", 8*3600))}, []uint64{6}},
		{"Since after everything", journal.Filter{Since: minute(6)}, []uint64{}},
		{"Until before everything", journal.Filter{Until: minute(0)}, []uint64{}},
		{"fields together", journal.Filter{TID: "10000001", STAN: "000002", MTI: "0200"}, []uint64{2}},
		{"fields that never meet", journal.Filter{TID: "10000002", Txn: "settlement"}, []uint64{}},
		{"no such value", journal.Filter{STAN: "999999"}, []uint64{}},
		{"values are exact, not prefixes", journal.Filter{TID: "1000000"}, []uint64{}},
		{"Limit keeps the latest", journal.Filter{Limit: 2}, []uint64{5, 6}},
		{"Limit of one", journal.Filter{Limit: 1}, []uint64{6}},
		{"Limit above the count", journal.Filter{Limit: 100}, []uint64{1, 2, 3, 4, 5, 6}},
		{"Limit applies after the filter", journal.Filter{MTI: "0200", Limit: 2}, []uint64{3, 5}},
		{"Limit with a time bound", journal.Filter{Until: minute(4), Limit: 3}, []uint64{2, 3, 4}},
	}
	j := journal.New(0)
	fill(j, sample())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := j.Query(tt.filter)
			if got == nil {
				t.Fatal("Query returned nil, want an empty slice at least")
			}
			if !slices.Equal(seqs(got), tt.want) {
				t.Errorf("Query(%+v) = seqs %v, want %v", tt.filter, seqs(got), tt.want)
			}
			for _, e := range got {
				if !e.Time.Equal(t0.Add(time.Duration(e.Seq-1) * time.Minute)) {
					t.Errorf("entry %d has time %v, not the one it was appended with", e.Seq, e.Time)
				}
			}
		})
	}
}

func TestAppendKeepsContent(t *testing.T) {
	j := journal.New(10)
	in := journal.Entry{
		Seq: 99, Time: t0, Conn: "127.0.0.1:5000", Dialect: "cup", MTI: "0200", RespMTI: "0210",
		Txn: "sale", Proc: "000000", STAN: "000123", RRN: "000000000042", TID: "10000001",
		MID: "898310048990001", Amount: 1234, Currency: "156", PAN: "622202******0123", RC: "00",
		LatencyUS: 850, Decision: "approved", Error: "",
	}
	j.Append(in)
	got := j.Query(journal.Filter{})
	if len(got) != 1 {
		t.Fatalf("%d entries, want 1", len(got))
	}
	want := in
	want.Seq = 1 // the journal numbers entries; what the caller set is ignored
	if got[0] != want {
		t.Errorf("got  %+v\nwant %+v", got[0], want)
	}

	// What Query returns is a copy.
	got[0].RC = "96"
	if again := j.Query(journal.Filter{}); again[0].RC != "00" {
		t.Errorf("changing a queried entry changed the journal: RC %q", again[0].RC)
	}
}

func TestEmptyJournal(t *testing.T) {
	for _, f := range []journal.Filter{{}, {Limit: 3}, {TID: "10000001"}} {
		got := journal.New(5).Query(f)
		if got == nil || len(got) != 0 {
			t.Errorf("Query(%+v) on an empty journal = %#v, want an empty, non-nil slice", f, got)
		}
	}
}

func TestRing(t *testing.T) {
	tests := []struct {
		capacity, appended int
	}{
		{3, 2},
		{3, 3},
		{3, 4},
		{3, 7},
		{3, 9},
		{1, 5},
		{5, 23},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("capacity %d, %d appended", tt.capacity, tt.appended), func(t *testing.T) {
			j := journal.New(tt.capacity)
			for i := 1; i <= tt.appended; i++ {
				j.Append(journal.Entry{STAN: fmt.Sprintf("%06d", i), Time: t0.Add(time.Duration(i) * time.Second)})
			}
			kept := min(tt.capacity, tt.appended)
			var want []uint64
			for s := tt.appended - kept + 1; s <= tt.appended; s++ {
				want = append(want, uint64(s))
			}
			got := j.Query(journal.Filter{})
			if !slices.Equal(seqs(got), want) {
				t.Fatalf("kept seqs %v, want %v: the latest, oldest first", seqs(got), want)
			}
			for _, e := range got {
				if e.STAN != fmt.Sprintf("%06d", e.Seq) {
					t.Errorf("entry %d has STAN %s: entries and numbers got out of step", e.Seq, e.STAN)
				}
			}
			// Limit and filters work on the ring as they do on a slice.
			if kept >= 2 {
				if got := j.Query(journal.Filter{Limit: 2}); !slices.Equal(seqs(got), want[len(want)-2:]) {
					t.Errorf("Limit 2 gave %v, want %v", seqs(got), want[len(want)-2:])
				}
				oldest := want[0]
				if got := j.Query(journal.Filter{STAN: fmt.Sprintf("%06d", oldest)}); !slices.Equal(seqs(got), []uint64{oldest}) {
					t.Errorf("STAN of the oldest kept entry gave %v, want [%d]", seqs(got), oldest)
				}
			}
			if tt.appended > tt.capacity {
				if got := j.Query(journal.Filter{STAN: "000001"}); len(got) != 0 {
					t.Errorf("the first entry is still there after %d more than capacity", tt.appended-tt.capacity)
				}
			}
			// Get finds what the ring holds, and nothing else.
			for seq := uint64(0); seq <= uint64(tt.appended)+1; seq++ {
				e, ok := j.Get(seq)
				if held := slices.Contains(want, seq); ok != held || ok && e.Seq != seq {
					t.Errorf("Get(%d) = entry %d, %v; want found %v", seq, e.Seq, ok, held)
				}
			}
		})
	}
}

func TestDefaultCapacity(t *testing.T) {
	j := journal.New(0)
	for i := 0; i < journal.DefaultCapacity+1; i++ {
		j.Append(journal.Entry{})
	}
	got := j.Query(journal.Filter{})
	if len(got) != journal.DefaultCapacity {
		t.Fatalf("New(0) kept %d entries, want %d", len(got), journal.DefaultCapacity)
	}
	if got[0].Seq != 2 || got[len(got)-1].Seq != uint64(journal.DefaultCapacity+1) {
		t.Errorf("New(0) kept seqs %d..%d, want 2..%d", got[0].Seq, got[len(got)-1].Seq, journal.DefaultCapacity+1)
	}

	// A negative capacity is the default too, not a journal that keeps nothing.
	j = journal.New(-1)
	for i := 0; i < 100; i++ {
		j.Append(journal.Entry{})
	}
	if got := j.Query(journal.Filter{}); len(got) != 100 {
		t.Errorf("New(-1) kept %d of 100 entries", len(got))
	}
}

func TestReset(t *testing.T) {
	tests := []struct {
		name             string
		capacity         int
		before, after    int
		wantAfterRestart []uint64
	}{
		{"journal not yet full", 10, 4, 3, []uint64{5, 6, 7}},
		{"wrapped ring", 3, 5, 2, []uint64{6, 7}},
		{"wrapped ring, wrapped again", 3, 5, 5, []uint64{8, 9, 10}},
		{"nothing before", 3, 0, 2, []uint64{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := journal.New(tt.capacity)
			for i := 0; i < tt.before; i++ {
				j.Append(journal.Entry{STAN: "before"})
			}
			j.Reset()
			if got := j.Query(journal.Filter{}); len(got) != 0 {
				t.Fatalf("after Reset the journal has %d entries", len(got))
			}
			for i := 0; i < tt.after; i++ {
				j.Append(journal.Entry{STAN: "after"})
			}
			got := j.Query(journal.Filter{})
			if !slices.Equal(seqs(got), tt.wantAfterRestart) {
				t.Errorf("after Reset and %d appends: seqs %v, want %v (numbering goes on, oldest first)",
					tt.after, seqs(got), tt.wantAfterRestart)
			}
			for _, e := range got {
				if e.STAN != "after" {
					t.Errorf("entry %d was appended before Reset", e.Seq)
				}
			}
		})
	}
}

// Run with -race.
func TestConcurrentAppend(t *testing.T) {
	const writers, each = 8, 200
	j := journal.New(writers * each)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				j.Append(journal.Entry{TID: fmt.Sprintf("T%07d", w), STAN: fmt.Sprintf("%06d", i)})
			}
		}()
	}
	// A reader at the same time.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			got := j.Query(journal.Filter{Limit: 10})
			for k := 1; k < len(got); k++ {
				if got[k].Seq <= got[k-1].Seq {
					t.Errorf("a query during appends is out of order: %d after %d", got[k].Seq, got[k-1].Seq)
					return
				}
			}
		}
	}()
	wg.Wait()

	got := j.Query(journal.Filter{})
	if len(got) != writers*each {
		t.Fatalf("%d entries, want %d", len(got), writers*each)
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has Seq %d, want %d: numbers are unique and in order", i, e.Seq, i+1)
		}
	}
	// Each writer's entries are all there, in the order it wrote them.
	for w := 0; w < writers; w++ {
		mine := j.Query(journal.Filter{TID: fmt.Sprintf("T%07d", w)})
		if len(mine) != each {
			t.Fatalf("writer %d: %d entries, want %d", w, len(mine), each)
		}
		for i, e := range mine {
			if e.STAN != fmt.Sprintf("%06d", i) {
				t.Errorf("writer %d: entry %d has STAN %s", w, i, e.STAN)
				break
			}
		}
	}
}

func TestSubscribeAndObserve(t *testing.T) {
	j := journal.New(10)
	var observed []string
	j.Observe(func(e journal.Entry) { observed = append(observed, e.STAN) })
	entries, cancel := j.Subscribe(2)
	j.Append(journal.Entry{STAN: "000001", Replay: "secret"})
	j.Append(journal.Entry{STAN: "000002"})
	j.Append(journal.Entry{STAN: "000003"}) // the buffer holds two: this one is missed
	if got := (<-entries).STAN + (<-entries).STAN; got != "000001000002" {
		t.Fatalf("subscriber got %s, want 000001 then 000002", got)
	}
	if len(observed) != 3 {
		t.Fatalf("observer saw %v, want all three", observed)
	}
	cancel()
	if _, open := <-entries; open {
		t.Fatal("the channel is open after cancel")
	}
	cancel() // twice is harmless
	j.Append(journal.Entry{STAN: "000004"})
}

// TestFramesStayInMemory: the frames kept for the detail view hold card data
// in clear, so only Get returns them: not Query, not a subscriber, not an
// observer, not the exported form, not the journal file.
func TestFramesStayInMemory(t *testing.T) {
	const req, resp = "0200...4761739001010010...", "0210...4761739001010010..."
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.Open(path, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	var observed []journal.Entry
	j.Observe(func(e journal.Entry) { observed = append(observed, e) })
	sub, cancel := j.Subscribe(4)
	defer cancel()
	j.Append(journal.Entry{STAN: "000001"})
	if err := j.Append(journal.Entry{STAN: "000002", PAN: "476173******0010", Request: req, Response: resp}); err != nil {
		t.Fatal(err)
	}

	e, ok := j.Get(2)
	if !ok || e.Request != req || e.Response != resp || e.STAN != "000002" {
		t.Fatalf("Get(2) = %+v, %v; want the entry with its frames", e, ok)
	}
	if out, err := json.Marshal(e); err != nil || strings.Contains(string(out), "4761739001010010") {
		t.Errorf("the exported form holds the frames: %s %v", out, err)
	}
	<-sub
	for what, e := range map[string]journal.Entry{
		"Query": j.Query(journal.Filter{STAN: "000002"})[0], "a subscriber": <-sub, "an observer": observed[1],
	} {
		if e.STAN != "000002" || e.Request != "" || e.Response != "" {
			t.Errorf("%s got %+v; want the entry without its frames", what, e)
		}
	}

	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(path + "*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no journal file: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("4761739001010010")) {
			t.Errorf("%s holds the frames' clear card number", f)
		}
	}

	// Read back from the file, the entry has no frames to show.
	j, err = journal.Open(path, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if e, ok := j.Get(2); !ok || e.STAN != "000002" || e.Request != "" || e.Response != "" {
		t.Errorf("after reopening, Get(2) = %+v, %v; want the entry without frames", e, ok)
	}
}

// Entries appended at once share commits, inserted many rows a statement
// (64, 8, then one at a time): every one of them is in the file, whole, in
// order, with its replay event.
func TestConcurrentAppendsAllReachTheFile(t *testing.T) {
	const n = 333
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.Open(path, n, false)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stan := fmt.Sprintf("%06d", i)
			if err := j.Append(journal.Entry{STAN: stan, TID: "T" + stan, Amount: int64(i), Replay: `{"stan":"` + stan + `"}`}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j, err = journal.Open(path, n, false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	got := j.Query(journal.Filter{})
	if len(got) != n {
		t.Fatalf("%d entries read back, want %d", len(got), n)
	}
	events, err := j.Events()
	if err != nil || len(events) != n {
		t.Fatalf("%d replay events read back (%v), want %d", len(events), err, n)
	}
	for k, e := range got {
		if e.Seq != uint64(k+1) || e.TID != "T"+e.STAN || fmt.Sprintf("%06d", e.Amount) != e.STAN {
			t.Errorf("entry %d read back as %+v", k, e)
		}
		if want := `{"stan":"` + e.STAN + `"}`; string(events[k]) != want {
			t.Errorf("replay event %d is %s, want %s", k, events[k], want)
		}
	}
}
