//go:build linux || darwin || freebsd

package journal_test

import (
	"errors"
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

// A journal opened where its file cannot grow fails with ErrDiskFull, in a
// message that says so and names the file, whichever file SQLite was
// writing when it failed (issue 11: a restart on a full disk said only
// "disk I/O error (4874)"). The child process's file size limit
// (RLIMIT_FSIZE) stands in for the full disk: a write past it fails as a
// write to a full disk does, without root or a tiny filesystem.
func TestOpenOnFullDisk(t *testing.T) {
	if limit := os.Getenv("ACQSIM_TEST_FSIZE"); limit != "" {
		openUnderLimit(limit, os.Getenv("ACQSIM_TEST_JOURNAL"))
		return
	}
	for _, tc := range []struct {
		name     string
		existing bool   // a journal left by a host that stopped cleanly
		limit    uint64 // bytes the child may write into a file
		full     bool
	}{
		// SQLite fails writing the new file's first page (IOERR_WRITE).
		{"new file", false, 0, true},
		// It fails creating the -shm file beside it (IOERR_SHMOPEN).
		{"existing file, no room for its -shm", true, 0, true},
		// It fails growing the -shm file (IOERR_SHMSIZE, 4874): issue 11.
		{"existing file, no room to grow its -shm", true, 4096, true},
		// The same harness with room: the file opens.
		{"room to grow", false, 64 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			if tc.existing {
				j, err := journal.Open(path, 100, false)
				if err != nil {
					t.Fatal(err)
				}
				if err := j.Append(journal.Entry{STAN: "000001"}); err != nil {
					t.Fatal(err)
				}
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
			}
			cmd := childtest.Command("TestOpenOnFullDisk", "ACQSIM_TEST_FSIZE="+strconv.FormatUint(tc.limit, 10), "ACQSIM_TEST_JOURNAL="+path)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			isFull, msg, _ := strings.Cut(strings.TrimSuffix(string(out), "\n"), "\n")
			t.Logf("Open: %s", msg)
			if !tc.full {
				if msg != "<nil>" {
					t.Fatalf("Open with room to grow: %s", msg)
				}
				return
			}
			if isFull != "true" {
				t.Errorf("Open: %s; want an error that is journal.ErrDiskFull", msg)
			}
			if want := "opening the journal " + path + ": the disk is full ("; !strings.HasPrefix(msg, want) {
				t.Errorf("Open: %q, want it to begin %q", msg, want)
			}
		})
	}
}

// openUnderLimit is the child of TestOpenOnFullDisk: it opens the journal at
// path with files limited to limit bytes, prints whether the error is
// ErrDiskFull and the error, and exits.
func openUnderLimit(limit, path string) {
	n, err := strconv.ParseUint(limit, 10, 64)
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	if err := childtest.Lower(syscall.RLIMIT_FSIZE, n); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	j, err := journal.Open(path, 100, false)
	fmt.Printf("%t\n%v\n", errors.Is(err, journal.ErrDiskFull), err)
	if err == nil {
		j.Close()
	}
	os.Exit(0)
}
