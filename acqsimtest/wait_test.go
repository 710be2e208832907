package acqsimtest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/terminal"
)

// Wait returns the entries already there at once, and wakes for those
// appended while it waits, however many others come between (more than its
// subscription holds).
func TestWaitReturnsWhatArrives(t *testing.T) {
	j := journal.New(1000)
	j.Append(journal.Entry{TID: "TERM0001", Txn: "sale", STAN: "000001"})
	if es := Wait(t, j, journal.Filter{TID: "TERM0001"}, 1); len(es) != 1 || es[0].STAN != "000001" {
		t.Fatalf("an entry already there: %+v", es)
	}

	got := make(chan []journal.Entry)
	go func() {
		// Not the test's goroutine: a failure here is an Errorf, below.
		w := &fakeTB{TB: t}
		got <- Wait(w, j, journal.Filter{TID: "TERM0002"}, 2)
	}()
	for i := range 500 {
		j.Append(journal.Entry{TID: "TERM0001", STAN: fmt.Sprintf("%06d", i)})
		if i%200 == 0 {
			j.Append(journal.Entry{TID: "TERM0002", STAN: fmt.Sprintf("%06d", i)})
		}
	}
	select {
	case es := <-got:
		// At least the two it waits for, in order; the third may have come
		// by the time it looked.
		if len(es) < 2 || len(es) > 3 || es[0].STAN != "000000" || es[1].STAN != "000200" || len(es) == 3 && es[2].STAN != "000400" {
			t.Errorf("woke with %+v, want TERM0002's entries, the first two at least", es)
		}
	case <-time.After(2 * WaitTimeout):
		t.Fatal("Wait did not return")
	}
}

// WaitFor takes the first entry its match accepts, and a Mark leaves out
// what came before it.
func TestWaitForAfterMark(t *testing.T) {
	j := journal.New(100)
	j.Append(journal.Entry{TID: "TERM0001", Error: "before the mark"})
	mark := Mark(j)
	if mark != 1 {
		t.Fatalf("Mark %d, want 1", mark)
	}
	j.Append(journal.Entry{TID: "TERM0001"})
	j.Append(journal.Entry{TID: "TERM0001", Error: "after the mark"})
	j.Append(journal.Entry{TID: "TERM0001", Error: "later still"})
	hasError := func(e journal.Entry) bool { return e.Error != "" }
	if e := WaitFor(t, j, journal.Filter{After: mark}, hasError); e.Error != "after the mark" {
		t.Errorf("WaitFor after the mark: %+v, want the first error after it", e)
	}
	if e := WaitFor(t, j, journal.Filter{}, hasError); e.Error != "before the mark" {
		t.Errorf("WaitFor without a mark: %+v, want the first error in the journal", e)
	}
	if got := Mark(journal.New(10)); got != 0 {
		t.Errorf("Mark of an empty journal: %d, want 0", got)
	}
}

// A wait for what never comes fails the test once the timeout passes,
// saying what it waited for and listing what did arrive.
func TestWaitFailsWhenNothingComes(t *testing.T) {
	defer func(d time.Duration) { waitTimeout = d }(waitTimeout)
	waitTimeout = 50 * time.Millisecond

	j := journal.New(100)
	j.Append(journal.Entry{TID: "TERM0001", Txn: "sale", RC: "00"})
	mark := Mark(j)
	j.Append(journal.Entry{TID: "TERM0001", Txn: "sale", RC: "51"})
	for _, tc := range []struct {
		name string
		wait func(testing.TB)
		want []string
	}{
		{"Wait", func(tb testing.TB) { Wait(tb, j, journal.Filter{TID: "TERM0001", RC: "51"}, 2) },
			[]string{"waited 50ms for 2 exchanges matching {TID=TERM0001 RC=51}, got 1", "the journal holds 2 exchanges", "* #2"}},
		{"WaitFor", func(tb testing.TB) {
			WaitFor(tb, j, journal.Filter{After: mark}, func(e journal.Entry) bool { return e.Error != "" })
		}, []string{"for an exchange that match accepts matching {After=1}, got 0", "the journal holds 1 exchange after #1", "  #2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				tc.wait(ft)
			}()
			<-done
			if ft.fatal == "" {
				t.Fatal("the wait returned without failing the test")
			}
			for _, w := range tc.want {
				if !strings.Contains(ft.fatal, w) {
					t.Errorf("the failure says:\n%s\nwant it to say %q", ft.fatal, w)
				}
			}
		})
	}
}

// The host's own wait sees an exchange the terminal never had an answer to.
func TestHostWaitForUnanswered(t *testing.T) {
	h := New(t, Scenario("timeout"))
	cfg := h.TerminalConfig("TERM0001")
	cfg.Timeout = 100 * time.Millisecond // no answer is coming
	term, err := terminal.Dial(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	mark := h.Mark()
	sold := make(chan error, 1)
	go func() {
		_, err := term.Sale(1234)
		sold <- err
	}()
	e := h.WaitFor(t, journal.Filter{After: mark, TID: "TERM0001", Txn: "sale"}, nil)
	if e.Action != "no-response" || e.Amount != 1234 {
		t.Errorf("the unanswered sale journalled as %+v, want a no-response of 1234", e)
	}
	if err := <-sold; err == nil {
		t.Error("the sale was answered")
	}
}

// fakeTB records a Fatalf and ends its goroutine, as testing.T does.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
