package journal_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/journal"
)

// A journal file that cannot grow (a full disk) fails its appends and says
// so in Health; once it can grow again, the next append succeeds and Health
// clears. Nothing appended before is lost.
func TestFullDisk(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), 100, false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	big := strings.Repeat("x", 2000)
	if err := j.Append(journal.Entry{STAN: "000001", Decision: big}); err != nil {
		t.Fatal(err)
	}
	if err := j.Health(); err != nil {
		t.Fatalf("Health after a good append: %v", err)
	}
	if err := j.LimitFile(1); err != nil {
		t.Fatal(err)
	}
	var failed error
	for i := 0; i < 100 && failed == nil; i++ {
		failed = j.Append(journal.Entry{STAN: "000002", Decision: big})
	}
	if failed == nil {
		t.Fatal("appends to a full journal file all succeeded")
	}
	if err := j.Health(); err == nil || !strings.Contains(err.Error(), "full") {
		t.Errorf("Health with the file full: %v, want an error saying it is full", err)
	}
	if err := j.LimitFile(0); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(journal.Entry{STAN: "000003"}); err != nil {
		t.Fatalf("append once the file can grow again: %v", err)
	}
	if err := j.Health(); err != nil {
		t.Errorf("Health after the disk came back: %v", err)
	}
}
