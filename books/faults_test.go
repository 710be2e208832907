package books_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/txn"
)

// The registry lists the books faults in the order scenario load errors and
// the format's documentation always have.
func TestFaultNames(t *testing.T) {
	want := []string{"fee-wrong-tier", "fee-no-cap", "fee-rounding", "fee-on-void", "holiday-ignored", "t0-settled-t1"}
	if got := books.FaultNames(); !slices.Equal(got, want) {
		t.Errorf("FaultNames() = %v, want %v", got, want)
	}
	for _, name := range want {
		f, err := books.LookupFault(name)
		if err != nil || f == nil {
			t.Errorf("LookupFault(%q) = %v, %v", name, f, err)
		}
	}
	_, err := books.LookupFault("fee-typo")
	if err == nil || err.Error() != "want one of "+strings.Join(want, ", ") {
		t.Errorf("LookupFault(fee-typo) error %v, want one listing %v", err, want)
	}
}

// Every registered fault has one kind of effect, and a line of
// documentation: the terms apply a fault by its kind, so one of two kinds
// would have only one of its effects.
func TestFaultKinds(t *testing.T) {
	for _, name := range books.FaultNames() {
		f, _ := books.LookupFault(name)
		kinds := 0
		for _, is := range []bool{isA[books.ModeFault](f), isA[books.CalendarFault](f), isA[books.FeeFault](f), isA[books.ReportFault](f)} {
			if is {
				kinds++
			}
		}
		if kinds != 1 {
			t.Errorf("%s is of %d kinds (mode, calendar, fee, report), want 1", name, kinds)
		}
		if f.Doc() == "" {
			t.Errorf("%s has no documentation line", name)
		}
	}
}

func isA[T any](f books.Fault) bool {
	_, ok := f.(T)
	return ok
}

// faultBench is what every books fault must change something of: the terms
// of a few transactions of a T0 merchant with fees, on a calendar with a
// holiday, and the report's view of a voided sale.
type faultBench struct {
	cal  books.Calendar
	at   time.Time
	reqs []struct {
		typ      txn.Type
		amount   int64
		cardType string
	}
}

func newFaultBench(t *testing.T) faultBench {
	cal := books.Calendar{CutOver: books.DefaultCutOver, Location: time.UTC}
	if err := cal.AddHoliday("2026-06-12"); err != nil {
		t.Fatal(err)
	}
	fb := faultBench{cal: cal, at: time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)}
	for _, r := range []struct {
		typ      txn.Type
		amount   int64
		cardType string
	}{
		{txn.Sale, 10010, "debit"},   // 50.05: rounds
		{txn.Sale, 1000000, "debit"}, // over the cap
		{txn.Sale, 10000, "credit"},  // the credit tier
		{txn.Refund, 10000, "debit"}, // a fee returned
		{txn.Void, 10000, "debit"},   // no fee
	} {
		fb.reqs = append(fb.reqs, r)
	}
	return fb
}

// outcome is everything a fault may change, but the names of the faults.
type outcome struct {
	terms   []txn.Terms
	charged bool
}

func (fb faultBench) run(mode string, faults []string) outcome {
	p := &books.Product{Mode: mode, Faults: faults, Fees: &books.Fees{Debit: 0.005, Credit: 0.006, DebitCap: 2000, RefundReturned: true}}
	var o outcome
	for _, r := range fb.reqs {
		terms := p.Terms(r.typ, r.amount, r.cardType, fb.cal, fb.at)
		terms.Faults = nil
		o.terms = append(o.terms, *terms)
	}
	named := p.Terms(txn.Sale, 10000, "debit", fb.cal, fb.at).Faults
	o.charged = books.Charged(named, "voided")
	return o
}

// Each registered books fault changes what a transaction's terms or its
// report say, and names itself in the terms; without it nothing changes. A
// fault whose effect is taken away (or a new one registered without one)
// fails here.
func TestEachFaultHasAnEffect(t *testing.T) {
	fb := newFaultBench(t)
	for _, mode := range []string{"T0", "T1"} {
		if o := fb.run(mode, nil); o.charged {
			t.Errorf("%s without faults: a voided sale is charged", mode)
		}
	}
	for _, name := range books.FaultNames() {
		t.Run(name, func(t *testing.T) {
			changed := false
			for _, mode := range []string{"T0", "T1"} {
				if !reflect.DeepEqual(fb.run(mode, []string{name}), fb.run(mode, nil)) {
					changed = true
				}
			}
			if !changed {
				t.Errorf("%s changes nothing in the terms or the report", name)
			}
			p := &books.Product{Mode: "T0", Faults: []string{name}, Fees: &books.Fees{Debit: 0.005}}
			if got := p.Terms(txn.Sale, 10000, "debit", fb.cal, fb.at).Faults; !slices.Equal(got, []string{name}) {
				t.Errorf("terms name %v, want [%s]", got, name)
			}
		})
	}
}

