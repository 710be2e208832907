package books_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/txn"
)

// BenchmarkDecide is the default host's decision for a sale (duplicate check,
// RRN, auth code, settlement date, booking), each with a new STAN.
func BenchmarkDecide(b *testing.B) {
	h, err := books.New(books.Config{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		stan := fmt.Sprintf("%06d", i%1000000)
		r := &txn.Request{Type: txn.Sale, MTI: "0200", Amount: 12345, TID: "T0000001", MID: "898100012340001",
			PAN: "6222021234567890123", STAN: stan, Fingerprint: stan}
		if d := h.Decide(r, now); d.RC != txn.Approved && !d.Cached {
			b.Fatalf("rc %s", d.RC)
		}
	}
}
