package journal_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/acqsim/acqsim/journal"
)

// A feed gets what its filter selects, in order and without the frames; one
// entry more than its buffer holds ends it, and it says it was dropped.
func TestFeedDropsASlowReader(t *testing.T) {
	j := journal.New(100)
	j.Append(journal.Entry{STAN: "000000"})
	fd, err := j.Follow(journal.Filter{TID: "T1"}, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fd.Since() != 1 {
		t.Errorf("Since %d, want 1: the last entry before the feed", fd.Since())
	}
	for i := 1; i <= 8; i++ {
		tid := "T1"
		if i%2 == 0 {
			tid = "T2" // not selected: does not fill the buffer
		}
		j.Append(journal.Entry{TID: tid, STAN: fmt.Sprintf("%06d", i), Request: "0200 clear", Response: "0210 clear"})
	}
	var got []uint64
	for e := range fd.Entries() {
		if e.TID != "T1" || e.Request != "" || e.Response != "" {
			t.Errorf("fed %+v: want T1's entries without frames", *e)
		}
		got = append(got, e.Seq)
	}
	// T1's appends were entries 2, 4, 6, 8: three fit, the fourth dropped the feed.
	if fmt.Sprint(got) != "[2 4 6]" {
		t.Errorf("fed seqs %v, want [2 4 6]", got)
	}
	if !fd.Dropped() {
		t.Error("the feed ended without saying it was dropped")
	}
	if j.Feeds() != 0 {
		t.Errorf("%d feeds open after the drop, want 0", j.Feeds())
	}
	fd.Close() // harmless after a drop
	j.Append(journal.Entry{TID: "T1"})
}

// Closing a feed is not a drop, and frees its place among the max.
func TestFeedMax(t *testing.T) {
	j := journal.New(10)
	var feeds []*journal.Feed
	for range 3 {
		fd, err := j.Follow(journal.Filter{}, 4, 3)
		if err != nil {
			t.Fatal(err)
		}
		feeds = append(feeds, fd)
	}
	if _, err := j.Follow(journal.Filter{}, 4, 3); !errors.Is(err, journal.ErrTooManyFeeds) {
		t.Fatalf("a fourth feed of three: %v, want ErrTooManyFeeds", err)
	}
	if _, err := j.Follow(journal.Filter{}, 4, 0); err != nil {
		t.Errorf("with no max: %v", err)
	}
	feeds[0].Close()
	feeds[0].Close()
	if _, open := <-feeds[0].Entries(); open || feeds[0].Dropped() {
		t.Errorf("a closed feed: open %v, dropped %v; want closed, not dropped", open, feeds[0].Dropped())
	}
	if _, err := j.Follow(journal.Filter{}, 4, 4); err != nil {
		t.Errorf("after one closed: %v", err)
	}
	// Every open feed gets an entry, the same one.
	j.Append(journal.Entry{STAN: "000001"})
	e1, e2 := <-feeds[1].Entries(), <-feeds[2].Entries()
	if e1.STAN != "000001" || e1 != e2 {
		t.Errorf("feeds got %+v and %+v, want one shared entry", e1, e2)
	}
}

// Queries while a small ring wraps again and again, its segments dropped
// and reused: each query sees a run of consecutive entries, each entry the
// one appended with its number. Run with -race.
func TestQueryWhileTheRingWraps(t *testing.T) {
	const capacity = 50
	j := journal.New(capacity)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := 1; i <= 20000; i++ {
			j.Append(journal.Entry{STAN: fmt.Sprintf("%06d", i%1000000), Amount: int64(i)})
		}
	}()
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				f := journal.Filter{}
				if r == 1 {
					f.Limit = 7
				}
				got := j.Query(f)
				for k, e := range got {
					if e.Amount != int64(e.Seq) || e.STAN != fmt.Sprintf("%06d", e.Seq%1000000) {
						t.Errorf("entry %d reads as appended %d (STAN %s): a slot changed under a query", e.Seq, e.Amount, e.STAN)
						return
					}
					if k > 0 && e.Seq != got[k-1].Seq+1 {
						t.Errorf("entry %d follows %d in a query", e.Seq, got[k-1].Seq)
						return
					}
				}
				if len(got) > capacity {
					t.Errorf("a query of %d entries from a ring of %d", len(got), capacity)
					return
				}
			}
		}()
	}
	wg.Wait()
}
