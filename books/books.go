package books

import (
	"fmt"
	"sort"
	"time"

	"github.com/acqsim/acqsim/txn"
)

// Record is a transaction in the host's books, as reports see it: the card
// number masked. Transactions older than a terminal's window are summed
// instead: see Folded.
type Record struct {
	MID   string   `json:"mid"`
	TID   string   `json:"tid"`
	Batch string   `json:"batch"`
	Type  txn.Type `json:"txn"`
	// State is approved, declined, voided, reversed, or completed (a
	// pre-authorisation its completion took).
	State    string    `json:"state"`
	STAN     string    `json:"stan"`
	RRN      string    `json:"rrn"`
	PAN      string    `json:"pan"` // masked
	Amount   int64     `json:"amount"`
	Currency string    `json:"currency"`
	At       time.Time `json:"at"`
	Terms    txn.Terms `json:"terms"`
	// Folded, when above zero, is how many transactions the record sums:
	// ones no longer kept one by one (beyond a terminal's latest 10,000),
	// alike in batch, type, state, currency and settlement terms. Amount
	// and Terms.Fee are their totals, At the latest one's time; they have
	// no STAN, RRN or card number any more.
	Folded int `json:"folded,omitempty"`
}

// Batch is a terminal's batch as settlement left it.
type Batch struct {
	MID     string `json:"mid"`
	TID     string `json:"tid"`
	Batch   string `json:"batch"`
	State   string `json:"state"`             // open, reconciling, uploaded, closed
	Outcome string `json:"outcome,omitempty"` // balanced or out of balance, once settled
	// Host are the host's own totals; Claimed the terminal's, once it settled.
	Host    txn.Totals  `json:"host_totals"`
	Claimed *txn.Totals `json:"terminal_totals,omitempty"`
	// Uploaded is how many records the terminal uploaded; Differences lists
	// where they disagree with the host's own record.
	Uploaded    int      `json:"uploaded"`
	Differences []string `json:"differences,omitempty"`
}

// Records returns every transaction the host has booked, oldest first: each
// terminal's latest one by one, the older ones summed (see Record.Folded).
func (h *Host) Records() []Record {
	var out []Record
	h.each(func(k terminalKey, t *terminal) {
		out = t.foldedRecords(k, out)
		for _, rec := range t.records {
			out = append(out, Record{
				MID: k.mid, TID: k.tid, Batch: rec.batch, Type: rec.typ, State: string(rec.state),
				STAN: rec.stan, RRN: rec.rrn, PAN: txn.MaskPAN(rec.pan), Amount: rec.amount,
				Currency: rec.currency, At: rec.at, Terms: rec.terms,
			})
		}
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// foldedRecords appends the terminal's folded sums to out, one record each,
// in an order that does not depend on the map's.
func (t *terminal) foldedRecords(k terminalKey, out []Record) []Record {
	start := len(out)
	for fk, sum := range t.foldedSums {
		terms := sum.terms
		terms.Fee = sum.fee
		out = append(out, Record{
			MID: k.mid, TID: k.tid, Batch: fk.batch, Type: fk.typ, State: string(fk.state),
			Amount: sum.amount, Currency: fk.currency, At: sum.latest, Terms: terms, Folded: sum.count,
		})
	}
	folded := out[start:]
	sort.Slice(folded, func(i, j int) bool {
		a, b := folded[i], folded[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		return fmt.Sprint(a.Batch, a.Type, a.State, a.Currency, a.Terms) < fmt.Sprint(b.Batch, b.Type, b.State, b.Currency, b.Terms)
	})
	return out
}

// Batches returns every batch the host knows of, by merchant, terminal and number.
func (h *Host) Batches() []Batch {
	var out []Batch
	h.each(func(k terminalKey, t *terminal) {
		// Every batch's totals in one pass over the records (the terminal is
		// locked meanwhile), from what was folded out of them.
		totals := map[string]txn.Totals{}
		for b := range t.batches {
			totals[b] = txn.Totals{}
		}
		for b, f := range t.folded {
			totals[b] = f.of(h.cfg.VoidsAsCredits)
		}
		for _, rec := range t.records {
			tot := totals[rec.batch]
			if rec.state == approved || rec.state == voided {
				tot.Count(rec.typ, rec.amount, rec.state == voided, h.cfg.VoidsAsCredits)
			}
			totals[rec.batch] = tot
		}
		for b, tot := range totals {
			bi := t.batchInfo(b)
			diffs := bi.differences
			if bi.state != BatchClosed {
				diffs = t.differences(b, h.cfg.VoidsAsCredits)
			}
			out = append(out, Batch{
				MID: k.mid, TID: k.tid, Batch: b, State: bi.state, Outcome: bi.outcome,
				Host: tot, Claimed: bi.claimed, Uploaded: len(t.uploads[b]), Differences: diffs,
			})
		}
	})
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.MID != b.MID {
			return a.MID < b.MID
		}
		if a.TID != b.TID {
			return a.TID < b.TID
		}
		return a.Batch < b.Batch
	})
	return out
}

// each calls f for every terminal, holding its lock.
func (h *Host) each(f func(terminalKey, *terminal)) {
	h.mu.Lock()
	keys := make([]terminalKey, 0, len(h.terminals))
	ts := make([]*terminal, 0, len(h.terminals))
	for k, t := range h.terminals {
		keys = append(keys, k)
		ts = append(ts, t)
	}
	h.mu.Unlock()
	for i, t := range ts {
		t.mu.Lock()
		f(keys[i], t)
		t.mu.Unlock()
	}
}

// differences compares a batch's upload with the host's own record of it, by
// STAN: records missing on either side and amounts that differ. Only a batch
// settled out of balance is uploaded whole, so only that one is compared.
func (t *terminal) differences(batch string, voidsAsCredits bool) []string {
	ups := t.uploads[batch]
	if len(ups) == 0 || t.batchInfo(batch).outcome != "out of balance" {
		return nil
	}
	// What the host's totals count is what the terminal must upload; a
	// voided sale and its void (which count nothing where voids are not
	// credits) it may upload or not.
	own := map[string]*record{}
	counts := map[string]bool{}
	for _, rec := range t.records {
		if rec.batch != batch || (rec.state != approved && rec.state != voided) {
			continue
		}
		own[rec.stan] = rec
		var one txn.Totals
		one.Count(rec.typ, rec.amount, rec.state == voided, voidsAsCredits)
		counts[rec.stan] = one != (txn.Totals{})
	}
	var diffs []string
	seen := map[string]bool{}
	_, folded := t.folded[batch] // some of the batch is no longer kept one by one
	for _, u := range ups {
		seen[u.STAN] = true
		rec, ok := own[u.STAN]
		switch {
		case !ok && folded:
			// Perhaps one of those: not comparable.
		case !ok:
			diffs = append(diffs, fmt.Sprintf("STAN %s: uploaded, not in the host's record", u.STAN))
		case rec.amount != u.Amount:
			diffs = append(diffs, fmt.Sprintf("STAN %s: amount %d uploaded, %d approved", u.STAN, u.Amount, rec.amount))
		}
	}
	for stan := range own {
		if !seen[stan] && counts[stan] {
			diffs = append(diffs, fmt.Sprintf("STAN %s: approved by the host, not uploaded", stan))
		}
	}
	sort.Strings(diffs)
	if folded {
		diffs = append(diffs, fmt.Sprintf("the batch's older transactions are no longer kept one by one (over %d): uploaded records not among the kept ones were not compared", maxRecords))
	}
	return diffs
}
