package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// codedError stands in for modernc.org/sqlite's *Error, whose fields are unexported.
type codedError struct {
	msg  string
	code int
}

func (e codedError) Error() string { return e.msg }
func (e codedError) Code() int     { return e.code }

// Which errors opening a journal count as a full disk. A full disk that
// SQLite reports as SQLITE_FULL cannot be made with a file size limit (that
// test is TestOpenOnFullDisk), so it is made here.
func TestOpenErrorDiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db") // a directory with room
	for _, tc := range []struct {
		name string
		err  error
		want string // the message; "the disk is full" in it only when full
		full bool
	}{
		{"SQLITE_FULL", codedError{"database or disk is full (13)", 13}, "opening the journal " + path + ": the disk is full (database or disk is full (13))", true},
		{"ENOSPC wrapped", fmt.Errorf("writing: %w", &fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}),
			"opening the journal " + path + ": the disk is full (writing: write " + path + ": no space left on device)", true},
		{"quota", &fs.PathError{Op: "write", Path: path, Err: syscall.EDQUOT}, "opening the journal " + path + ": the disk is full (", true},
		// A write that failed where there is room: a failing disk, not a full one.
		{"IOERR_WRITE with room", codedError{"disk I/O error (778)", 778}, "journal " + path + ": disk I/O error (778)", false},
		{"IOERR_SHMSIZE with room", codedError{"disk I/O error (4874)", 4874}, "journal " + path + ": disk I/O error (4874)", false},
		{"not a disk error", codedError{"file is not a database (26)", 26}, "journal " + path + ": file is not a database (26)", false},
		{"no code", errors.New("migrating to schema version 2: boom"), "journal " + path + ": migrating to schema version 2: boom", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := openError(path, tc.err)
			if got := errors.Is(err, ErrDiskFull); got != tc.full {
				t.Errorf("errors.Is(%q, ErrDiskFull) = %t, want %t", err, got, tc.full)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("%q does not wrap %q", err, tc.err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want it to begin %q", err, tc.want)
			}
		})
	}
}
