// Package books plays the bank's host by default: it approves what a real
// acquirer approves, matches voids, reversals and completions to their
// originals, catches duplicates, and keeps each terminal's batch totals for
// settlement.
package books

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acqsim/acqsim/keys"
	"github.com/acqsim/acqsim/txn"
)

// Config is what a host is told at start-up.
type Config struct {
	Calendar Calendar
	// MasterKey is the terminal master key that sign-on working keys are
	// encrypted under. Nil means keys.TestMasterKey.
	MasterKey []byte
	// Seed makes everything drawn at random (auth codes, working keys) repeat
	// from one run to the next.
	Seed uint64
	// Balance is what a balance inquiry reports, in minor units.
	Balance int64
	// VoidsAsCredits counts an approved void as a credit and leaves the sale it
	// voided among the debits (cup); otherwise a voided sale simply drops out of
	// the totals (iso87).
	VoidsAsCredits bool
	// BalancedCloses closes a batch as soon as its totals balance (iso87);
	// otherwise the batch closes at the end of the batch upload (cup, 60.3 207).
	BalancedCloses bool
	// Events has every decision carry, in Decision.Replay, what a durable
	// journal needs to rebuild the host's books after a restart.
	Events bool
	// CompletionTolerancePercent is how far a completion may go above the
	// amount its pre-authorisation reserved, in percent of that amount
	// (rounded down to the minor unit): 0, the default, allows no more than
	// was authorised; card schemes that allow tips or fuel top-ups allow
	// some (CUP's rules, 15). A completion above it is refused with 64,
	// original amount incorrect. It must not be negative.
	CompletionTolerancePercent int
}

// DefaultBalance is the balance reported when none is configured: 10,000.00.
const DefaultBalance = 1_000_000

// Host is the default host behaviour. It is safe for concurrent use; each
// terminal's state has its own lock, so terminals never wait for each other.
type Host struct {
	cfg Config

	mu        sync.Mutex
	terminals map[terminalKey]*terminal

	rrn atomic.Uint64 // RRNs are unique per host run, across resets
	// unnumbered is set while Replay applies a decision the host gave no
	// RRN (a 94, a reversal with nothing to match, or a decline journalled
	// before declines had RRNs), so that it draws none now either.
	unnumbered atomic.Bool
}

// New returns a host with no state.
func New(cfg Config) (*Host, error) {
	if cfg.MasterKey == nil {
		cfg.MasterKey, _ = keys.Parse(keys.TestMasterKey)
	}
	if _, err := keys.Cipher(cfg.MasterKey); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if cfg.Balance == 0 {
		cfg.Balance = DefaultBalance
	}
	if cfg.CompletionTolerancePercent < 0 {
		return nil, fmt.Errorf("completion tolerance %d%%: must not be negative", cfg.CompletionTolerancePercent)
	}
	return &Host{cfg: cfg, terminals: map[terminalKey]*terminal{}}, nil
}

// Reset forgets every terminal, batch and transaction.
func (h *Host) Reset() {
	h.mu.Lock()
	h.terminals = map[terminalKey]*terminal{}
	h.mu.Unlock()
}

// ResetTerminal forgets one terminal ID's batches, transactions and keys,
// under every merchant.
func (h *Host) ResetTerminal(tid string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.terminals {
		if k.tid == tid {
			delete(h.terminals, k)
		}
	}
}

type terminalKey struct{ mid, tid string }

func (h *Host) terminal(mid, tid string) *terminal {
	k := terminalKey{mid, tid}
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.terminals[k]
	if t == nil {
		t = newTerminal()
		h.terminals[k] = t
	}
	return t
}

// Decide answers a request as the host would, at the host's time now.
func (h *Host) Decide(r *txn.Request, now time.Time) txn.Decision {
	d, b := h.decide(r, now)
	return h.recorded(r, now, nil, withBatch(b, d))
}

