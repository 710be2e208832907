package terminal

import (
	"fmt"
	"strconv"

	"github.com/acqsim/acqsim/host/dialect"
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
	m := t.msg("0500")
	if t.isCUP() {
		m.Field(48, dialect.CupTotals(tot, txn.NotReconciled, txn.NotReconciled))
		m.Field(49, t.cfg.Currency)
		t.f60(m, "00", "201")
	} else {
		m.Field(3, "920000")
		m.Field(60, t.State.Batch)
		m.Field(63, iso87Totals(tot))
	}
	x, err := t.Send(txn.Settlement, m)
	x.Reversals = revs
	xs = append(xs, x)
	if err != nil {
		return xs, err
	}

	balanced := x.RC() == txn.Approved
	if t.isCUP() {
		f48 := x.Get(48)
		if x.RC() != txn.Approved || len(f48) < 62 {
			return xs, fmt.Errorf("settlement: RC %s", x.RC())
		}
		balanced = f48[30] == '1' && f48[61] == '1'
	} else if x.RC() != txn.Approved && x.RC() != txn.OutOfBalance {
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
	if t.isCUP() || !balanced {
		x, err := t.uploadEnd(tot, balanced)
		xs = append(xs, x)
		if err != nil {
			return xs, err
		}
	}
	t.closeBatch()
	return xs, nil
}

func iso87Totals(t txn.Totals) string {
	return fmt.Sprintf("%03d%012d%03d%012d", t.DebitCount, t.DebitAmount, t.CreditCount, t.CreditAmount)
}

// upload sends one transaction of the batch (0320).
func (t *Terminal) upload(r Record) (*Exchange, error) {
	m := t.msg("0320")
	if t.isCUP() {
		pan := fmt.Sprintf("%020s", t.cfg.Card.PAN)
		m.Field(48, "01"+"00"+r.STAN+pan+amount(r.Amount))
		t.f60(m, "00", "201")
	} else {
		m.Field(2, t.cfg.Card.PAN)
		m.Field(3, r.Proc)
		m.Field(4, amount(r.Amount))
		if r.RRN != "" {
			m.Field(37, r.RRN)
		}
		if r.Auth != "" {
			m.Field(38, r.Auth)
		}
		m.Field(60, r.MTI+r.STAN)
	}
	return t.Send(txn.Upload, m)
}

// uploadEnd ends the batch: the cup 0320 with 60.3 202 (after an
// out-of-balance upload) or 207, or the iso87 0500 trailer (F3 960000).
func (t *Terminal) uploadEnd(tot txn.Totals, balanced bool) (*Exchange, error) {
	if t.isCUP() {
		m := t.msg("0320")
		net, n := "207", 0
		if !balanced {
			net, n = "202", len(t.State.Records)
		}
		m.Field(48, fmt.Sprintf("%04d", n))
		t.f60(m, "00", net)
		return t.Send(txn.UploadEnd, m)
	}
	m := t.msg("0500")
	m.Field(3, "960000")
	m.Field(60, t.State.Batch)
	m.Field(63, iso87Totals(tot))
	return t.Send(txn.UploadEnd, m)
}

func (t *Terminal) closeBatch() {
	n, _ := strconv.Atoi(t.State.Batch)
	t.State.Batch = fmt.Sprintf("%06d", n%999999+1)
	t.State.Records = nil
}
