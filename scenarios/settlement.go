package scenarios

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/txn"
)

// booksFaults are the ways a scenario can get the books wrong on purpose.
var booksFaults = []string{"fee-wrong-tier", "fee-no-cap", "fee-rounding", "fee-on-void", "holiday-ignored", "t0-settled-t1"}

// settled lists what a merchant is paid for (or pays back).
func settled(t txn.Type) bool { return txn.Of(t).Settles }

// merchant returns a merchant's entry, or the "*" entry for any merchant.
func (c *Compiled) merchant(mid string) (Party, bool) {
	if p, ok := c.Merchants[mid]; ok {
		return p, true
	}
	p, ok := c.Merchants["*"]
	return p, ok
}

// compiledBooks is what a scenario's settlement settings compile to.
type compiledBooks struct {
	calendar *books.Calendar // nil: the host's
}

// compileCalendar compiles a scenario's calendar, adding its problems to
// found; nil when the scenario has none (the host's then).
func compileCalendar(c *Calendar, at locator, found *problems) *books.Calendar {
	if c == nil {
		return nil
	}
	cal := &books.Calendar{CutOver: books.DefaultCutOver}
	if c.CutOver != "" {
		d, err := books.ParseTimeOfDay(c.CutOver)
		if err != nil {
			found.add(at.at("cut_over").errorf("calendar: %v", err))
		}
		cal.CutOver = d
	}
	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			found.add(at.at("timezone").errorf("calendar: unknown time zone %q", c.Timezone))
		}
		cal.Location = loc
	}
	for i, h := range c.Holidays {
		if err := cal.AddHoliday(h); err != nil {
			found.add(at.at("holidays", i).errorf("calendar: %v", err))
		}
	}
	return cal
}

// checkSettlement adds what is wrong with a merchant's settlement settings
// to found.
func checkSettlement(s *Settlement, at locator, label composed, found *problems) {
	if s.Mode != "" && s.Mode != "T0" && s.Mode != "T1" {
		found.add(at.at("mode").errorf("%s: mode %q: want T0 or T1", label, s.Mode))
	}
	if s.T0 != nil {
		if len(s.T0.Window) != 0 && len(s.T0.Window) != 2 {
			found.add(at.at("t0", "window").errorf("%s: t0 window: want [from, to]", label))
		}
		for _, w := range s.T0.Window {
			if _, err := timeOfDay(w); err != nil {
				found.add(at.at("t0", "window").errorf("%s: t0 window: %v", label, err))
			}
		}
		if s.T0.MaxAmount > 0 && s.T0.MinAmount > s.T0.MaxAmount {
			found.add(at.at("t0").errorf("%s: t0 min_amount is above max_amount", label))
		}
	}
	if f := s.Fees; f != nil {
		if !(f.Debit >= 0 && f.Debit < 1 && f.Credit >= 0 && f.Credit < 1) { // NaN too
			found.add(at.at("fees").errorf("%s: fee rates are fractions such as 0.0055 (0 to 1)", label))
		}
		if f.DebitCap < 0 || f.Fixed < 0 {
			found.add(at.at("fees").errorf("%s: debit_cap and fixed must not be negative", label))
		}
		if f.Refund != "" && f.Refund != "kept" && f.Refund != "returned" {
			found.add(at.at("fees", "refund").errorf("%s: refund %q: want kept or returned", label, f.Refund))
		}
	}
	if s.FundsDelay < 0 {
		found.add(at.at("funds_delay").errorf("%s: funds_delay must not be negative", label))
	}
	if s.FundsDelay > MaxFundsDelay {
		found.add(at.at("funds_delay").errorf("%s: funds_delay %v: at most %v", label, s.FundsDelay, MaxFundsDelay))
	}
	for i, f := range s.Faults {
		if !slices.Contains(booksFaults, f) {
			found.add(at.at("faults", i).errorf("%s: books fault %q: want one of %s", label, f, strings.Join(booksFaults, ", ")))
		}
	}
}

// cardType looks a card up in the scenario's BIN table, then the built-in one.
func (c *Compiled) cardType(pan string) string {
	best, typ := -1, ""
	for _, b := range c.BINs {
		if strings.HasPrefix(pan, b.Prefix) && len(b.Prefix) > best {
			best, typ = len(b.Prefix), b.Type
		}
	}
	if typ != "" {
		return typ
	}
	return books.CardType(pan)
}

