package scenarios

import (
	"fmt"
	"strings"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/txn"
)

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
	// products are the merchants' settlement products, by merchant ID as
	// the scenario lists them ("*" included).
	products map[string]*books.Product
}

// product is the settlement product of a merchant (the "*" entry's for a
// merchant not listed), nil when it has none.
func (c *Compiled) product(mid string) *books.Product {
	if _, listed := c.Merchants[mid]; !listed {
		mid = "*"
	}
	return c.books.products[mid]
}

// productOf is a merchant's settlement settings as the books take them.
func productOf(s *Settlement) *books.Product {
	p := &books.Product{Mode: s.Mode, FundsDelay: s.FundsDelay, Faults: s.Faults}
	if f := s.Fees; f != nil {
		p.Fees = &books.Fees{Debit: f.Debit, Credit: f.Credit, DebitCap: f.DebitCap, Fixed: f.Fixed, RefundReturned: f.Refund == "returned"}
	}
	return p
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
		if _, err := books.LookupFault(f); err != nil {
			found.add(at.at("faults", i).errorf("%s: books fault %q: %v", label, f, err))
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
// refuses it (a response code and why). The books work the terms out from
// the merchant's product; Terms.Faults lists the books faults applied.
func (b *binding) terms(r *txn.Request, now time.Time) (terms *txn.Terms, rc, why string) {
	prod := b.sc.product(r.MID)
	if prod == nil || !settled(r.Type) {
		return nil, "", ""
	}
	if p, _ := b.sc.merchant(r.MID); prod.Mode == "T0" && p.Settlement.T0 != nil && txn.Of(r.Type).Side == txn.Debit {
		if rc, why := b.t0Refusal(p.Settlement.T0, r, now); rc != "" {
			return nil, rc, why
		}
	}
	return prod.Terms(r.Type, r.Amount, b.sc.cardType(r.PAN), b.calendar(), now), "", ""
}

// calendar is the calendar the scenario's merchants settle by: its own, in
// the host's time zone unless it names one, or else the host's.
func (b *binding) calendar() books.Calendar {
	if own := b.sc.books.calendar; own != nil {
		return own.Within(b.engine.Calendar)
	}
	return b.engine.Calendar
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
