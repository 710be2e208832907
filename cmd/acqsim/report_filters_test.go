package main

import (
	"net"
	"testing"
)

// A filter no report entry can match, or one the report asked for does not
// have (the host would ignore it), is a usage error: exit 2 before the host
// is asked, not an empty or unfiltered table and exit 0.
func TestReportRefusesBadFilters(t *testing.T) {
	// Nothing listens here: a filter let through is exit 1, not 2.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--date", "2026-13-01"}, "YYYY-MM-DD"},
		{[]string{"report", "settlements", "--date", "2026-02-30"}, "YYYY-MM-DD"},
		{[]string{"report", "--date", "12/06/2026"}, `--date "12/06/2026"`},
		{[]string{"report", "--mode", "T9"}, "want T0 or T1"},
		{[]string{"report", "settlements", "--mode", "t1"}, "want T0 or T1"},
		{[]string{"report", "batches", "--state", "done"}, "want open, reconciling, uploaded or closed"},
		{[]string{"report", "--tid", "TERM0001"}, "--tid filters report batches"},
		{[]string{"report", "--state", "open"}, "--state filters report batches"},
		{[]string{"report", "batches", "--date", "2026-06-12"}, "--date filters report settlements"},
		{[]string{"report", "batches", "--mode", "T1"}, "--mode filters report settlements"},
	} {
		args := append(tc.args, "--admin", closed)
		code, stdout, stderr := acqsim(args...)
		if code != 2 || stdout != "" {
			t.Errorf("%v: exit %d, output %q; want 2 and nothing", tc.args, code, stdout)
		}
		wantOneLine(t, tc.args, stderr, tc.want)
	}
	// Good filters get as far as asking the host.
	for _, args := range [][]string{
		{"report", "--date", "2026-06-12", "--mode", "T0", "--mid", "898100012340001"},
		{"report", "batches", "--tid", "TERM0001", "--state", "reconciling"},
	} {
		if code, _, stderr := acqsim(append(args, "--admin", closed)...); code != 1 {
			t.Errorf("%v: exit %d (%s), want 1: the host cannot be reached", args, code, stderr)
		}
	}
}
