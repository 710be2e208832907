package terminal

import (
	"fmt"
	"strconv"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/keys"
	"github.com/acqsim/acqsim/txn"
)

// values starts a request's values: the terminal, its card, its batch and
// its keys. The trace number is the caller's to give.
func (t *Terminal) values() dialect.Values {
	c := t.cfg.Card
	return dialect.Values{
		TID: t.cfg.TID, MID: t.cfg.MID, PAN: c.PAN, Expiry: c.Expiry, Track2: c.Track2, EntryMode: c.EntryMode,
		Currency: t.cfg.Currency, Batch: t.State.Batch, KeyVariant: t.cfg.KeyVariant,
		MAC: t.wire.macKey != nil,
	}
}

// build makes a request of typ as the terminal's dialect writes it, with
// the next trace number unless v has one. It returns the type the host
// takes it for (iso87 voids a completion with a plain void).
func (t *Terminal) build(typ txn.Type, v dialect.Values) (*iso8583.Message, txn.Type, error) {
	if v.STAN == "" {
		v.STAN = t.nextSTAN()
	}
	return t.cfg.Dialect.Build(typ, v)
}

// original is a booked transaction as a request refers to it.
func original(r *Record) dialect.Original {
	if r == nil {
		return dialect.Original{}
	}
	return dialect.Original{MTI: r.MTI, Proc: r.Proc, STAN: r.STAN, Batch: r.Batch, Date: r.Date, RRN: r.RRN, Auth: r.Auth}
}

// network sends sign-on, sign-off or echo.
func (t *Terminal) network(typ txn.Type) (*Exchange, error) {
	m, _, err := t.build(typ, t.values())
	if err != nil {
		return &Exchange{Type: typ}, err
	}
	x, err := t.Send(typ, m)
	if err != nil || typ != txn.SignOn || x.RC() != txn.Approved {
		return x, err
	}
	d := t.cfg.Dialect
	if b := d.Batch(x.Response); b != "" {
		t.State.Batch = b // the host says which batch to use
	}
	if id := d.KeysField(); id != 0 {
		if f := x.Response.GetField(id); f != nil {
			raw, _ := f.Bytes()
			_, mac, _, kerr := keys.SplitWorkingKeys(t.cfg.MasterKey, raw, t.cfg.KeyVariant)
			if kerr != nil {
				return x, fmt.Errorf("sign-on: %w", kerr)
			}
			t.wire.macKey = mac
		}
	}
	return x, nil
}

// SignOn signs the terminal on (cup: and collects working keys).
func (t *Terminal) SignOn() (*Exchange, error) { return t.network(txn.SignOn) }

// SignOff signs the terminal off.
func (t *Terminal) SignOff() (*Exchange, error) { return t.network(txn.SignOff) }

// Echo tests the line.
func (t *Terminal) Echo() (*Exchange, error) { return t.network(txn.Echo) }

// online sends a request of a transaction: the pending reversal first
// (unless Config.ManualReversal), and when the request is one a terminal
// reverses and its answer does not come, it becomes the pending reversal.
// When the pending reversal gets no answer, m is not sent: the exchange
// returned is m without a response, its Reversals the attempts, and the error
// wraps ErrReversalPending.
func (t *Terminal) online(typ txn.Type, m *iso8583.Message) (*Exchange, error) {
	revs, err := t.beforeOnline()
	if err != nil {
		// m took the last trace number (a reversal's takes none): free it.
		t.State.STAN--
		return &Exchange{Type: typ, Request: m, Reversals: revs}, fmt.Errorf("%s not sent: %w", typ, err)
	}
	x, err := t.Send(typ, m)
	x.Reversals = revs
	if err != nil && reversible(typ, m) {
		t.pend(typ, m, err)
	}
	return x, err
}

// reversible reports whether a terminal reverses the request when it gets no
// answer: the online requests that move money (0100, 0200), not a balance
// enquiry, and not an advice (0220), which is repeated instead.
func reversible(typ txn.Type, m *iso8583.Message) bool {
	mti, _ := m.GetMTI()
	return typ != txn.Balance && (mti == "0100" || mti == "0200")
}

// financial sends a request and, when approved, books it in the batch.
func (t *Terminal) financial(typ txn.Type, m *iso8583.Message) (*Exchange, error) {
	x, err := t.online(typ, m)
	if err != nil || x.RC() != txn.Approved {
		return x, err
	}
	mti, _ := m.GetMTI()
	t.State.Records = append(t.State.Records, Record{
		Type: typ, MTI: mti, Proc: field(m, 3), STAN: field(m, 11), RRN: x.Get(37), Auth: x.Get(38),
		Amount: t.amountOf(m), Date: time.Now().Format("0102"), Batch: t.State.Batch,
	})
	return x, nil
}

func (t *Terminal) amountOf(m *iso8583.Message) int64 {
	n, _ := strconv.ParseInt(field(m, 4), 10, 64)
	return n
}

// card sends a card request of typ built from v, and books it when approved.
func (t *Terminal) card(typ txn.Type, v dialect.Values) (*Exchange, error) {
	if t.cfg.Card.Chip != nil && chipReads(typ) {
		return t.chipCard(typ, v)
	}
	m, _, err := t.build(typ, v)
	if err != nil {
		return &Exchange{Type: typ}, err
	}
	return t.financial(typ, m)
}

// Sale charges amt (minor units) to the card.
func (t *Terminal) Sale(amt int64) (*Exchange, error) {
	v := t.values()
	v.Amount = amt
	return t.card(txn.Sale, v)
}

