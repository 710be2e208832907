package journal_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/acqsim/acqsim/journal"
)

// BenchmarkAppend is the journal stage: in memory, and durable (one commit
// per append when appends come one at a time, as here; concurrent appends
// share commits).
func BenchmarkAppend(b *testing.B) {
	e := journal.Entry{Time: time.Now(), MTI: "0200", Txn: "sale", STAN: "000001", TID: "TERM0001", MID: "898100012340001",
		Amount: 12345, PAN: "476173******0010", RC: "00", Decision: "approved"}
	b.Run("memory", func(b *testing.B) {
		j := journal.New(0)
		b.ReportAllocs()
		for b.Loop() {
			j.Append(e)
		}
	})
	b.Run("durable", func(b *testing.B) {
		j, err := journal.Open(filepath.Join(b.TempDir(), "j.db"), 0)
		if err != nil {
			b.Fatal(err)
		}
		defer j.Close()
		b.ReportAllocs()
		for b.Loop() {
			if err := j.Append(e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