// batchFor is the batch a request is booked in (before a settlement closes
// it), for the journal, for a request the host answers without its
// terminal's state: it takes the terminal's lock only to look.
func (h *Host) batchFor(r *txn.Request) string {
	if !hasBatch(r) {
		return ""
	}
	h.mu.Lock()
	t := h.terminals[terminalKey{r.MID, r.TID}]
	h.mu.Unlock()
	if t == nil {
		t = newTerminal() // no state is made for a peek
	} else {
		t.mu.Lock()
		defer t.mu.Unlock()
	}
	return t.peekBatch(r)
}

// hasBatch reports whether a request is booked in a batch, for the journal.
func hasBatch(r *txn.Request) bool { return r.Type != txn.Echo && r.Type != txn.Unknown }

// lockTerminal returns the terminal's state, locked, and the batch r is
// booked in (before a settlement closes it), for the journal: what the host
// answers it from and where the journal files it, under one hold of the
// terminal's lock. The caller unlocks it.
func (h *Host) lockTerminal(r *txn.Request) (t *terminal, batch string) {
	t = h.terminal(r.MID, r.TID)
	t.mu.Lock()
	if hasBatch(r) {
		batch = t.peekBatch(r)
	}
	return t, batch
}

func withBatch(b string, d txn.Decision) txn.Decision {
	if d.Batch == "" {
		d.Batch = b
	}
	return d
}

// decide answers a request, and says which batch it is booked in.
func (h *Host) decide(r *txn.Request, now time.Time) (txn.Decision, string) {
	if r.Type == txn.Unknown { // and no state for whoever sent it
		return txn.Decision{RC: txn.NotSupported, Note: "function not supported"}, ""
	}
	t, b := h.lockTerminal(r)
	defer t.mu.Unlock()
	return h.decideLocked(t, r, now), b
}

// decideLocked answers a request from the terminal's state, which the
// caller holds locked.
func (h *Host) decideLocked(t *terminal, r *txn.Request, now time.Time) txn.Decision {

	// A settlement or end of batch resent because its answer was lost gets
	// that answer again, not a comparison with the batch that came next.
	if r.Type == txn.Settlement || r.Type == txn.UploadEnd {
		if last, ok := t.lastClose[r.MTI+r.STAN]; ok && last.fingerprint == r.Fingerprint {
			d := last.decision
			d.Note = "duplicate: the first response again"
			d.Cached = true
			return d
		}
	}

	switch r.Type {
	case txn.SignOn:
		return h.signOn(t, r)
	case txn.SignOff:
		t.signedOn = false
		return txn.Decision{RC: txn.Approved}
	case txn.Echo:
		return txn.Decision{RC: txn.Approved}
	case txn.ScriptAdvice:
		return txn.Decision{RC: txn.Approved, Note: "issuer script results of STAN " + cmp.Or(r.Orig.STAN, r.STAN)}
	case txn.Settlement:
		return t.remember(r, now, h.settle(t, r, false))
	case txn.Upload:
		return h.upload(t, r)
	case txn.UploadEnd:
		return t.remember(r, now, h.uploadEnd(t, r))
	}

	// Reversals are matched, not deduplicated: their own rules make a resent
	// reversal harmless, and a refused one must not block a corrected one.
	if r.Type == txn.Reversal {
		return h.reverse(t, r)
	}

	// Financial requests: a retransmission gets its first answer.
	if d, ok := t.answered(r); ok {
		return d
	}
	var d txn.Decision
	switch {
	case txn.Of(r.Type).IsVoid():
		d = h.void(t, r, now)
	case r.Type == txn.Completion:
		d = h.complete(t, r, now)
	case r.Type == txn.Balance:
		d = txn.Decision{RC: txn.Approved, RRN: h.nextRRN(), Balance: h.cfg.Balance}
		d.AuthCode = h.authCode(d.RRN)
	default:
		d = h.approve(t, r, now)
	}
	return t.keep(r, now, d)
}

