//go:build linux || darwin || freebsd

package journal_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/acqsim/acqsim/internal/childtest"
	"github.com/acqsim/acqsim/journal"
)

// A journal on a small disk keeps recording until its file fills the disk,
// not its log (issue 13: the log filled a 2 MiB disk after about 500
// commits); and a log that does fill it is checkpointed to make room, so the
// append that found the disk full succeeds after all. The child process's
// file size limit (RLIMIT_FSIZE) stands in for the small disk, as in
// TestOpenOnFullDisk.
func TestWALOnSmallDisk(t *testing.T) {
	if limit := os.Getenv("ACQSIM_TEST_WAL_FSIZE"); limit != "" {
		appendUnderLimit(t, limit)
		return
	}
	for _, tc := range []struct {
		name   string
		limit  uint64 // bytes the child may write into a file
		budget int64  // 0: the default
		n      int    // appends, one a commit
	}{
		// The disk of the issue; 4,000 entries take about 0.9 MiB of file.
		{"2 MiB disk", 2 << 20, 0, 4_000},
		// A budget the disk cannot hold: the log fills it before it is due
		// for a checkpoint, several times over.
		{"log fills the disk", 256 << 10, 64 << 20, 800},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			cmd := childtest.Command("TestWALOnSmallDisk", "ACQSIM_TEST_WAL_FSIZE="+strconv.FormatUint(tc.limit, 10),
				"ACQSIM_TEST_WAL_JOURNAL="+path, "ACQSIM_TEST_WAL_BUDGET="+strconv.FormatInt(tc.budget, 10),
				"ACQSIM_TEST_WAL_N="+strconv.Itoa(tc.n))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var appended, failed int
			var largest int64
			var first string
			for line := range strings.Lines(string(out)) {
				line = strings.TrimSuffix(line, "\n")
				switch k, v, _ := strings.Cut(line, " "); k {
				case "appended":
					appended, _ = strconv.Atoi(v)
				case "failed":
					failed, _ = strconv.Atoi(v)
				case "wal":
					largest, _ = strconv.ParseInt(v, 10, 64)
				case "error":
					first = v
				}
			}
			t.Logf("%d of %d appends succeeded; the log reached %d bytes on a %d-byte disk", appended, tc.n, largest, tc.limit)
			if appended != tc.n {
				t.Errorf("%d appends failed, the first with %s; want none", failed, first)
			}

			// Every append that succeeded is in the file.
			j, err := journal.Open(path, tc.n, false)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if got := len(j.Query(journal.Filter{})); got != appended {
				t.Errorf("the file holds %d entries, want the %d appended", got, appended)
			}
		})
	}
}

// appendUnderLimit is the child of TestWALOnSmallDisk: with files limited
// to limit bytes, it appends to the journal one entry at a time and prints
// how many appends succeeded and failed, the first error, and the largest
// size the log reached.
func appendUnderLimit(t *testing.T, limit string) {
	n, err := strconv.ParseUint(limit, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	budget, _ := strconv.ParseInt(os.Getenv("ACQSIM_TEST_WAL_BUDGET"), 10, 64)
	count, _ := strconv.Atoi(os.Getenv("ACQSIM_TEST_WAL_N"))
	path := os.Getenv("ACQSIM_TEST_WAL_JOURNAL")
	if err := childtest.Lower(syscall.RLIMIT_FSIZE, n); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(path, 100, false)
	if err != nil {
		t.Fatal(err)
	}
	if budget > 0 {
		if err := j.SetWALBudget(budget); err != nil {
			t.Fatal(err)
		}
	}
	appended, failed, largest := 0, 0, int64(0)
	for i := range count {
		if err := j.Append(walEntry(i)); err != nil {
			if failed == 0 {
				fmt.Printf("error %v\n", err)
			}
			failed++
		} else {
			appended++
		}
		largest = max(largest, walSize(t, path))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("appended %d\nfailed %d\nwal %d\n", appended, failed, largest)
	os.Exit(0)
}
