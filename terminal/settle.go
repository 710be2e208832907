package terminal

import (
	"fmt"
	"strconv"

	"github.com/acqsim/acqsim/txn"
)

// Totals are the terminal's own settlement totals for its batch, counted the
// way its dialect counts them.
func (t *Terminal) Totals() txn.Totals {
	var tot txn.Totals
	for _, r := range t.State.Records {
		tot.Count(r.Type, r.Amount, r.Voided, t.cfg.Dialect.VoidsAsCredits)
	}
	return tot
}

// Settle settles the batch from the terminal's own record: the settlement
// request with its totals; when the host says they are out of balance, every
// transaction uploaded; then the end of the batch. The batch is then closed
// and the next one starts. It returns every exchange it made; the pending
// reversal sent first rides on the first one's Reversals, and when it gets
// no answer, nothing is settled and the reversals are all it returns.
func (t *Terminal) Settle() ([]*Exchange, error) {
	return t.settle(t.Totals())
}

// SettleWithTotals settles claiming the given totals, to drive a host's
// out-of-balance path on purpose.
func (t *Terminal) SettleWithTotals(tot txn.Totals) ([]*Exchange, error) {
	return t.settle(tot)
}

func (t *Terminal) settle(tot txn.Totals) ([]*Exchange, error) {
	revs, err := t.beforeOnline()
	if err != nil {
		return revs, fmt.Errorf("settlement not sent: %w", err)
	}
	var xs []*Exchange
	d := t.cfg.Dialect
	v := t.values()
	v.Totals = tot
	m, _, err := t.build(txn.Settlement, v)
	if err != nil {
		return revs, err
	}
	x, err := t.Send(txn.Settlement, m)
	x.Reversals = revs
	xs = append(xs, x)
	if err != nil {
		return xs, err
	}

	balanced, ok := d.Settled(x.Response)
	if !ok {
		return xs, fmt.Errorf("settlement: RC %s", x.RC())
	}
	if !balanced {
		for _, r := range t.State.Records {
			x, err := t.upload(r)
			xs = append(xs, x)
			if err != nil {
				return xs, err
			}
		}
	}
	if !d.BalancedCloses || !balanced {
		x, err := t.uploadEnd(tot, balanced)
		xs = append(xs, x)
		if err != nil {
			return xs, err
		}
	}
	settled := t.State.Records
	t.closeBatch()
	tcs, err := t.uploadTCs(settled)
	return append(xs, tcs...), err
}

// upload sends one transaction of the batch (0320).
func (t *Terminal) upload(r Record) (*Exchange, error) {
	v := t.values()
	v.Amount, v.Orig = r.Amount, original(&r)
	if r.TC != "" { // a chip card's record: its TC
		v.ICC, v.Batch = r.TC, r.Batch
		if c := t.cfg.Card.Chip; c != nil {
			v.CardSeq = "0" + c.PSN
		}
	}
	m, _, err := t.build(txn.Upload, v)
	if err != nil {
		return &Exchange{Type: txn.Upload}, err
	}
	return t.Send(txn.Upload, m)
}

// uploadEnd ends the batch: the cup 0320 with 60.3 202 (after an
// out-of-balance upload) or 207, or the iso87 0500 trailer (F3 960000).
func (t *Terminal) uploadEnd(tot txn.Totals, balanced bool) (*Exchange, error) {
	v := t.values()
	v.Totals, v.Uploaded = tot, !balanced
	if !balanced {
		v.UploadCount = len(t.State.Records)
	}
	m, _, err := t.build(txn.UploadEnd, v)
	if err != nil {
		return &Exchange{Type: txn.UploadEnd}, err
	}
	return t.Send(txn.UploadEnd, m)
}

func (t *Terminal) closeBatch() {
	n, _ := strconv.Atoi(t.State.Batch)
	t.State.Batch = fmt.Sprintf("%06d", n%999999+1)
	t.State.Records = nil
}