// terms decide how a transaction of the merchant settles, and whether T0
// refuses it (a response code and why). faults lists the books faults applied.
func (b *binding) terms(r *txn.Request, now time.Time) (terms *txn.Terms, rc, why string) {
	p, ok := b.sc.merchant(r.MID)
	if !ok || p.Settlement == nil || !settled(r.Type) {
		return nil, "", ""
	}
	s := p.Settlement
	cal := b.engine.Calendar
	if b.sc.books.calendar != nil {
		cal = *b.sc.books.calendar
		if cal.Location == nil {
			cal.Location = b.engine.Calendar.Location // the host's zone
		}
	}
	has := func(f string) bool { return slices.Contains(s.Faults, f) }
	t := &txn.Terms{Mode: s.Mode, CardType: b.sc.cardType(r.PAN)}
	if t.Mode == "" {
		t.Mode = "T1"
	}
	if t.Mode == "T0" && s.T0 != nil && txn.Of(r.Type).Side == txn.Debit {
		if rc, why := b.t0Refusal(s.T0, r, now); rc != "" {
			return nil, rc, why
		}
	}
	if t.Mode == "T0" && has("t0-settled-t1") {
		t.Mode = "T1"
		t.Faults = append(t.Faults, "t0-settled-t1")
	}
	if has("holiday-ignored") {
		cal.Holidays = nil
		t.Faults = append(t.Faults, "holiday-ignored")
	}
	if t.Mode == "T0" {
		t.Settlement = cal.ClearingDate(now)
		t.FundsAt = now
	} else {
		t.Settlement = cal.SettlementDate(now)
		t.FundsAt = t.Settlement.Add(9 * time.Hour)
	}
	t.FundsAt = t.FundsAt.Add(s.FundsDelay)
	if f := s.Fees; f != nil && txn.Of(r.Type).Side != txn.Undo {
		t.Fee = fee(f, r, t.CardType, s.Faults)
		for _, name := range []string{"fee-wrong-tier", "fee-no-cap", "fee-rounding"} {
			if has(name) {
				t.Faults = append(t.Faults, name)
			}
		}
	}
	if has("fee-on-void") {
		t.Faults = append(t.Faults, "fee-on-void")
	}
	return t, "", ""
}

// t0Refusal checks a T0 merchant's debit against the product's limits.
func (b *binding) t0Refusal(l *T0, r *txn.Request, now time.Time) (rc, why string) {
	if len(l.Window) == 2 {
		env := b.env(r, now)
		if !env.Between(l.Window[0], l.Window[1]) {
			return "58", fmt.Sprintf("T0 outside its window %s-%s", l.Window[0], l.Window[1])
		}
	}
	if l.MinAmount > 0 && r.Amount < l.MinAmount {
		return "13", "T0 below its minimum amount"
	}
	if l.MaxAmount > 0 && r.Amount > l.MaxAmount {
		return "61", "T0 above its maximum amount"
	}
	if l.DailyQuota > 0 {
		k := usageKey{-1, "merchant:" + r.MID, bucket("day", now.In(b.engine.loc))}
		if u := b.usage[k]; u != nil && u.amount+r.Amount > l.DailyQuota {
			return "61", "T0 daily quota used up"
		}
	}
	return "", ""
}

// accountT0 books an approved T0 debit against the merchant's daily quota.
func (b *binding) accountT0(r *txn.Request, now time.Time, d txn.Decision) {
	if r.Terms == nil || d.RC != txn.Approved || d.Cached || txn.Of(r.Type).Side != txn.Debit {
		return
	}
	// The merchant's product, not how it was settled (t0-settled-t1).
	if p, _ := b.sc.merchant(r.MID); p.Settlement == nil || p.Settlement.Mode != "T0" {
		return
	}
	k := usageKey{-1, "merchant:" + r.MID, bucket("day", now.In(b.engine.loc))}
	u := b.usage[k]
	if u == nil {
		u = &usage{}
		b.usage[k] = u
	}
	u.count++
	u.amount += r.Amount
}

// fee is the merchant's fee for a transaction: the rate for its card type,
// rounded half up to the minor unit, capped for debit cards, plus the fixed
// part. The books faults change it the way a buggy acquirer would.
func fee(f *Fees, r *txn.Request, cardType string, faults []string) int64 {
	has := func(name string) bool { return slices.Contains(faults, name) }
	if r.Type == txn.Refund && f.Refund != "returned" {
		return 0
	}
	rate := f.Credit
	if cardType == "debit" {
		rate = f.Debit
	}
	if has("fee-wrong-tier") {
		rate = f.Debit + f.Credit - rate // the other tier's
	}
	// In parts per million, so that 0.0055 is exact.
	ppm := int64(math.Round(rate * 1e6))
	fee := (r.Amount*ppm + 500_000) / 1_000_000
	if has("fee-rounding") {
		fee = (r.Amount*ppm + 999_999) / 1_000_000 // always up
	}
	if cardType == "debit" && f.DebitCap > 0 && fee > f.DebitCap && !has("fee-no-cap") {
		fee = f.DebitCap
	}
	fee += f.Fixed
	if r.Type == txn.Refund {
		return -fee
	}
	return fee
}
