//go:build linux || darwin || freebsd

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/acqsim/acqsim/internal/childtest"
	"github.com/acqsim/acqsim/journal"
)

// serve on a journal whose disk is full exits 1 with one line that says the
// disk is full and names the file (issue 11: it said "disk I/O error
// (4874)"). The child's file size limit (RLIMIT_FSIZE) stands in for the
// full disk; a write past it fails as one to a full disk does.
func TestServeOnFullDisk(t *testing.T) {
	if limit := os.Getenv("ACQSIM_TEST_SERVE_FSIZE"); limit != "" {
		n, err := strconv.ParseUint(limit, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if err := childtest.Lower(syscall.RLIMIT_FSIZE, n); err != nil {
			t.Fatal(err)
		}
		os.Exit(run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--log-level", "error", "--journal", os.Getenv("ACQSIM_TEST_SERVE_JOURNAL")}, os.Stdout, os.Stderr))
	}

	for _, tc := range []struct {
		name     string
		existing bool   // a journal left by a host that stopped cleanly
		limit    uint64 // bytes the child may write into a file
	}{
		{"new journal", false, 0},
		{"existing journal", true, 4096}, // its -shm cannot grow: the 4874 of issue 11
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			if tc.existing {
				j, err := journal.Open(path, 100, false)
				if err != nil {
					t.Fatal(err)
				}
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
			}
			cmd := childtest.Command("TestServeOnFullDisk", "ACQSIM_TEST_SERVE_FSIZE="+strconv.FormatUint(tc.limit, 10), "ACQSIM_TEST_SERVE_JOURNAL="+path)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("serve: %v, want exit status 1\nstdout: %s\nstderr: %s", err, &stdout, &stderr)
			}
			msg := stderr.String()
			want := "acqsim: opening the journal " + path + ": the disk is full ("
			if !strings.HasPrefix(msg, want) || strings.Count(msg, "\n") != 1 {
				t.Errorf("stderr %q, want one line beginning %q", msg, want)
			}
			if strings.Contains(stdout.String(), "listening") {
				t.Errorf("stdout %q: the host said it listens", &stdout)
			}
		})
	}
}
