package journal

import (
	"fmt"
	"testing"
	"time"
)

// TestQueryHoldsUpNoAppend: a query reads outside the lock, so that an
// exchange is journalled while the biggest query is under way. The query is
// held where it reads (queryHook) until the appends are done; before the
// snapshot, Query read under the lock and the first Append waited for it.
func TestQueryHoldsUpNoAppend(t *testing.T) {
	j := New(3000) // three segments and a bit: the appends drop one
	for i := 1; i <= 3000; i++ {
		j.Append(Entry{STAN: fmt.Sprintf("%06d", i)})
	}
	reading, release := make(chan struct{}), make(chan struct{})
	queryHook = func() {
		close(reading)
		<-release
	}
	defer func() { queryHook = nil }()
	result := make(chan []Entry)
	go func() { result <- j.Query(Filter{}) }()
	<-reading

	appended := make(chan struct{})
	go func() {
		defer close(appended)
		for i := 3001; i <= 5000; i++ {
			j.Append(Entry{STAN: fmt.Sprintf("%06d", i)})
		}
	}()
	// A generous bound: the appends either go through at once or wait for
	// the query, which waits for this test.
	select {
	case <-appended:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("Append waited for a query: 2,000 appends not done in 10 s while a query was reading")
	}
	close(release)

	// The query read what the journal held when it began, untouched by
	// the appends that went on meanwhile (they dropped two of its segments
	// from the journal and wrote new ones).
	got := <-result
	if len(got) != 3000 || got[0].Seq != 1 || got[2999].Seq != 3000 {
		t.Fatalf("the held query returned %d entries, seqs %d..%d; want 1..3000", len(got), got[0].Seq, got[len(got)-1].Seq)
	}
	for _, e := range got {
		if e.STAN != fmt.Sprintf("%06d", e.Seq) {
			t.Fatalf("entry %d came back with STAN %s: a slot was written under the query", e.Seq, e.STAN)
		}
	}
	queryHook = nil
	if now := j.Query(Filter{}); len(now) != 3000 || now[0].Seq != 2001 || now[2999].Seq != 5000 {
		t.Errorf("after the appends the journal holds %d entries, %d..%d; want 2001..5000", len(now), now[0].Seq, now[len(now)-1].Seq)
	}
}

// A segment a query was reading when it was dropped is not reused: its
// reader may still be in it. The next one is new, and a later one, dropped
// while no query read it, is reused again.
func TestSegmentInUseIsNotReused(t *testing.T) {
	j := New(4)
	for range 8 {
		j.Append(Entry{})
	}
	j.mu.Lock()
	v := j.view()
	first := v.segs[0]
	j.mu.Unlock()
	for range 8 {
		j.Append(Entry{})
	}
	for _, s := range j.held.segs {
		if s == first {
			t.Fatal("a segment a query holds is in the ring again")
		}
	}
	if j.spare == first {
		t.Fatal("a segment a query holds is the spare")
	}
	v.release()
	if n := testingAllocs(j); n != 0 {
		t.Errorf("once no query reads, Append allocates %.0f times, want 0", n)
	}
}

func testingAllocs(j *Journal) float64 {
	e := Entry{MTI: "0200", STAN: "000001", Decision: "approved"}
	return testing.AllocsPerRun(100, func() { j.Append(e) })
}
