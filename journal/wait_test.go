package journal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/acqsim/acqsim/journal"
)

// Wait returns an entry already there at once, wakes for one appended while
// it waits (and only for one its filter selects), and gives up with ctx.
func TestWait(t *testing.T) {
	j := journal.New(100)
	j.Append(journal.Entry{TID: "TERM0001", STAN: "000001"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if e, err := j.Wait(ctx, journal.Filter{TID: "TERM0001"}); err != nil || e.STAN != "000001" {
		t.Fatalf("an entry already there: %+v, %v", e, err)
	}

	got := make(chan journal.Entry)
	go func() {
		e, err := j.Wait(ctx, journal.Filter{TID: "TERM0002"})
		if err != nil {
			t.Error(err)
		}
		got <- e
	}()
	// Other terminals' entries do not end the wait; TERM0002's does. The
	// waiter may subscribe before or after any of them: either way it ends
	// with TERM0002's.
	for i := range 200 {
		j.Append(journal.Entry{TID: "TERM0001", STAN: "1" + string(rune('0'+i%10))})
	}
	j.Append(journal.Entry{TID: "TERM0002", STAN: "000009"})
	if e := <-got; e.TID != "TERM0002" || e.STAN != "000009" {
		t.Fatalf("woke with %+v, want TERM0002's entry", e)
	}

	short, stop := context.WithCancel(context.Background())
	stop()
	if _, err := j.Wait(short, journal.Filter{TID: "NOBODY"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("an ended wait: %v, want context.Canceled", err)
	}
}
