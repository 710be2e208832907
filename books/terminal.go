package books

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
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
	// in records; foldedSums the same records summed by everything a
	// settlement report tells apart, so that reports still count them.
	folded     map[string]*foldedTotals
	foldedSums map[foldKey]*foldSum
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
		folded:     map[string]*foldedTotals{},
		foldedSums: map[foldKey]*foldSum{},
		seen:       map[dupKey]seenRequest{},
		closed:     map[string]bool{},
		uploads:    map[string][]txn.UploadRecord{},
		lastClose:  map[string]seenRequest{},
		batches:    map[string]*batchInfo{},
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
	// completed is a pre-authorisation its completion took: it can be
	// neither completed nor voided again, unless the completion is undone.
	completed state = "completed"
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
	// orig is what a void cancelled, or the pre-authorisation a completion
	// took.
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
	// terminal, to match voids, reversals, completions and uploads against
	// and to list in its reports. Older ones still count in their batch's
	// totals and in the settlement reports, summed, but can no longer be
	// voided, reversed, completed or listed one by one.
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

// retire forgets a transaction, keeping what it adds to its batch's totals
// and to the settlement reports. Its state is final from here, but for what
// a kept void or completion of it undoes (see restate): a void or reversal
// can no longer find it.
func (t *terminal) retire(rec *record) {
	rec.retired = true
	t.fold(rec, 1)
}

// restate gives a transaction a new state; one already folded moves from
// the sums of its old state to those of its new one.
func (t *terminal) restate(rec *record, s state) {
	if rec.retired {
		t.fold(rec, -1)
	}
	rec.state = s
	if rec.retired {
		t.fold(rec, 1)
	}
}

// uncomplete gives back its pre-authorisation when a completion is voided or
// reversed: it can be completed (or voided) again.
func (t *terminal) uncomplete(completion *record) {
	if p := completion.orig; p != nil && p.state == completed {
		t.restate(p, approved)
	}
}

// fold adds (sign 1) or takes away (sign -1) a retired record in what its
// batch's totals and the reports count of it.
func (t *terminal) fold(rec *record, sign int) {
	if rec.state == approved || rec.state == voided {
		f := t.folded[rec.batch]
		if f == nil {
			f = &foldedTotals{}
			t.folded[rec.batch] = f
		}
		var asDebits, asCredits txn.Totals
		asDebits.Count(rec.typ, rec.amount, rec.state == voided, false)
		asCredits.Count(rec.typ, rec.amount, rec.state == voided, true)
		f.voidsAsDebits = plus(f.voidsAsDebits, asDebits, sign)
		f.voidsAsCredits = plus(f.voidsAsCredits, asCredits, sign)
	}
	k := foldKeyOf(rec)
	sum := t.foldedSums[k]
	if sum == nil {
		sum = &foldSum{terms: rec.terms}
		t.foldedSums[k] = sum
	}
	sum.count += sign
	sum.amount += int64(sign) * rec.amount
	sum.fee += int64(sign) * rec.terms.Fee
	if rec.at.After(sum.latest) {
		sum.latest = rec.at
	}
	if sum.count == 0 {
		delete(t.foldedSums, k)
	}
}

// plus is a + sign*b, field by field.
func plus(a, b txn.Totals, sign int) txn.Totals {
	n := int64(sign)
	a.DebitCount += sign * b.DebitCount
	a.DebitAmount += n * b.DebitAmount
	a.CreditCount += sign * b.CreditCount
	a.CreditAmount += n * b.CreditAmount
	a.ForeignDebitCount += sign * b.ForeignDebitCount
	a.ForeignDebitAmount += n * b.ForeignDebitAmount
	a.ForeignCreditCount += sign * b.ForeignCreditCount
	a.ForeignCreditAmount += n * b.ForeignCreditAmount
	return a
}

// foldKey is everything a settlement report tells transactions apart by:
// folded transactions alike in all of it are summed into one.
type foldKey struct {
	batch    string
	typ      txn.Type
	state    state
	currency string
	mode     string
	cardType string
	// settlement and funds are the instants (Unix seconds); zone is the
	// settlement date's UTC offset, which decides the day it is reported on.
	settlement, funds int64
	zone              int
	faults            string
}

func foldKeyOf(rec *record) foldKey {
	_, zone := rec.terms.Settlement.Zone()
	k := foldKey{
		batch: rec.batch, typ: rec.typ, state: rec.state, currency: rec.currency,
		mode: rec.terms.Mode, cardType: rec.terms.CardType,
		settlement: rec.terms.Settlement.Unix(), funds: rec.terms.FundsAt.Unix(), zone: zone,
	}
	switch len(rec.terms.Faults) {
	case 0:
	case 1:
		k.faults = rec.terms.Faults[0]
	default:
		k.faults = strings.Join(rec.terms.Faults, "\x00")
	}
	return k
}

// foldSum is what folded transactions alike add up to: how many, their
// amounts and fees, the latest time one was answered, and the terms they
// share (the first one's, its fee aside).
type foldSum struct {
	count       int
	amount, fee int64
	latest      time.Time
	terms       txn.Terms
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

// preAuthFor returns the pre-authorisation a completion names: by its trace
// (cup F61), else by its RRN (F37), else by its authorisation code (F38) on
// the same card. named is false when the completion names none at all.
func (t *terminal) preAuthFor(r *txn.Request) (rec *record, named bool) {
	switch {
	case r.Orig.STAN != "":
		return t.findSTAN(r.Orig.STAN, r.Orig.Batch), true
	case r.RRN != "":
		return t.findRRN(r.RRN), true
	case r.AuthCode != "":
		return t.findAuth(r.AuthCode, r.PAN), true
	}
	return nil, false
}

// findAuth returns the latest pre-authorisation the host gave the auth code
// for the card, one still open first: six digits repeat among a terminal's
// transactions, so the card tells them apart and, failing that, the latest
// wins. Card numbers are compared masked, as a replayed journal holds them.
func (t *terminal) findAuth(code, pan string) *record {
	var found *record
	card := txn.MaskPAN(pan)
	for i := len(t.records) - 1; i >= 0; i-- {
		rec := t.records[i]
		if rec.typ != txn.PreAuth || rec.auth != code || pan != "" && txn.MaskPAN(rec.pan) != card {
			continue
		}
		if rec.state == approved {
			return rec
		}
		if found == nil {
			found = rec
		}
	}
	return found
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
