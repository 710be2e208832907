package terminal

import (
	"errors"
	"fmt"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"
	iso8583errors "github.com/moov-io/iso8583/errors"

	"github.com/acqsim/acqsim/txn"
)

// ReversalRetries is how many times a terminal resends a reversal that got no
// answer, after the first (DOMAIN.md §5).
const ReversalRetries = 3

// Reversal is a transaction the terminal must reverse because it cannot know
// what the host did with it: its request got no answer (the timeout, or the
// line lost before the answer: reason 98), or the approval's MAC did not
// verify (A0). It stays in State, across runs of `acqsim send` too, until a
// reversal of it is answered.
type Reversal struct {
	Type txn.Type `json:"type"`
	// MTI, Proc, STAN and Amount are the original request's: its reversal
	// carries them.
	MTI    string `json:"mti"`
	Proc   string `json:"proc"`
	STAN   string `json:"stan"`
	Amount int64  `json:"amount"`
	// Reason is the reversal's F39.
	Reason string `json:"reason"`
	// Sent counts the reversals of it already sent without an answer; the
	// ones after the first go as repeats (0401).
	Sent int `json:"sent,omitempty"`
}

// ErrReversalPending reports a request the terminal did not send because the
// reversal before it got no answer: a terminal sends nothing online while a
// reversal is pending.
var ErrReversalPending = errors.New("the pending reversal got no answer")

// noResponse is the error of a request that got no answer in time. It is a
// connection.ErrSendTimeout, with the wait in its message.
type noResponse struct{ after time.Duration }

func (e noResponse) Error() string { return "no response from the host in " + seconds(e.after) }
func (e noResponse) Unwrap() error { return connection.ErrSendTimeout }

// seconds writes a whole number of seconds as "60s", not "1m0s".
func seconds(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// pend keeps an online request whose answer the terminal does not have as
// the reversal it owes. A request that was never written (it did not pack)
// needs none; the one already pending stays, as a terminal holds one.
func (t *Terminal) pend(typ txn.Type, m *iso8583.Message, err error) {
	var packErr *iso8583errors.PackError
	if err == nil || errors.As(err, &packErr) {
		return
	}
	stan := field(m, 11)
	if p := t.State.Pending; p != nil {
		if p.STAN == stan && typ == txn.Reversal {
			p.Sent++
		}
		return // a terminal owes one reversal at a time: the older stays
	}
	mti, _ := m.GetMTI()
	p := &Reversal{Type: typ, MTI: mti, Proc: field(m, 3), STAN: stan, Amount: t.amountOf(m), Reason: "98"}
	if errors.Is(err, ErrBadMAC) {
		p.Reason = txn.MACError
	}
	if typ == txn.Reversal { // a reversal that got no answer is still owed
		p.Type, p.MTI, p.Reason, p.Sent = t.origType(stan), t.origMTI(stan), field(m, 39), 1
	}
	t.State.Pending = p
}

// origMTI and origType describe the booked transaction with the STAN, for a
// reversal of it; a sale when the batch does not have it.
func (t *Terminal) origMTI(stan string) string {
	if r := t.record(stan); r != nil {
		return r.MTI
	}
	return "0200"
}

func (t *Terminal) origType(stan string) txn.Type {
	if r := t.record(stan); r != nil {
		return r.Type
	}
	return txn.Sale
}

func (t *Terminal) record(stan string) *Record {
	for i := range t.State.Records {
		if t.State.Records[i].STAN == stan {
			return &t.State.Records[i]
		}
	}
	return nil
}

// SendPendingReversal sends the reversal the terminal owes (State.Pending),
// if any, and resends it as a repeat up to ReversalRetries times while it
// gets no answer. It returns every exchange. Once one is answered, whatever
// its RC, the reversal is no longer pending; when none is, it stays pending
// and the error wraps ErrReversalPending. Unless Config.ManualReversal is
// set, the terminal calls it itself before each online request.
func (t *Terminal) SendPendingReversal() ([]*Exchange, error) {
	p := t.State.Pending
	if p == nil {
		return nil, nil
	}
	m, err := t.reversalMsg(p.STAN, p.Proc, p.MTI, p.Amount, p.Reason, false)
	if err != nil {
		return nil, err
	}
	var xs []*Exchange
	for try := 0; try <= ReversalRetries; try++ {
		req := m
		if p.Sent > 0 {
			if req, err = repeat(m); err != nil {
				return xs, err
			}
		}
		var x *Exchange
		x, err = t.Send(txn.Reversal, req)
		xs = append(xs, x)
		if err == nil {
			t.reversed(p.STAN, x)
			return xs, nil
		}
		p.Sent++
		if errors.Is(err, connection.ErrConnectionClosed) {
			break // the line is gone: the next connection sends it
		}
	}
	return xs, fmt.Errorf("%w: reversal of %s %s sent %d times: %w", ErrReversalPending, p.Type, p.STAN, len(xs), err)
}

// beforeOnline sends the pending reversal before an online request, unless
// the caller sends it itself (Config.ManualReversal).
func (t *Terminal) beforeOnline() ([]*Exchange, error) {
	if t.cfg.ManualReversal {
		return nil, nil
	}
	return t.SendPendingReversal()
}

// reversed updates the terminal's record after a reversal of stan was
// answered: nothing is pending for it any more, and an approved reversal
// takes the original out of the batch (a reversed void restores its
// original).
func (t *Terminal) reversed(stan string, x *Exchange) {
	if p := t.State.Pending; p != nil && p.STAN == stan {
		t.State.Pending = nil
	}
	if x.RC() != txn.Approved {
		return
	}
	for i := range t.State.Records {
		if t.State.Records[i].STAN != stan {
			continue
		}
		rev := t.State.Records[i]
		t.State.Records = append(t.State.Records[:i], t.State.Records[i+1:]...)
		if rev.Orig != "" {
			for j := range t.State.Records {
				if t.State.Records[j].STAN == rev.Orig {
					t.State.Records[j].Voided = false
				}
			}
		}
		return
	}
}

// repeat is a request's repeat: 0220 -> 0221, 0400 -> 0401.
func repeat(m *iso8583.Message) (*iso8583.Message, error) {
	c, err := m.Clone()
	if err != nil {
		return nil, err
	}
	mti, _ := c.GetMTI()
	c.MTI(mti[:3] + "1")
	return c, nil
}
