// Package report turns the host's books into merchants' settlement reports:
// per merchant and settlement date, counts, gross, fees and net by card type,
// when the funds are available, and how each batch reconciled.
package report

import (
	"slices"
	"sort"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/txn"
)

// Figures are a count, the gross amount, the fees and the net to the merchant,
// in minor units.
type Figures struct {
	Count int   `json:"count"`
	Gross int64 `json:"gross"`
	Fees  int64 `json:"fees"`
	Net   int64 `json:"net"`
}

func (f *Figures) add(count int, gross, fee int64) {
	f.Count += count
	f.Gross += gross
	f.Fees += fee
	f.Net += gross - fee
}

// Settlement is one merchant's settlement for one settlement date and mode.
type Settlement struct {
	MID            string    `json:"mid"`
	SettlementDate string    `json:"settlement_date"` // YYYY-MM-DD
	Mode           string    `json:"mode"`            // T0 or T1
	Currency       string    `json:"currency"`
	FundsAvailable time.Time `json:"funds_available"` // the latest of its transactions'
	Figures
	// ByCardType splits the figures by debit and credit cards.
	ByCardType map[string]*Figures `json:"by_card_type"`
	// Batches are the batches that hold its transactions, with their state.
	Batches []BatchOutcome `json:"batches"`
	// Faults are the books faults applied on purpose to its transactions.
	Faults []string `json:"faults,omitempty"`
}

// BatchOutcome is how a batch reconciled.
type BatchOutcome struct {
	TID     string `json:"tid"`
	Batch   string `json:"batch"`
	State   string `json:"state"`
	Outcome string `json:"outcome,omitempty"`
}

// Filter selects settlements; empty fields match all.
type Filter struct {
	MID, Date, Mode string
}

// Settlements reports the books: approved sales, completions and advices are
// debits (gross +), refunds credits (gross -); voided and reversed
// transactions carry nothing, unless a books fault charged a voided one. A
// record that sums folded transactions (books.Record.Folded) counts as
// that many.
func Settlements(records []books.Record, batches []books.Batch, f Filter) []Settlement {
	type key struct{ mid, date, mode, currency string }
	byKey := map[key]*Settlement{}
	batchOf := map[[3]string]books.Batch{}
	for _, b := range batches {
		batchOf[[3]string{b.MID, b.TID, b.Batch}] = b
	}
	seenBatch := map[key]map[[2]string]bool{}
	for _, r := range records {
		gross, fee, ok := contribution(r)
		if !ok {
			continue
		}
		k := key{r.MID, r.Terms.Settlement.Format("2006-01-02"), r.Terms.Mode, r.Currency}
		if f.MID != "" && f.MID != k.mid || f.Date != "" && f.Date != k.date || f.Mode != "" && f.Mode != k.mode {
			continue
		}
		s := byKey[k]
		if s == nil {
			s = &Settlement{MID: k.mid, SettlementDate: k.date, Mode: k.mode, Currency: k.currency, ByCardType: map[string]*Figures{}}
			byKey[k] = s
			seenBatch[k] = map[[2]string]bool{}
		}
		n := max(1, r.Folded)
		s.add(n, gross, fee)
		ct := r.Terms.CardType
		if ct == "" {
			ct = "unknown"
		}
		if s.ByCardType[ct] == nil {
			s.ByCardType[ct] = &Figures{}
		}
		s.ByCardType[ct].add(n, gross, fee)
		if r.Terms.FundsAt.After(s.FundsAvailable) {
			s.FundsAvailable = r.Terms.FundsAt
		}
		for _, fault := range r.Terms.Faults {
			if !slices.Contains(s.Faults, fault) {
				s.Faults = append(s.Faults, fault)
			}
		}
		if bk := [2]string{r.TID, r.Batch}; !seenBatch[k][bk] {
			seenBatch[k][bk] = true
			b := batchOf[[3]string{r.MID, r.TID, r.Batch}]
			s.Batches = append(s.Batches, BatchOutcome{TID: r.TID, Batch: r.Batch, State: b.State, Outcome: b.Outcome})
		}
	}
	out := make([]Settlement, 0, len(byKey))
	for _, s := range byKey {
		sort.Slice(s.Batches, func(i, j int) bool {
			return s.Batches[i].TID+s.Batches[i].Batch < s.Batches[j].TID+s.Batches[j].Batch
		})
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.MID != b.MID {
			return a.MID < b.MID
		}
		if a.SettlementDate != b.SettlementDate {
			return a.SettlementDate < b.SettlementDate
		}
		if a.Mode != b.Mode {
			return a.Mode < b.Mode
		}
		return a.Currency < b.Currency
	})
	return out
}

// contribution is what one record adds to its settlement: its signed gross
// and fee (the sums, for a record of folded transactions), or false when it
// adds nothing.
func contribution(r books.Record) (gross, fee int64, ok bool) {
	switch {
	case r.State == "approved":
	case books.Charged(r.Terms.Faults, r.State):
		return 0, r.Terms.Fee, true // the wrong figure a real statement would show
	default:
		return 0, 0, false
	}
	switch txn.Of(r.Type).Side {
	case txn.Debit:
		return r.Amount, r.Terms.Fee, true
	case txn.Credit:
		return -r.Amount, r.Terms.Fee, true
	}
	return 0, 0, false
}
