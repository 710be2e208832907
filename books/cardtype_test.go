package books_test

import (
	"testing"

	"github.com/acqsim/acqsim/books"
)

// Without a scenario's settlement terms, a transaction still gets its card
// type from the built-in BIN table (the settlement report said "unknown").
func TestDefaultTermsCardType(t *testing.T) {
	for pan, want := range map[string]string{"6222021234567890123": "debit", "4761739001010010": "credit", "9990000000000001": "debit"} {
		if got := books.CardType(pan); got != want {
			t.Errorf("CardType(%s) = %q, want %q", pan, got, want)
		}
	}
	h := newHost(t, iso87Cfg)
	play(t, h, now, sale("000001", 1000).want("00"))
	recs := h.Records()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	if got, want := recs[0].Terms.CardType, books.CardType(testPAN); got != want || got == "" {
		t.Errorf("a sale without scenario terms booked with card type %q, want %q", got, want)
	}
}