// What each fault does, against the correct figures.
func TestFaultEffects(t *testing.T) {
	fb := newFaultBench(t)
	utc := func(d int, h int) time.Time { return time.Date(2026, 6, d, h, 0, 0, 0, time.UTC) }
	fees := &books.Fees{Debit: 0.005, Credit: 0.006, DebitCap: 2000}
	tests := []struct {
		fault    string
		mode     string
		typ      txn.Type
		amount   int64
		cardType string
		want     txn.Terms // Faults aside
	}{
		{"", "T1", txn.Sale, 10010, "debit", txn.Terms{Mode: "T1", Settlement: utc(15, 0), FundsAt: utc(15, 9), Fee: 50}},
		{"fee-wrong-tier", "T1", txn.Sale, 10000, "debit", txn.Terms{Mode: "T1", Settlement: utc(15, 0), FundsAt: utc(15, 9), Fee: 60}},
		{"fee-wrong-tier", "T1", txn.Sale, 10000, "credit", txn.Terms{Mode: "T1", Settlement: utc(15, 0), FundsAt: utc(15, 9), Fee: 50}},
		{"fee-no-cap", "T1", txn.Sale, 1000000, "debit", txn.Terms{Mode: "T1", Settlement: utc(15, 0), FundsAt: utc(15, 9), Fee: 5000}},
		{"fee-rounding", "T1", txn.Sale, 10010, "debit", txn.Terms{Mode: "T1", Settlement: utc(15, 0), FundsAt: utc(15, 9), Fee: 51}},
		{"holiday-ignored", "T1", txn.Sale, 10010, "debit", txn.Terms{Mode: "T1", Settlement: utc(12, 0), FundsAt: utc(12, 9), Fee: 50}},
		{"", "T0", txn.Sale, 10010, "debit", txn.Terms{Mode: "T0", Settlement: utc(11, 0), FundsAt: utc(11, 12), Fee: 50}},
		{"t0-settled-t1", "T0", txn.Sale, 10010, "debit", txn.Terms{Mode: "T1", Settlement: utc(15, 0), FundsAt: utc(15, 9), Fee: 50}},
		{"t0-settled-t1", "T1", txn.Sale, 10010, "debit", txn.Terms{Mode: "T1", Settlement: utc(15, 0), FundsAt: utc(15, 9), Fee: 50}},
		{"fee-on-void", "T1", txn.Sale, 10010, "debit", txn.Terms{Mode: "T1", Settlement: utc(15, 0), FundsAt: utc(15, 9), Fee: 50}},
	}
	for _, tt := range tests {
		p := &books.Product{Mode: tt.mode, Fees: fees}
		if tt.fault != "" {
			p.Faults = []string{tt.fault}
		}
		got := *p.Terms(tt.typ, tt.amount, tt.cardType, fb.cal, fb.at)
		got.Faults = nil
		tt.want.CardType = tt.cardType
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s, %s %s of %d on %s: terms %+v, want %+v", tt.fault, tt.mode, tt.typ, tt.amount, tt.cardType, got, tt.want)
		}
	}
	if !books.Charged([]string{"fee-on-void"}, "voided") {
		t.Error("fee-on-void: a voided sale is not charged")
	}
	for _, state := range []string{"reversed", "declined", "completed"} {
		if books.Charged([]string{"fee-on-void"}, state) {
			t.Errorf("fee-on-void charges a %s transaction", state)
		}
	}
	if books.Charged(books.FaultNames()[:3], "voided") {
		t.Error("a fee fault charges a voided sale")
	}
	// The calendar the terms were dated by keeps its holidays.
	if got := fb.cal.SettlementDate(fb.at); !got.Equal(utc(15, 0)) {
		t.Errorf("after holiday-ignored the calendar settles on %s, want 2026-06-15", got)
	}
}

// Several faults are named by kind, then in the registry's order, whatever
// order the product lists them in.
func TestFaultsNamedInOrder(t *testing.T) {
	fb := newFaultBench(t)
	p := &books.Product{Mode: "T0", Fees: &books.Fees{Debit: 0.005},
		Faults: []string{"fee-on-void", "fee-rounding", "holiday-ignored", "fee-wrong-tier", "t0-settled-t1", "fee-no-cap"}}
	want := []string{"t0-settled-t1", "holiday-ignored", "fee-wrong-tier", "fee-no-cap", "fee-rounding", "fee-on-void"}
	if got := p.Terms(txn.Sale, 100, "debit", fb.cal, fb.at).Faults; !slices.Equal(got, want) {
		t.Errorf("faults named %v, want %v", got, want)
	}
	// A void works out no fee, so names no fee fault.
	want = []string{"t0-settled-t1", "holiday-ignored", "fee-on-void"}
	if got := p.Terms(txn.Void, 100, "debit", fb.cal, fb.at).Faults; !slices.Equal(got, want) {
		t.Errorf("a void's faults named %v, want %v", got, want)
	}
}
