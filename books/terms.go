package books

import (
	"math"
	"slices"
	"time"

	"github.com/acqsim/acqsim/txn"
)

// Product is a merchant's settlement product, as the books work out a
// transaction's terms from it.
type Product struct {
	// Mode is T0 (real-time crediting) or T1; "" is T1.
	Mode string
	// Fees is the fee schedule; nil charges no fee.
	Fees *Fees
	// FundsDelay makes the funds arrive this much later than the mode
	// promises.
	FundsDelay time.Duration
	// Faults names the books faults applied on purpose (see RegisterFault);
	// names not registered are ignored.
	Faults []string
}

// Fees is a merchant's fee schedule.
type Fees struct {
	// Debit and Credit are rates by card type, e.g. 0.0055 for 0.55%.
	Debit, Credit float64
	// DebitCap caps a debit card's fee, in minor units (0: no cap).
	DebitCap int64
	// Fixed is added to every fee, in minor units.
	Fixed int64
	// RefundReturned gives a refund's fee back (a negative fee); otherwise
	// a refund carries none.
	RefundReturned bool
}

// FeeWork is a fee as it is worked out for one transaction: what a FeeFault
// changes.
type FeeWork struct {
	// Fees is the merchant's schedule and CardType the card's type.
	Fees     Fees
	CardType string
	// Rate is the rate charged: the card type's.
	Rate float64
	// Cap caps the fee before its fixed part (0: no cap): the debit cap,
	// for a debit card.
	Cap int64
	// RoundUp rounds any part of a minor unit up instead of half up.
	RoundUp bool
}

// Fee is the fee for a transaction of type typ and amount on a card of
// cardType: the rate for its card type, rounded half up to the minor unit,
// capped for debit cards, plus the fixed part; a refund pays none, or gets
// its fee back (negative). The fee faults change it the way a buggy acquirer
// would.
func (f Fees) Fee(typ txn.Type, amount int64, cardType string, faults ...FeeFault) int64 {
	if typ == txn.Refund && !f.RefundReturned {
		return 0
	}
	w := FeeWork{Fees: f, CardType: cardType, Rate: f.Credit}
	if cardType == "debit" {
		w.Rate, w.Cap = f.Debit, f.DebitCap
	}
	for _, fault := range faults {
		w = fault.Fee(w)
	}
	// In parts per million, so that 0.0055 is exact.
	ppm := int64(math.Round(w.Rate * 1e6))
	fee := (amount*ppm + 500_000) / 1_000_000
	if w.RoundUp {
		fee = (amount*ppm + 999_999) / 1_000_000
	}
	if w.Cap > 0 && fee > w.Cap {
		fee = w.Cap
	}
	fee += f.Fixed
	if typ == txn.Refund {
		return -fee
	}
	return fee
}

// Terms work out how a transaction of the product's merchant settles when
// made at now on a card of cardType, dated by cal: T1 settles on the next
// working day after the clearing date, funds at 09:00 then; T0 on the
// clearing date, funds at once; both later by the funds delay. The fee is
// the schedule's, except for a void, which carries none. The books faults
// applied are named in the order registered, by kind: mode, calendar, fee
// (named only where a fee is worked out), report.
func (p *Product) Terms(typ txn.Type, amount int64, cardType string, cal Calendar, now time.Time) *txn.Terms {
	t := &txn.Terms{Mode: p.Mode, CardType: cardType}
	if t.Mode == "" {
		t.Mode = "T1"
	}
	// Room for every fault there is, on the stack: a fault costs a faulted
	// exchange no allocation but its name in the terms.
	var feeArr [8]FeeFault
	var feeNameArr, calArr, reportArr [8]string
	fees, feeNames, calNames, reports := feeArr[:0], feeNameArr[:0], calArr[:0], reportArr[:0]
	for _, name := range faults.names {
		if !slices.Contains(p.Faults, name) {
			continue
		}
		switch f := faults.byName[name].(type) {
		case ModeFault:
			if mode, changed := f.Mode(t.Mode); changed {
				t.Mode = mode
				t.Faults = append(t.Faults, name)
			}
		case CalendarFault:
			cal = f.Calendar(cal)
			calNames = append(calNames, name)
		case FeeFault:
			fees, feeNames = append(fees, f), append(feeNames, name)
		case ReportFault:
			reports = append(reports, name)
		}
	}
	t.Faults = append(t.Faults, calNames...)
	if t.Mode == "T0" {
		t.Settlement = cal.ClearingDate(now)
		t.FundsAt = now
	} else {
		t.Settlement = cal.SettlementDate(now)
		t.FundsAt = t.Settlement.Add(9 * time.Hour)
	}
	t.FundsAt = t.FundsAt.Add(p.FundsDelay)
	if p.Fees != nil && txn.Of(typ).Side != txn.Undo {
		t.Fee = p.Fees.Fee(typ, amount, cardType, fees...)
		t.Faults = append(t.Faults, feeNames...)
	}
	t.Faults = append(t.Faults, reports...)
	return t
}

// Within is the calendar dated in the host's time zone when it names none
// of its own (a scenario's calendar without a time zone).
func (c Calendar) Within(host Calendar) Calendar {
	if c.Location == nil {
		c.Location = host.Location
	}
	return c
}
