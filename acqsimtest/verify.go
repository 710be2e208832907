package acqsimtest

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/admin"
	"github.com/acqsim/acqsim/journal"
)

// shownEntries caps how much of the journal a failed Verify lists: the
// latest exchanges are the ones a test just caused.
const shownEntries = 50

// Count is how many exchanges in the journal f selects, each counted once
// as Verify and the admin API's GET /verify count them (admin.Match).
func (h *Host) Count(f journal.Filter) int { return len(admin.Match(h.sim.Journal, f)) }

// Verify checks that the journal holds exactly n exchanges that f selects,
// as WireMock's verify does for HTTP requests; it counts as GET /verify and
// acqsim verify do (admin.Verify), each exchange once. Otherwise it marks
// the test failed (and carries on, like t.Errorf) with a message that lists
// what did arrive, matches marked with "*", and returns false.
func (h *Host) Verify(t testing.TB, f journal.Filter, n int) bool {
	t.Helper()
	v := admin.Verify(h.sim.Journal, f, admin.Exactly(n))
	if v.OK {
		return true
	}
	matched := make(map[uint64]bool, len(v.Entries))
	for _, e := range v.Entries {
		matched[e.Seq] = true
	}
	t.Errorf("acqsimtest: want %s matching %s, got %d\n%s",
		exchanges(n), describeFilter(f), v.Count, h.describeJournal(matched))
	return false
}

func exchanges(n int) string {
	if n == 1 {
		return "1 exchange"
	}
	return fmt.Sprintf("%d exchanges", n)
}

// describeFilter writes a filter's set fields as Name=value, in the field
// names a test wrote it with: {TID=TERM0001 Txn=sale RC=51}.
func describeFilter(f journal.Filter) string {
	v := reflect.ValueOf(f)
	var parts []string
	for i := range v.NumField() {
		fv := v.Field(i)
		if !v.Type().Field(i).IsExported() || fv.IsZero() {
			continue
		}
		val := fmt.Sprint(fv.Interface())
		if tm, ok := fv.Interface().(time.Time); ok {
			val = tm.Format(time.RFC3339Nano)
		}
		parts = append(parts, pair(v.Type().Field(i).Name, val))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// describeJournal lists the journal's latest entries, one a line, marking
// those matched (by seq).
func (h *Host) describeJournal(isMatch map[uint64]bool) string {
	return describeSince(h.sim.Journal, 0, isMatch)
}

// describeEntry writes an entry on one line with the Filter's field names,
// so that a reader can hold it against the filter. The PAN is left out even
// though it is masked: nothing here needs it.
func describeEntry(e journal.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s", e.Seq, e.Time.Format("15:04:05.000"))
	field := func(name, value string) {
		if value != "" {
			b.WriteString(" " + pair(name, value))
		}
	}
	field("TID", e.TID)
	field("MID", e.MID)
	field("MTI", e.MTI)
	field("Txn", e.Txn)
	field("STAN", e.STAN)
	field("RRN", e.RRN)
	if e.Amount != 0 {
		fmt.Fprintf(&b, " Amount=%d", e.Amount)
	}
	field("RC", e.RC)
	field("Scenario", e.Scenario)
	field("Rule", e.Rule)
	field("Action", e.Action)
	field("Decision", e.Decision)
	field("Error", e.Error)
	return b.String()
}

// pair writes Name=value, quoting a value that would not read as one word.
func pair(name, value string) string {
	if value == "" || strings.ContainsAny(value, " \t\n\"=") || strconv.Quote(value) != `"`+value+`"` {
		value = strconv.Quote(value)
	}
	return name + "=" + value
}