// answered returns the answer to a financial request the terminal sent
// before: the first answer again for an identical retransmission, 94 for the
// same STAN with other content.
func (t *terminal) answered(r *txn.Request) (txn.Decision, bool) {
	seen, ok := t.seen[dupKey{class: dupClass(r), stan: r.STAN, batch: t.batchOf(r)}]
	switch {
	case !ok:
		return txn.Decision{}, false
	case seen.fingerprint != r.Fingerprint:
		return txn.Decision{RC: txn.Duplicate, Note: "duplicate STAN with different content"}, true
	}
	d := seen.decision
	d.Note = "duplicate: the first response again"
	d.Cached = true
	return d, true
}

// keep remembers the answer to a financial request for its retransmissions,
// with the time it was given: a retransmission's answer is the same bytes,
// the host's F12 and F13 included.
func (t *terminal) keep(r *txn.Request, now time.Time, d txn.Decision) txn.Decision {
	d.At = now
	t.see(dupKey{class: dupClass(r), stan: r.STAN, batch: t.batchOf(r)}, seenRequest{fingerprint: r.Fingerprint, decision: d})
	return d
}

// keyStream numbers a terminal's n-th sign-on among all terminals' (FNV-1a
// of the merchant and terminal, then n mixed in).
func keyStream(mid, tid string, n uint64) uint64 {
	x := uint64(0xcbf29ce484222325)
	for _, s := range [...]string{mid, "|", tid} {
		for i := 0; i < len(s); i++ {
			x = (x ^ uint64(s[i])) * 0x100000001b3
		}
	}
	return x ^ n*0x9E3779B97F4A7C15
}

// digits writes n in width decimal digits, zeros in front (n fits).
func digits(n uint64, width int) string {
	var b [20]byte
	for i := width - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[:width])
}

func (h *Host) nextRRN() string {
	if h.unnumbered.Load() {
		return ""
	}
	return digits(h.rrn.Add(1)%1_000_000_000_000, 12)
}

// authCode derives a six-digit approval code from the seed and the RRN, so
// the same seed and the same traffic give the same codes.
func (h *Host) authCode(rrn string) string {
	x := h.cfg.Seed ^ 0x9E3779B97F4A7C15
	for i := 0; i < len(rrn); i++ {
		x = (x ^ uint64(rrn[i])) * 0x100000001B3
	}
	x ^= x >> 31
	return digits(x%1_000_000, 6)
}

func (h *Host) signOn(t *terminal, r *txn.Request) txn.Decision {
	if t.batch == "" {
		t.batch = firstBatch
		if isDigits(r.Batch, 6) && r.Batch != "000000" {
			t.batch = r.Batch
		}
	}
	t.signedOn = true
	d := txn.Decision{RC: txn.Approved, Batch: t.batch}
	// Drawn from the seed, the terminal and how many times it signed on: the
	// same keys again when the journal is replayed, whatever order other
	// terminals' sign-ons were journalled in.
	t.signOns++
	rng := rand.New(rand.NewPCG(h.cfg.Seed, keyStream(r.MID, r.TID, t.signOns)))
	keys, f62, err := newWorkingKeys(rng, h.cfg.MasterKey, r.KeyVariant)
	if err != nil {
		return txn.Decision{RC: txn.SystemError, Note: err.Error()}
	}
	if f62 != nil {
		t.keys = keys
		d.Keys = f62
		d.Note = "signed on, new working keys"
	}
	return d
}

// approve accepts a sale, refund, pre-authorisation or advice and books it
// into the terminal's open batch. A declined one is booked too, so a later
// void of it is refused as invalid rather than as not found.
func (h *Host) approve(t *terminal, r *txn.Request, now time.Time) txn.Decision {
	terms := h.terms(r, now)
	d := txn.Decision{RC: txn.Approved, RRN: h.nextRRN(), Settlement: terms.Settlement}
	rec := &record{
		typ: r.Type, stan: r.STAN, rrn: d.RRN, pan: r.PAN, currency: r.Currency, terms: terms,
		amount: r.Amount, batch: t.batchOf(r), date: now.Format("0102"), at: now,
	}
	if r.Amount <= 0 {
		d = txn.Decision{RC: txn.InvalidAmount, RRN: d.RRN, Note: "invalid amount"}
		t.book(rec, declined)
		return d
	}
	d.AuthCode = h.authCode(d.RRN)
	rec.auth = d.AuthCode
	t.book(rec, approved)
	return d
}

