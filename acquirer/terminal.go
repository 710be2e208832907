package acquirer

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/acqsim/acqsim/txn"
)

// terminal is what the host remembers about one terminal (merchant + terminal ID).
type terminal struct {
	mu sync.Mutex

	batch   string    // the open batch; "" until the terminal first needs one
	records []*record // the latest maxRecords, oldest first (so in RRN order)
	// folded holds, per batch, the totals of the records that no longer fit
	// in records.
	folded map[string]*foldedTotals
	// seen holds the latest dupWindow financial requests, for duplicate
	// detection; seenOrder is the order they came in, a ring from seenNext.
	seen      map[dupKey]seenRequest
	seenOrder []dupKey
	seenNext  int
	closed    map[string]bool               // batches settled and closed
	uploads   map[string][]txn.UploadRecord // per batch, as the terminal uploaded them
	keys      WorkingKeys
	// signedOn is set by an approved sign-on and cleared by a sign-off;
	// signOns counts the sign-ons (each draws new working keys).
	signedOn bool
	signOns  uint64
	// batches holds each batch's settlement state, once it has one.
	batches map[string]*batchInfo
	// lastClose holds the answers to settlements and ends of batch, by MTI
	// and STAN, so that a resent one gets the same answer.
	lastClose map[string]seenRequest
}

func newTerminal() *terminal {
	return &terminal{
		folded:    map[string]*foldedTotals{},
		seen:      map[dupKey]seenRequest{},
		closed:    map[string]bool{},
		uploads:   map[string][]txn.UploadRecord{},
		lastClose: map[string]seenRequest{},
		batches:   map[string]*batchInfo{},
	}
}

// Batch states, as settlement moves a batch along.
const (
	BatchOpen        = "open"
	BatchReconciling = "reconciling" // settlement answered; upload or end of batch to come
	BatchUploaded    = "uploaded"    // the terminal has uploaded records; end of batch to come
	BatchClosed      = "closed"
)

// batchInfo is what settlement has said about a batch.
type batchInfo struct {
	state   string
	outcome string // balanced or out of balance, once the terminal settled
	claimed *txn.Totals
	// differences are those of its upload as they stood at the close.
	differences []string
}

func (t *terminal) batchInfo(b string) *batchInfo {
	bi := t.batches[b]
	if bi == nil {
		bi = &batchInfo{state: BatchOpen}
		t.batches[b] = bi
	}
	return bi
}

// remember keeps a settlement's or end of batch's answer for a resend, with
// the time it was given (the resend gets the same bytes).
func (t *terminal) remember(r *txn.Request, now time.Time, d txn.Decision) txn.Decision {
	d.At = now
	if len(t.lastClose) > 16 {
		clear(t.lastClose) // only the latest few can be resent
	}
	t.lastClose[r.MTI+r.STAN] = seenRequest{fingerprint: r.Fingerprint, decision: d}
	return d
}

type state string

const (
	approved state = "approved"
	declined state = "declined"
	voided   state = "voided"
	reversed state = "reversed"
)

// record is a transaction the host answered.
type record struct {
	typ      txn.Type
	state    state
	stan     string
	rrn      string
	auth     string
	pan      string
	batch    string
	date     string    // MMDD
	at       time.Time // when the host answered it
	currency string
	terms    txn.Terms
	// amount in minor units
	amount int64
	// orig is what a void cancelled.
	orig *record
	// retired is set once the record no longer fits in the terminal's
	// records (its state is final).
	retired bool
}

// dupKey identifies a request for duplicate detection: merchant and terminal
// (the terminal's key), the kind of message, the STAN and the batch.
type dupKey struct {
	class string
	stan  string
	batch string
}

type seenRequest struct {
	fingerprint string
	decision    txn.Decision
}

// dupClass is the message class a retransmission keeps: 0221 repeats 0220.
func dupClass(r *txn.Request) string {
	if len(r.MTI) == 4 {
		return r.MTI[:3]
	}
	return r.MTI
}

// batchOf is the batch a request belongs to: the one it names (cup 60.2, iso87
// F60 on 0500), or the terminal's open batch.
func (t *terminal) batchOf(r *txn.Request) string {
	b := t.peekBatch(r)
	if t.batch == "" {
		t.batch = b
	}
	return b
}

// peekBatch is batchOf without opening the terminal's first batch.
func (t *terminal) peekBatch(r *txn.Request) string {
	switch {
	case r.Batch != "" && r.Batch != "000000":
		return r.Batch
	case t.batch == "":
		return firstBatch
	}
	return t.batch
}

// firstBatch is a terminal's batch until the host or the terminal says otherwise.
const firstBatch = "000001"

