package acqsimtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/journal"
)

// WaitTimeout is how long Wait and WaitFor wait before they fail the test.
// What they wait for comes within milliseconds or not at all, so the bound
// is generous: it only turns a test that would hang into one that fails.
const WaitTimeout = 10 * time.Second

// waitTimeout is WaitTimeout; this package's tests shorten it to watch a
// wait fail.
var waitTimeout = WaitTimeout

// Wait waits until the journal holds at least n exchanges that f selects
// (its Limit and paging aside), counted as Count counts them, and returns
// those it holds, oldest first.
// It is for what a test cannot see happen from its side of the wire: an
// exchange that gets no answer, a connection the host resets, a request
// still being decided. With f.After set to a Mark taken before the test
// acts, only what followed counts.
//
// Wait wakes on the journal's own news (journal.Subscribe), never on a
// timer. After WaitTimeout it fails the test at once (t.Fatalf) with what
// did arrive, so it must be called from the test's goroutine.
func (h *Host) Wait(t testing.TB, f journal.Filter, n int) []journal.Entry {
	t.Helper()
	return Wait(t, h.sim.Journal, f, n)
}

// WaitFor waits for an exchange that f selects and match accepts (nil
// accepts any), as Wait does, and returns the first. match sees what a
// Filter cannot ask, an Error or an Action, say.
func (h *Host) WaitFor(t testing.TB, f journal.Filter, match func(journal.Entry) bool) journal.Entry {
	t.Helper()
	return WaitFor(t, h.sim.Journal, f, match)
}

// Mark is the number of the latest exchange in the journal (0 when it
// holds none): a Filter with After set to it selects only the exchanges
// journalled since.
func (h *Host) Mark() uint64 { return Mark(h.sim.Journal) }

// Wait is Host.Wait on any journal, such as the Journal of a host started
// with sim.Start.
func Wait(t testing.TB, j *journal.Journal, f journal.Filter, n int) []journal.Entry {
	t.Helper()
	return wait(t, j, f, nil, n, exchanges(n))
}

// WaitFor is Host.WaitFor on any journal.
func WaitFor(t testing.TB, j *journal.Journal, f journal.Filter, match func(journal.Entry) bool) journal.Entry {
	t.Helper()
	what := "an exchange"
	if match != nil {
		what += " that match accepts"
	}
	return wait(t, j, f, match, 1, what)[0]
}

// Mark is Host.Mark on any journal.
func Mark(j *journal.Journal) uint64 {
	if es := j.Query(journal.Filter{Limit: 1}); len(es) > 0 {
		return es[0].Seq
	}
	return 0
}

// wait gathers the exchanges f selects (admin.Match) and match accepts
// until there are n. The subscription is only a wake-up: each append
// queries the journal past the last exchange seen, so one appended before
// the subscription began, or one a full subscription dropped, is found all
// the same.
func wait(t testing.TB, j *journal.Journal, f journal.Filter, match func(journal.Entry) bool, n int, what string) []journal.Entry {
	t.Helper()
	appended, cancel := j.Subscribe(64)
	defer cancel()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	f.Limit, f.Paged = 0, false
	from := f.After
	var got []journal.Entry
	for {
		for _, e := range admin.Match(j, f) {
			f.After = e.Seq
			if match == nil || match(e) {
				got = append(got, e)
			}
		}
		if len(got) >= n {
			return got
		}
		select {
		case <-appended:
		case <-timer.C:
			f.After = from
			matched := make(map[uint64]bool, len(got))
			for _, e := range got {
				matched[e.Seq] = true
			}
			t.Fatalf("acqsimtest: waited %v for %s matching %s, got %d\n%s",
				waitTimeout, what, describeFilter(f), len(got), describeSince(j, from, matched))
			return got // for a testing.TB whose Fatalf returns
		}
	}
}

// describeSince lists the journal's latest entries after seq from, one a
// line, marking those matched (by seq): what arrived while a wait waited.
func describeSince(j *journal.Journal, from uint64, isMatch map[uint64]bool) string {
	all := j.Query(journal.Filter{After: from})
	if len(all) == 0 {
		if from > 0 {
			return fmt.Sprintf("the journal holds nothing after #%d", from)
		}
		return "the journal is empty"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the journal holds %s", exchanges(len(all)))
	if from > 0 {
		fmt.Fprintf(&b, " after #%d", from)
	}
	b.WriteString(" (* matches):")
	if len(all) > shownEntries {
		fmt.Fprintf(&b, "\n    ... %d earlier not shown", len(all)-shownEntries)
		all = all[len(all)-shownEntries:]
	}
	for _, e := range all {
		mark := " "
		if isMatch[e.Seq] {
			mark = "*"
		}
		fmt.Fprintf(&b, "\n  %s %s", mark, describeEntry(e))
	}
	return b.String()
}