// void cancels an earlier sale, completion or pre-authorisation of the same
// terminal, found by its original trace number (cup F61) or its RRN (F37).
func (h *Host) void(t *terminal, r *txn.Request, now time.Time) txn.Decision {
	var orig *record
	if r.Orig.STAN != "" {
		orig = t.findSTAN(r.Orig.STAN, r.Orig.Batch)
	} else if r.RRN != "" {
		orig = t.findRRN(r.RRN)
	}
	// A refused void is booked as declined under its own RRN like any other
	// refusal; a void naming that RRN finds a void, which is not voidable (12).
	switch {
	case orig == nil:
		return h.decline(t, r, now, txn.OriginalNotFound, "void: original not found")
	case t.closed[orig.batch]:
		return h.decline(t, r, now, txn.InvalidTxn, "void: original already settled")
	case !voidable(r.Type, orig.typ):
		return h.decline(t, r, now, txn.InvalidTxn, fmt.Sprintf("void: original is a %s", orig.typ))
	case orig.state != approved:
		return h.decline(t, r, now, txn.InvalidTxn, "void: original already "+string(orig.state))
	case orig.terms.Mode == "T0":
		return h.decline(t, r, now, txn.InvalidTxn, "void: original settled T+0 (real-time crediting); refund instead")
	case orig.amount != r.Amount:
		return h.decline(t, r, now, txn.OriginalAmountBad, "void: amount differs from the original")
	}
	terms := h.terms(r, now)
	d := txn.Decision{RC: txn.Approved, RRN: h.nextRRN(), Settlement: terms.Settlement}
	d.AuthCode = h.authCode(d.RRN)
	t.restate(orig, voided)
	if orig.typ == txn.Completion {
		t.uncomplete(orig)
	}
	t.book(&record{
		typ: r.Type, stan: r.STAN, rrn: d.RRN, auth: d.AuthCode, pan: r.PAN, currency: r.Currency, terms: terms,
		amount: r.Amount, batch: t.batchOf(r), date: now.Format("0102"), at: now, orig: orig,
	}, approved)
	d.Note = "void of STAN " + orig.stan
	d.Released = orig.released(r)
	return d
}

// decline refuses a financial request the host processed. Like an approval
// it gets an RRN of its own, and it is booked as declined under that RRN, so
// that the response, the journal, the books and the answer to a
// retransmission all name the same one.
func (h *Host) decline(t *terminal, r *txn.Request, now time.Time, rc, note string) txn.Decision {
	d := txn.Decision{RC: rc, RRN: h.nextRRN(), Note: note}
	t.book(&record{
		typ: r.Type, stan: r.STAN, rrn: d.RRN, pan: r.PAN, amount: r.Amount, currency: r.Currency,
		batch: t.batchOf(r), date: now.Format("0102"), at: now,
	}, declined)
	return d
}