// How much the host remembers of each terminal: a terminal that never
// settles (a load test) must not grow the host without bound. Both are far
// beyond what a terminal's batch holds in the field.
const (
	// maxRecords is how many of its latest transactions the host keeps per
	// terminal, to match voids, reversals and uploads against and to list in
	// its reports. Older ones still count in their batch's totals, but can
	// no longer be voided, reversed or listed.
	maxRecords = 10_000
	// dupWindow is how many of its latest financial requests the host
	// remembers per terminal to recognise a retransmission.
	dupWindow = 4096
)

func (t *terminal) book(rec *record, s state) {
	rec.state = s
	t.records = append(t.records, rec)
	if len(t.records) > maxRecords {
		t.retire(t.records[0])
		t.records[0] = nil
		t.records = t.records[1:]
	}
}

// foldedTotals are a batch's totals from records no longer kept, counted
// both ways a settlement may count voids.
type foldedTotals struct{ voidsAsDebits, voidsAsCredits txn.Totals }

// of is the totals counted the host's way (nil: none folded).
func (f *foldedTotals) of(voidsAsCredits bool) txn.Totals {
	switch {
	case f == nil:
		return txn.Totals{}
	case voidsAsCredits:
		return f.voidsAsCredits
	}
	return f.voidsAsDebits
}

// retire forgets a transaction, keeping what it adds to its batch's totals.
// Its state is final from here: a void or reversal can no longer find it.
func (t *terminal) retire(rec *record) {
	rec.retired = true
	if rec.state != approved && rec.state != voided {
		return
	}
	f := t.folded[rec.batch]
	if f == nil {
		f = &foldedTotals{}
		t.folded[rec.batch] = f
	}
	f.voidsAsDebits.Count(rec.typ, rec.amount, rec.state == voided, false)
	f.voidsAsCredits.Count(rec.typ, rec.amount, rec.state == voided, true)
}

// see remembers a financial request's answer for duplicate detection,
// forgetting the oldest beyond dupWindow.
func (t *terminal) see(k dupKey, s seenRequest) {
	if _, ok := t.seen[k]; !ok {
		if len(t.seenOrder) < dupWindow {
			t.seenOrder = append(t.seenOrder, k)
		} else {
			delete(t.seen, t.seenOrder[t.seenNext])
			t.seenOrder[t.seenNext] = k
			t.seenNext = (t.seenNext + 1) % dupWindow
		}
	}
	t.seen[k] = s
}

// findRRN returns the transaction the host gave the RRN. The host numbers
// RRNs in order, so a terminal's records are in RRN order and a binary
// search finds one; the scan behind it covers records replayed out of order
// (two connections of one terminal, journalled the other way round).
func (t *terminal) findRRN(rrn string) *record {
	i := sort.Search(len(t.records), func(i int) bool { return t.records[i].rrn >= rrn })
	if i < len(t.records) && t.records[i].rrn == rrn {
		return t.records[i]
	}
	for i := len(t.records) - 1; i >= 0; i-- {
		if t.records[i].rrn == rrn {
			return t.records[i]
		}
	}
	return nil
}

// findOpenSTAN returns the latest transaction with the given STAN in a batch
// not yet closed.
func (t *terminal) findOpenSTAN(stan string) *record {
	for i := len(t.records) - 1; i >= 0; i-- {
		rec := t.records[i]
		if rec.stan == stan && !t.closed[rec.batch] {
			return rec
		}
	}
	return nil
}

// findSTAN returns the latest transaction with the given STAN (in the given
// batch, when one is named).
func (t *terminal) findSTAN(stan, batch string) *record {
	for i := len(t.records) - 1; i >= 0; i-- {
		rec := t.records[i]
		if rec.stan == stan && (batch == "" || rec.batch == batch) {
			return rec
		}
	}
	return nil
}

// totals are the host's own settlement totals for a batch: what it approved,
// less what was reversed or voided.
func (t *terminal) totals(batch string, voidsAsCredits bool) txn.Totals {
	tot := t.folded[batch].of(voidsAsCredits)
	for _, rec := range t.records {
		if rec.batch == batch && (rec.state == approved || rec.state == voided) {
			tot.Count(rec.typ, rec.amount, rec.state == voided, voidsAsCredits)
		}
	}
	return tot
}

// closeBatch closes a batch; the terminal's next transactions go to the next
// one. What its upload showed is kept as it was at the close: the batch's
// records leave the terminal's window in time, its differences do not.
func (t *terminal) closeBatch(batch string, voidsAsCredits bool) {
	t.closed[batch] = true
	bi := t.batchInfo(batch)
	bi.state = BatchClosed
	bi.differences = t.differences(batch, voidsAsCredits)
	if batch == t.batch {
		n, _ := strconv.Atoi(batch)
		t.batch = fmt.Sprintf("%06d", n%999999+1)
	}
}
