package books

import (
	"fmt"
	"strings"
)

// Fault is a books fault: a way a buggy acquirer gets a merchant's
// settlement wrong, which a scenario applies on purpose (a merchant's
// settlement faults). Each is a small type, registered by name; what it
// changes it says itself, by being a ModeFault, a CalendarFault, a FeeFault
// or a ReportFault.
type Fault interface {
	// Doc says in a few words what the fault does, as the scenario format's
	// documentation lists it.
	Doc() string
}

// ModeFault settles a transaction in another mode than the merchant's
// product.
type ModeFault interface {
	Fault
	// Mode is the mode a transaction of a merchant that bought product
	// settles in, and whether the fault changed it (the terms name the
	// fault only then).
	Mode(product string) (mode string, changed bool)
}

// CalendarFault dates settlement by a calendar other than the one the books
// keep. The terms always name it.
type CalendarFault interface {
	Fault
	// Calendar is the calendar a transaction is dated by instead of c.
	Calendar(c Calendar) Calendar
}

// FeeFault works a fee out wrong. The terms name it whenever a fee is
// worked out.
type FeeFault interface {
	Fault
	// Fee is how the fee is worked out instead of w.
	Fee(w FeeWork) FeeWork
}

// ReportFault has a settlement report charge a transaction that carries
// nothing. The terms always name it.
type ReportFault interface {
	Fault
	// Charges reports whether a transaction left in state (voided,
	// reversed, ...) is charged its fee all the same.
	Charges(state string) bool
}

var faults = struct {
	byName map[string]Fault
	names  []string // in the order registered
}{byName: map[string]Fault{}}

// RegisterFault makes a books fault available to scenarios under name.
// The faults are listed, and a transaction's terms name them, in the order
// they were registered.
func RegisterFault(name string, f Fault) {
	if _, dup := faults.byName[name]; dup {
		panic("books: fault " + name + " registered twice")
	}
	faults.byName[name] = f
	faults.names = append(faults.names, name)
}

// LookupFault returns the books fault registered under name; the error lists
// the ones there are.
func LookupFault(name string) (Fault, error) {
	f, ok := faults.byName[name]
	if !ok {
		return nil, fmt.Errorf("want one of %s", strings.Join(FaultNames(), ", "))
	}
	return f, nil
}

// FaultNames lists the registered books faults, in the order registered.
func FaultNames() []string {
	return append([]string(nil), faults.names...)
}

// Charged reports whether a books fault among the named ones has a
// settlement report charge the fee of a transaction left in state, which
// otherwise carries nothing (fee-on-void: a voided sale keeps its fee).
func Charged(named []string, state string) bool {
	for _, name := range named {
		if f, ok := faults.byName[name].(ReportFault); ok && f.Charges(state) {
			return true
		}
	}
	return false
}

// The faults, in the order the scenario format has always listed them: a
// load error names them so, and the terms name the ones applied by kind
// (mode, calendar, fee, report) and, within a kind, so.
func init() {
	RegisterFault("fee-wrong-tier", FeeWrongTier{})
	RegisterFault("fee-no-cap", FeeNoCap{})
	RegisterFault("fee-rounding", FeeRounding{})
	RegisterFault("fee-on-void", FeeOnVoid{})
	RegisterFault("holiday-ignored", HolidayIgnored{})
	RegisterFault("t0-settled-t1", T0SettledT1{})
}

// FeeWrongTier charges the other card type's rate: debit cards the credit
// rate, credit cards the debit rate. The cap still goes by the card.
type FeeWrongTier struct{}

func (FeeWrongTier) Doc() string { return "the other card type's rate" }

func (FeeWrongTier) Fee(w FeeWork) FeeWork {
	if w.CardType == "debit" {
		w.Rate = w.Fees.Credit
	} else {
		w.Rate = w.Fees.Debit
	}
	return w
}

// FeeNoCap leaves a debit card's fee uncapped.
type FeeNoCap struct{}

func (FeeNoCap) Doc() string           { return "the debit cap not applied" }
func (FeeNoCap) Fee(w FeeWork) FeeWork { w.Cap = 0; return w }

// FeeRounding rounds every part of a minor unit up.
type FeeRounding struct{}

func (FeeRounding) Doc() string           { return "rounded up, not to nearest" }
func (FeeRounding) Fee(w FeeWork) FeeWork { w.RoundUp = true; return w }

// FeeOnVoid has the report charge a voided sale its fee (and pay nothing
// for it). The fee itself is right.
type FeeOnVoid struct{}

func (FeeOnVoid) Doc() string               { return "a voided sale keeps its fee" }
func (FeeOnVoid) Charges(state string) bool { return state == string(voided) }

// HolidayIgnored dates settlement skipping weekends but not holidays.
type HolidayIgnored struct{}

func (HolidayIgnored) Doc() string { return "settlement dates skip weekends but not holidays" }

func (HolidayIgnored) Calendar(c Calendar) Calendar {
	c.Holidays = nil // a copy: the books' calendar keeps its holidays
	return c
}

// T0SettledT1 pays a merchant that bought T0 (real-time crediting) T1.
type T0SettledT1 struct{}

func (T0SettledT1) Doc() string { return "a T0 merchant paid T1" }

func (T0SettledT1) Mode(product string) (string, bool) {
	if product == "T0" {
		return "T1", true
	}
	return product, false
}

// Interface guards: each fault has the effect it says it has.
var (
	_ FeeFault      = FeeWrongTier{}
	_ FeeFault      = FeeNoCap{}
	_ FeeFault      = FeeRounding{}
	_ ReportFault   = FeeOnVoid{}
	_ CalendarFault = HolidayIgnored{}
	_ ModeFault     = T0SettledT1{}
)