// complete settles a pre-authorisation of the same terminal, found by its
// trace (cup F61), its RRN (F37) or, failing both, its authorisation code
// (F38) on the same card. The pre-authorisation is completed once: what it
// reserved is taken by the completion, which books like a sale.
func (h *Host) complete(t *terminal, r *txn.Request, now time.Time) txn.Decision {
	if r.Amount <= 0 {
		return h.decline(t, r, now, txn.InvalidAmount, "invalid amount")
	}
	orig, named := t.preAuthFor(r)
	// A refused completion is booked as declined under its own RRN, like a
	// refused void; the pre-authorisation stays as it was.
	switch {
	case !named:
		return h.decline(t, r, now, txn.OriginalNotFound, "completion: names no pre-authorisation (no F37, F38 or F61)")
	case orig == nil:
		return h.decline(t, r, now, txn.OriginalNotFound, "completion: pre-authorisation not found")
	case orig.typ != txn.PreAuth:
		return h.decline(t, r, now, txn.InvalidTxn, fmt.Sprintf("completion: original is a %s", orig.typ))
	case r.AuthCode != "" && orig.auth != "" && r.AuthCode != orig.auth:
		return h.decline(t, r, now, txn.OriginalNotFound, "completion: authorisation code is not the pre-authorisation's")
	case orig.state != approved:
		return h.decline(t, r, now, txn.InvalidTxn, "completion: pre-authorisation already "+string(orig.state))
	case r.Amount > h.completable(orig.amount):
		return h.decline(t, r, now, txn.OriginalAmountBad, fmt.Sprintf(
			"completion: amount %d above the pre-authorisation's %d (tolerance %d%%)", r.Amount, orig.amount, h.cfg.CompletionTolerancePercent))
	}
	terms := h.terms(r, now)
	d := txn.Decision{RC: txn.Approved, RRN: h.nextRRN(), Settlement: terms.Settlement}
	d.AuthCode = h.authCode(d.RRN)
	t.restate(orig, completed)
	t.book(&record{
		typ: r.Type, stan: r.STAN, rrn: d.RRN, auth: d.AuthCode, pan: r.PAN, currency: r.Currency, terms: terms,
		amount: r.Amount, batch: t.batchOf(r), date: now.Format("0102"), at: now, orig: orig,
	}, approved)
	d.Note = "completion of pre-authorisation STAN " + orig.stan
	return d
}

// completable is the most a completion of a pre-authorisation of amount may be.
func (h *Host) completable(amount int64) int64 {
	return amount + amount*int64(h.cfg.CompletionTolerancePercent)/100
}

func voidable(void, orig txn.Type) bool { return txn.Of(void).Voided(orig) }

// reverse undoes the transaction with the reversal's STAN in the terminal's
// open batches. A reversal the host cannot match is approved: the original
// never arrived (a settled transaction with the same STAN is an older one).
//
// The answer carries the RRN of the original it matched, as a 0410 does: a
// reversal is not booked, so it has no RRN of its own, and naming the
// original's gives every resend of it the same one. One that matched nothing
// has no RRN to name.
func (h *Host) reverse(t *terminal, r *txn.Request) txn.Decision {
	orig := t.findOpenSTAN(r.STAN)
	if orig == nil {
		return txn.Decision{RC: txn.Approved, Note: "reversal: original not found"}
	}
	d := txn.Decision{RC: txn.Approved, RRN: orig.rrn}
	switch {
	case orig.state == declined:
		d.Note = "reversal: original was declined; nothing to reverse"
		return d
	case orig.state == reversed:
		d.Note = "reversal: already reversed"
		return d
	case orig.amount != r.Amount:
		d.RC, d.Note = txn.OriginalNotFound, "reversal: amount differs from the original"
		return d
	case orig.terms.Mode == "T0":
		d.RC, d.Note = txn.InvalidTxn, "reversal: original settled T+0 (real-time crediting)"
		return d
	}
	if orig.state == completed {
		// Its completion took what it reserved: that is what to undo.
		d.RC, d.Note = txn.InvalidTxn, "reversal: pre-authorisation already completed; reverse or void the completion"
		return d
	}
	t.restate(orig, reversed)
	d.Note = fmt.Sprintf("reversal: %s with RRN %s reversed", orig.typ, orig.rrn)
	switch o := orig.orig; {
	case txn.Of(orig.typ).IsVoid() && o != nil && o.state == voided:
		t.restate(o, approved) // reversing a void restores what it voided
		if o.typ == txn.Completion && o.orig != nil && o.orig.state == approved {
			t.restate(o.orig, completed) // and a restored completion takes its pre-authorisation again
		}
	default:
		if orig.typ == txn.Completion {
			t.uncomplete(orig) // its pre-authorisation may be completed again
		}
		d.Released = orig.released(r)
	}
	return d
}