// Refund gives amt back, referring to the original sale when one is given.
func (t *Terminal) Refund(amt int64, orig *Record) (*Exchange, error) {
	v := t.values()
	v.Amount, v.Orig = amt, original(orig)
	return t.card(txn.Refund, v)
}

// Balance asks for the card's balance (F54 of the response).
func (t *Terminal) Balance() (*Exchange, error) {
	if t.cfg.Card.Chip != nil {
		return t.chipCard(txn.Balance, t.values())
	}
	m, _, err := t.build(txn.Balance, t.values())
	if err != nil {
		return &Exchange{Type: txn.Balance}, err
	}
	return t.online(txn.Balance, m)
}

// PreAuth reserves amt on the card.
func (t *Terminal) PreAuth(amt int64) (*Exchange, error) {
	v := t.values()
	v.Amount = amt
	return t.card(txn.PreAuth, v)
}

// Completion completes a pre-authorisation online, or as an advice (0220).
func (t *Terminal) Completion(amt int64, preauth *Record, advice bool) (*Exchange, error) {
	v := t.values()
	v.Amount, v.Orig, v.Advice = amt, original(preauth), advice
	return t.card(txn.Completion, v)
}

// Advice sends an offline sale the terminal approved itself (0220).
func (t *Terminal) Advice(amt int64) (*Exchange, error) {
	v := t.values()
	v.Amount = amt
	return t.card(txn.Advice, v)
}

// Void cancels an approved sale, completion or pre-authorisation of the batch.
func (t *Terminal) Void(orig *Record) (*Exchange, error) {
	typ := txn.Void
	switch orig.Type {
	case txn.PreAuth:
		typ = txn.PreAuthVoid
	case txn.Completion:
		typ = txn.CompletionVoid
	}
	v := t.values()
	v.Amount, v.Orig = orig.Amount, original(orig)
	m, sent, err := t.build(typ, v)
	if err != nil {
		return &Exchange{Type: typ}, err
	}
	// As the host takes it: a dialect without a void of its own for a
	// completion sends a plain one.
	x, err := t.financial(sent, m)
	if err == nil && x.RC() == txn.Approved {
		t.State.Records[len(t.State.Records)-1].Orig = orig.STAN
		t.markVoided(orig.STAN)
	}
	return x, err
}

func (t *Terminal) markVoided(stan string) {
	for i := range t.State.Records {
		if t.State.Records[i].STAN == stan {
			t.State.Records[i].Voided = true
		}
	}
}

// Reverse reverses the transaction with the given STAN, as a terminal does when
// it got no answer: same STAN, F39 = reason (98 no response, A0 MAC error, 06
// other). amt zero means the original's amount (from the batch, or from the
// pending reversal); a transaction the terminal never booked can be reversed
// too, given amt. advice sends 0420 (with F90) instead of 0400. A reversal
// that gets no answer becomes the pending one; one that is answered is no
// longer pending.
func (t *Terminal) Reverse(stan string, amt int64, reason string, advice bool) (*Exchange, error) {
	proc, origMTI := "000000", "0200"
	if r := t.record(stan); r != nil {
		proc, origMTI = r.Proc, r.MTI
		if amt == 0 {
			amt = r.Amount
		}
	} else if p := t.State.Pending; p != nil && p.STAN == stan {
		proc, origMTI = p.Proc, p.MTI
		if amt == 0 {
			amt = p.Amount
		}
	}
	m, err := t.reversalMsg(stan, proc, origMTI, amt, reason, advice)
	if err != nil {
		return &Exchange{Type: txn.Reversal}, err
	}
	var revs []*Exchange
	if p := t.State.Pending; p == nil || p.STAN != stan {
		var err error
		if revs, err = t.beforeOnline(); err != nil {
			return &Exchange{Type: txn.Reversal, Request: m, Reversals: revs}, fmt.Errorf("reversal not sent: %w", err)
		}
	}
	x, err := t.Send(txn.Reversal, m)
	x.Reversals = revs
	if err != nil {
		t.pend(txn.Reversal, m, err)
		return x, err
	}
	t.reversed(stan, x)
	return x, nil
}

// reversalMsg is the reversal of the request with the given STAN, processing
// code, MTI and amount: it carries the original's STAN, so the terminal's own
// counter does not move.
func (t *Terminal) reversalMsg(stan, proc, origMTI string, amt int64, reason string, advice bool) (*iso8583.Message, error) {
	v := t.values()
	v.STAN, v.Proc, v.Amount, v.Reason, v.Advice = stan, proc, amt, reason, advice
	v.Orig = dialect.Original{MTI: origMTI, STAN: stan}
	m, _, err := t.build(txn.Reversal, v)
	return m, err
}

// Last returns the latest booked transaction of the given types that is not
// voided, or nil.
func (t *Terminal) Last(types ...txn.Type) *Record {
	for i := len(t.State.Records) - 1; i >= 0; i-- {
		r := &t.State.Records[i]
		for _, typ := range types {
			if r.Type == typ && !r.Voided {
				return r
			}
		}
	}
	return nil
}

// Repeat resends an earlier request as its repeat (0220 -> 0221, 0400 -> 0401),
// as a terminal does when the first got no answer.
func (t *Terminal) Repeat(x *Exchange) (*Exchange, error) {
	m, err := repeat(x.Request)
	if err != nil {
		return nil, err
	}
	return t.Send(x.Type, m)
}
