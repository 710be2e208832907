package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/acqsim/acqsim/fixtures"
)

// TestHardKillJournalPathVerbatim: the journal is the file --journal names,
// whatever characters its path holds ('#', '?' and '%' mean something in a
// SQLite URI). Two hosts given two files must not share one, and the file a
// host was killed on must be the one that brings its books back.
func TestHardKillJournalPathVerbatim(t *testing.T) {
	d, err := fixtures.Dialect("iso87ascii")
	if err != nil {
		t.Fatal(err)
	}
	// Hosts side by side in one directory, each with a file of its own.
	for _, names := range [][]string{{"shop #1", "shop #2"}, {"sale?", "sale"}} {
		dir := t.TempDir()
		for i, name := range names {
			file := filepath.Join(dir, name, "journal.db")
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Errorf("--journal %q: %v (a journal kept elsewhere takes the name?)", file, err)
				continue
			}
			h := startCrashHost(t, file)
			if bs := h.batches(t); len(bs) != 0 {
				t.Errorf("--journal %q: a new host starts with %d batches of another host's (%+v)", file, len(bs), bs)
			}
			c := newCrashTerminal(t, d, h.addr, "PATHK001")
			if !c.do(c.t.Sale(int64(1000 + i))) {
				t.Errorf("--journal %q: the terminal's first sale: %v %v", file, c.failure, c.unanswered)
				h.kill(t)
				continue
			}
			h.kill(t)
			if _, err := os.Stat(file); err != nil {
				entries, _ := os.ReadDir(dir)
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("--journal %q: the host kept its journal elsewhere: %v (%s holds %q)", file, err, dir, names)
			}
			h.restart(t)
			if got := h.batch(t, "PATHK001", "000001").Host; got.DebitCount != 1 || got.DebitAmount != int64(1000+i) {
				t.Errorf("--journal %q: after the restart the books hold %+v, want the one sale of %d", file, got, 1000+i)
			}
			h.kill(t)
		}
	}
}
