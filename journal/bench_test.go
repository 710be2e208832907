package journal_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/acqsim/acqsim/journal"
)

// BenchmarkAppend is the journal stage: in memory, and in a file (with and
// without a disk flush per commit), one append at a time and from 16
// goroutines at once (as 16 terminals append: they share commits).
func BenchmarkAppend(b *testing.B) {
	e := journal.Entry{Time: time.Now(), MTI: "0200", Txn: "sale", STAN: "000001", TID: "TERM0001", MID: "898100012340001",
		Amount: 12345, PAN: "476173******0010", RC: "00", Decision: "approved", Replay: `{"type":"sale"}`}
	b.Run("memory", func(b *testing.B) {
		j := journal.New(0)
		b.ReportAllocs()
		for b.Loop() {
			j.Append(e)
		}
	})
	for _, fsync := range []bool{false, true} {
		name := "file"
		if fsync {
			name = "file-fsync"
		}
		open := func(b *testing.B) *journal.Journal {
			j, err := journal.Open(filepath.Join(b.TempDir(), "j.db"), 0, fsync)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { j.Close() })
			b.ReportAllocs()
			return j
		}
		b.Run(name, func(b *testing.B) {
			j := open(b)
			for b.Loop() {
				if err := j.Append(e); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"-16", func(b *testing.B) {
			j := open(b)
			b.SetParallelism(8) // 16 goroutines on 2 CPUs
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := j.Append(e); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkQuery is what an admin query costs the host: the journal is
// locked meanwhile. A full ring of 100,000 entries; a filtered scan of all of
// it, the latest 50, and a page after a cursor.
func BenchmarkQuery(b *testing.B) {
	j := journal.New(0)
	for i := range journal.DefaultCapacity {
		tid := "TERM0001"
		if i%100 == 0 {
			tid = "TERM0002"
		}
		j.Append(journal.Entry{Time: time.Now(), MTI: "0200", Txn: "sale", STAN: "000001", TID: tid, RC: "00",
			Decision: "approved", Request: "0200 frame bytes", Response: "0210 frame bytes"})
	}
	for _, q := range []struct {
		name string
		f    journal.Filter
	}{
		{"filter-all", journal.Filter{TID: "TERM0002"}},
		{"latest-50", journal.Filter{Limit: 50}},
		{"page-after", journal.Filter{After: 99_000, Limit: 100, Paged: true}},
	} {
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				j.Query(q.f)
			}
		})
	}
}
