package journal_test

import (
	"path/filepath"
	"testing"

	"github.com/acqsim/acqsim/journal"
)

// TestOneHostPerFile: a second host cannot open a journal file in use.
func TestOneHostPerFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "j.db")
	j, err := journal.Open(file, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Append(journal.Entry{STAN: "000001"}); err != nil {
		t.Fatal(err)
	}
	if j2, err := journal.Open(file, 10, false); err == nil {
		j2.Close()
		t.Fatal("a second Open of a journal file in use succeeded")
	}
	j.Close()
	j3, err := journal.Open(file, 10, false)
	if err != nil {
		t.Fatalf("reopening after Close: %v", err)
	}
	defer j3.Close()
	if got := j3.Query(journal.Filter{}); len(got) != 1 {
		t.Fatalf("reopened journal has %d entries, want 1", len(got))
	}
}