// settle compares the terminal's totals with the host's own for the batch.
func (h *Host) settle(t *terminal, r *txn.Request, outOfBalance bool) txn.Decision {
	b := t.batchOf(r)
	own := t.totals(b, h.cfg.VoidsAsCredits)
	domestic := own.DebitCount == r.Totals.DebitCount && own.DebitAmount == r.Totals.DebitAmount &&
		own.CreditCount == r.Totals.CreditCount && own.CreditAmount == r.Totals.CreditAmount && !outOfBalance
	// The host books every card as domestic, so foreign totals balance at zero.
	foreign := r.Totals.ForeignDebitCount == 0 && r.Totals.ForeignDebitAmount == 0 &&
		r.Totals.ForeignCreditCount == 0 && r.Totals.ForeignCreditAmount == 0
	d := txn.Decision{RC: txn.Approved, Domestic: txn.Balanced, Foreign: txn.Balanced}
	if bi := t.batchInfo(b); bi.state != BatchClosed { // a closed batch keeps what closed it
		delete(t.uploads, b) // a settlement begun again: its upload begins again too
		claimed := r.Totals
		bi.claimed, bi.state, bi.outcome = &claimed, BatchReconciling, "balanced"
		if !domestic || !foreign {
			bi.outcome = "out of balance"
		}
	}
	if !foreign {
		d.Foreign = txn.NotBalanced
	}
	if !domestic {
		d.Domestic = txn.NotBalanced
	}
	if domestic && foreign {
		d.Note = fmt.Sprintf("settlement: batch %s balanced", b)
		if h.cfg.BalancedCloses {
			t.closeBatch(b, h.cfg.VoidsAsCredits)
			d.Note += ", closed"
		}
		return d
	}
	d.Note = fmt.Sprintf("settlement: batch %s out of balance: host debits %d/%d credits %d/%d",
		b, own.DebitCount, own.DebitAmount, own.CreditCount, own.CreditAmount)
	if h.cfg.BalancedCloses {
		d.RC = txn.OutOfBalance // iso87 says it in F39; cup in F48
	}
	return d
}

func (h *Host) upload(t *terminal, r *txn.Request) txn.Decision {
	b := t.batchOf(r)
	if r.ICC != nil && (t.closed[b] || t.batchInfo(b).state == BatchOpen) {
		// A chip card's record outside a settlement's upload is the TC
		// upload that follows a settlement: the card's final cryptogram,
		// for the issuer's records. It changes no batch.
		stan := r.Orig.STAN
		if len(r.Uploads) > 0 {
			stan = r.Uploads[0].STAN
		}
		return txn.Decision{RC: txn.Approved, Note: "TC upload: the chip card's final cryptogram of STAN " + stan}
	}
	if t.closed[b] {
		// A resend after the batch closed (its end-of-batch answer lost):
		// harmless, and the closed batch keeps what closed it.
		return txn.Decision{RC: txn.Approved, Note: fmt.Sprintf("batch upload: batch %s already closed; record(s) not kept", b)}
	}
	for _, u := range r.Uploads {
		u.PAN = txn.MaskPAN(u.PAN) // kept for the comparison, which needs no card number
		t.uploads[b] = append(t.uploads[b], u)
	}
	t.batchInfo(b).state = BatchUploaded
	return txn.Decision{RC: txn.Approved, Note: fmt.Sprintf("batch upload: %d record(s) for batch %s", len(r.Uploads), b)}
}

func (h *Host) uploadEnd(t *terminal, r *txn.Request) txn.Decision {
	b := t.batchOf(r)
	n := len(t.uploads[b])
	t.closeBatch(b, h.cfg.VoidsAsCredits)
	return txn.Decision{RC: txn.Approved, Note: fmt.Sprintf("batch %s closed after an upload of %d record(s)", b, n)}
}

// terms are how a transaction settles: as the request says (scenario
// merchant settings), or T1 on the host's calendar, funds at 09:00 on the
// settlement date, no fee. They are fixed on the request, so that a replay
// from the journal gives the same dates whatever the calendar is then.
func (h *Host) terms(r *txn.Request, now time.Time) txn.Terms {
	if r.Terms == nil {
		day := h.cfg.Calendar.SettlementDate(now)
		r.Terms = &txn.Terms{Mode: "T1", Settlement: day, FundsAt: day.Add(9 * time.Hour), CardType: CardType(r.PAN)}
	}
	return *r.Terms
}

