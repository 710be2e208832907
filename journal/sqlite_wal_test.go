package journal_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/acqsim/acqsim/journal"
)

// walSlack is what the log may hold past its budget: the checkpoint comes
// after the commit that passes the budget, and a commit of up to 256 entries
// writes a few dozen pages.
const walSlack = 256 << 10

// walEntry is a journal entry of the usual size.
func walEntry(i int) journal.Entry {
	return journal.Entry{Time: time.Now(), MTI: "0200", RespMTI: "0210", Txn: "sale", STAN: "000001", TID: "TERM0001",
		MID: "898100012340001", Amount: int64(100 + i), Currency: "156", PAN: "476173******0010", RC: "00",
		Decision: "approved", Replay: `{"type":"sale","amount":100}`}
}

// walSize is the size of the journal file's write-ahead log, 0 while there
// is none.
func walSize(t testing.TB, path string) int64 {
	fi, err := os.Stat(path + "-wal")
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// The write-ahead log stays within its budget however much is written
// (issue 13: it grew to 4 MiB before SQLite's first checkpoint, which filled
// a 2 MiB disk), one append at a time and with many appends sharing each
// commit; every entry appended is in the file.
func TestWALStaysWithinBudget(t *testing.T) {
	for _, tc := range []struct {
		name    string
		budget  int64 // 0: the default
		workers int
		each    int
	}{
		// 2,500 commits of a page or more: 10 times the default budget.
		{"default budget, one append a commit", 0, 1, 2_500},
		{"default budget, shared commits", 0, 16, 200},
		{"small budget", 64 << 10, 4, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			n := tc.workers * tc.each
			j, err := journal.Open(path, n, false)
			if err != nil {
				t.Fatal(err)
			}
			budget := int64(journal.DefaultWALBudget)
			if tc.budget > 0 {
				budget = tc.budget
				if err := j.SetWALBudget(budget); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			largest := int64(0)
			var wg sync.WaitGroup
			for w := range tc.workers {
				wg.Go(func() {
					for i := range tc.each {
						if err := j.Append(walEntry(w*tc.each + i)); err != nil {
							t.Error(err)
							return
						}
						size := walSize(t, path)
						mu.Lock()
						largest = max(largest, size)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			t.Logf("%d entries; the log reached %d bytes (budget %d)", n, largest, budget)
			if largest > budget+walSlack {
				t.Errorf("the log reached %d bytes; want at most its budget %d and %d of slack", largest, budget, walSlack)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}

			j, err = journal.Open(path, n, false)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if got := len(j.Query(journal.Filter{})); got != n {
				t.Errorf("the file holds %d entries after reopening, want %d", got, n)
			}
		})
	}
}
