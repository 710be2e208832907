package terminal

import (
	"fmt"
	"strconv"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/keys"
	"github.com/acqsim/acqsim/txn"
)

// msg starts a request with the fields every one carries.
func (t *Terminal) msg(mti string) *iso8583.Message {
	m := iso8583.NewMessage(t.cfg.Dialect.Spec)
	m.MTI(mti)
	m.Field(11, t.nextSTAN())
	m.Field(41, t.cfg.TID)
	m.Field(42, t.cfg.MID)
	if !t.isCUP() {
		now := time.Now()
		m.Field(12, now.Format("150405"))
		m.Field(13, now.Format("0102"))
	}
	return m
}

// cardMsg starts a financial request: card, processing code, amount.
func (t *Terminal) cardMsg(mti, proc string, amt int64, cond string) *iso8583.Message {
	m := t.msg(mti)
	c := t.cfg.Card
	m.Field(2, c.PAN)
	m.Field(3, proc)
	if amt > 0 {
		m.Field(4, amount(amt))
	}
	if c.Expiry != "" {
		m.Field(14, c.Expiry)
	}
	if c.Track2 != "" {
		m.Field(22, "021")
		m.Field(35, c.Track2)
	} else {
		m.Field(22, "012")
	}
	m.Field(25, cond)
	m.Field(49, t.cfg.Currency)
	t.mac(m)
	return m
}

// mac marks a cup request for a MAC once the terminal holds a MAC key; the
// wire writer computes it over the packed message.
func (t *Terminal) mac(m *iso8583.Message) {
	if t.isCUP() && t.wire.macKey != nil {
		m.BinaryField(64, make([]byte, 8))
	}
}

// f60 sets the cup field 60: transaction type, batch, network management code.
func (t *Terminal) f60(m *iso8583.Message, kind, net string) {
	if t.isCUP() {
		m.Field(60, kind+t.State.Batch+net)
	}
}

// f61 refers a cup request to an original: its batch, trace and date.
func (t *Terminal) f61(m *iso8583.Message, orig *Record) {
	if t.isCUP() && orig != nil {
		m.Field(61, orig.Batch+orig.STAN+orig.Date)
	}
}

// network sends sign-on, sign-off or echo.
func (t *Terminal) network(typ txn.Type) (*Exchange, error) {
	var m *iso8583.Message
	if t.isCUP() {
		mti, net := "0820", map[txn.Type]string{txn.SignOff: "002", txn.Echo: "301"}[typ]
		if typ == txn.SignOn {
			mti, net = "0800", t.cfg.KeyVariant
		}
		m = t.msg(mti)
		t.f60(m, "00", net)
	} else {
		m = t.msg("0800")
		m.Field(70, map[txn.Type]string{txn.SignOn: "001", txn.SignOff: "002", txn.Echo: "301"}[typ])
	}
	x, err := t.Send(typ, m)
	if err == nil && typ == txn.SignOn && t.isCUP() && x.RC() == txn.Approved {
		if v := x.Get(60); len(v) >= 8 {
			t.State.Batch = v[2:8] // the host says which batch to use
		}
		if f := x.Response.GetField(62); f != nil {
			raw, _ := f.Bytes()
			_, mac, _, kerr := keys.SplitWorkingKeys(t.cfg.MasterKey, raw, t.cfg.KeyVariant)
			if kerr != nil {
				return x, fmt.Errorf("sign-on: %w", kerr)
			}
			t.wire.macKey = mac
		}
	}
	return x, err
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

// Sale charges amt (minor units) to the card.
func (t *Terminal) Sale(amt int64) (*Exchange, error) {
	m := t.cardMsg("0200", "000000", amt, "00")
	t.f60(m, "22", "000")
	return t.financial(txn.Sale, m)
}

// Refund gives amt back, referring to the original sale when one is given.
func (t *Terminal) Refund(amt int64, orig *Record) (*Exchange, error) {
	mti := "0200"
	if t.isCUP() {
		mti = "0220"
	}
	m := t.cardMsg(mti, "200000", amt, "00")
	if orig != nil && t.isCUP() {
		m.Field(37, orig.RRN)
	}
	t.f60(m, "25", "000")
	t.f61(m, orig)
	return t.financial(txn.Refund, m)
}

// Balance asks for the card's balance (F54 of the response).
func (t *Terminal) Balance() (*Exchange, error) {
	m := t.cardMsg("0200", "310000", 0, "00")
	t.f60(m, "01", "000")
	return t.online(txn.Balance, m)
}

// PreAuth reserves amt on the card.
func (t *Terminal) PreAuth(amt int64) (*Exchange, error) {
	proc := "300000"
	if t.isCUP() {
		proc = "030000"
	}
	m := t.cardMsg("0100", proc, amt, "06")
	t.f60(m, "10", "000")
	return t.financial(txn.PreAuth, m)
}

// Completion completes a pre-authorisation online, or as an advice (0220).
func (t *Terminal) Completion(amt int64, preauth *Record, advice bool) (*Exchange, error) {
	mti, kind := "0200", "20"
	if advice {
		mti, kind = "0220", "24"
	}
	m := t.cardMsg(mti, "000000", amt, "06")
	if preauth != nil {
		m.Field(38, preauth.Auth)
	}
	t.f60(m, kind, "000")
	t.f61(m, preauth)
	return t.financial(txn.Completion, m)
}

// Advice sends an offline sale the terminal approved itself (0220).
func (t *Terminal) Advice(amt int64) (*Exchange, error) {
	m := t.cardMsg("0220", "000000", amt, "00")
	m.Field(38, "OFF001")
	t.f60(m, "30", "000")
	return t.financial(txn.Advice, m)
}

// Void cancels an approved sale, completion or pre-authorisation of the batch.
func (t *Terminal) Void(orig *Record) (*Exchange, error) {
	typ, mti, proc, kind, cond := txn.Void, "0200", "020000", "23", "00"
	switch {
	case orig.Type == txn.PreAuth:
		typ, mti, kind, cond = txn.PreAuthVoid, "0100", "11", "06"
	case orig.Type == txn.Completion:
		kind, cond = "21", "06"
		if t.isCUP() { // iso87ascii voids a completion with a plain void
			typ = txn.CompletionVoid
		}
	}
	if t.isCUP() {
		proc = "200000"
	}
	m := t.cardMsg(mti, proc, orig.Amount, cond)
	m.Field(37, orig.RRN)
	if orig.Auth != "" {
		m.Field(38, orig.Auth)
	}
	t.f60(m, kind, "000")
	t.f61(m, orig)
	x, err := t.financial(typ, m)
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
	m := t.reversalMsg(stan, proc, origMTI, amt, reason, advice)
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
// code, MTI and amount.
func (t *Terminal) reversalMsg(stan, proc, origMTI string, amt int64, reason string, advice bool) *iso8583.Message {
	mti := "0400"
	if advice {
		mti = "0420"
	}
	m := t.cardMsg(mti, proc, amt, "00")
	m.Field(11, stan) // the original's STAN
	t.State.STAN--    // ...so the terminal's own counter did not move
	m.Field(39, reason)
	if advice && !t.isCUP() {
		m.Field(90, origMTI+stan+"0000000000"+"00000000000"+"00000000000")
	}
	t.f60(m, "22", "000")
	return m
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