// CardType is the card type the built-in BIN table gives a card number (its
// first six digits are enough, so a masked one gives the same): UnionPay 62
// debit; 3, 4 and 5 (Amex, JCB, Visa, Mastercard) credit; anything else debit.
func CardType(pan string) string {
	switch {
	case strings.HasPrefix(pan, "62"):
		return "debit"
	case pan != "" && strings.ContainsRune("345", rune(pan[0])):
		return "credit"
	}
	return "debit"
}

// isDigits reports whether s is n decimal digits.
func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MACKey returns the MAC key the terminal was given at its last sign-on, or
// nil when it has none (it never signed on, or the host was reset since).
func (h *Host) MACKey(mid, tid string) []byte {
	h.mu.Lock()
	t := h.terminals[terminalKey{mid, tid}]
	h.mu.Unlock()
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.keys.MAC
}

// SignedOn reports whether the terminal has signed on (and not off) since the
// host started or was reset.
func (h *Host) SignedOn(mid, tid string) bool {
	h.mu.Lock()
	t := h.terminals[terminalKey{mid, tid}]
	h.mu.Unlock()
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.signedOn
}

// Force answers a request with a response code a scenario chose instead of
// the host's own. A declined financial request is booked as declined (a later
// void of it gets 12); a refused reversal names its original's RRN, as the
// host's own answer does; a settlement or upload is left as it was. outOfBalance
// answers a settlement as out of balance whatever its totals. Forcing "00"
// without outOfBalance is the default answer.
func (h *Host) Force(r *txn.Request, now time.Time, rc string, outOfBalance bool) txn.Decision {
	d, b := h.force(r, now, rc, outOfBalance)
	return h.recorded(r, now, &forced{rc, outOfBalance}, withBatch(b, d))
}

// force answers a request as a scenario chose, and says which batch it is
// booked in.
func (h *Host) force(r *txn.Request, now time.Time, rc string, outOfBalance bool) (txn.Decision, string) {
	if r.Type == txn.Settlement && outOfBalance {
		t, b := h.lockTerminal(r)
		defer t.mu.Unlock()
		return h.settle(t, r, true), b
	}
	if rc == "" || rc == txn.Approved {
		return h.decide(r, now)
	}
	note := "scripted response " + rc
	switch {
	case txn.Of(r.Type).Financial:
		t, b := h.lockTerminal(r)
		defer t.mu.Unlock()
		// A retransmission is answered by the books, whatever the script
		// says this time: the terminal is asking again for the answer it
		// lost, not sending a new request.
		if d, ok := t.answered(r); ok {
			return d, b
		}
		return t.keep(r, now, h.decline(t, r, now, rc, note)), b
	case r.Type == txn.Reversal:
		// Refused, the reversal leaves its original as it was, but names it
		// as the host's own answer would.
		d := txn.Decision{RC: rc, Note: note}
		t, b := h.lockTerminal(r)
		defer t.mu.Unlock()
		if orig := t.findOpenSTAN(r.STAN); orig != nil {
			d.RRN = orig.rrn
		}
		return d, b
	}
	return txn.Decision{RC: rc, Note: note}, h.batchFor(r)
}

func (rec *record) released(r *txn.Request) *txn.Released {
	return &txn.Released{Type: rec.typ, PAN: rec.pan, MID: r.MID, TID: r.TID, Amount: rec.amount, At: rec.at}
}

// Repeated reports whether r is an identical retransmission of a financial
// request the host has already answered.
func (h *Host) Repeated(r *txn.Request) bool {
	h.mu.Lock()
	t := h.terminals[terminalKey{r.MID, r.TID}]
	h.mu.Unlock()
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	seen, ok := t.seen[dupKey{class: dupClass(r), stan: r.STAN, batch: t.batchOf(r)}]
	return ok && seen.fingerprint == r.Fingerprint
}
