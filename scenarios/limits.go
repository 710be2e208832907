package scenarios

import (
	"strconv"
	"time"

	"github.com/acqsim/acqsim/txn"
)

// limited lists what risk limits count: the debits a cardholder is charged
// for. A completion settles what its pre-authorisation already counted.
func limited(t txn.Type) bool { return txn.Of(t).LimitBearing }

func limitWho(per string, pan, mid, tid string) string {
	switch per {
	case "terminal":
		return "terminal:" + tid
	case "merchant":
		return "merchant:" + mid
	}
	return "card:" + pan
}

func bucket(period string, t time.Time) string {
	switch period {
	case "day":
		return t.Format("2006-01-02")
	case "month":
		return t.Format("2006-01")
	}
	return ""
}

// overLimit returns the response code of the first limit the request would
// break, and which limit it is.
func (b *binding) overLimit(r *txn.Request, now time.Time) (rc, which string) {
	if !limited(r.Type) {
		return "", ""
	}
	now = now.In(b.engine.loc)
	for i, l := range b.sc.limits {
		if l.Period == "txn" {
			if r.Amount > l.MaxAmount {
				return l.RC, "limit " + strconv.Itoa(i+1)
			}
			continue
		}
		u := b.usage[usageKey{i, limitWho(l.Per, r.PAN, r.MID, r.TID), bucket(l.Period, now)}]
		if u == nil {
			u = &usage{}
		}
		if l.MaxAmount > 0 && u.amount+r.Amount > l.MaxAmount || l.MaxCount > 0 && u.count+1 > l.MaxCount {
			return l.RC, "limit " + strconv.Itoa(i+1)
		}
	}
	return "", ""
}

// account books an approved debit against the limits, and gives back what an
// approved reversal or void undid.
func (b *binding) account(r *txn.Request, now time.Time, d txn.Decision) {
	b.accountT0(r, now, d)
	if len(b.sc.limits) == 0 || d.RC != txn.Approved || d.Cached {
		return
	}
	add := func(pan, mid, tid string, at time.Time, sign int, amount int64) {
		at = at.In(b.engine.loc)
		for i, l := range b.sc.limits {
			if l.Period == "txn" {
				continue
			}
			k := usageKey{i, limitWho(l.Per, pan, mid, tid), bucket(l.Period, at)}
			u := b.usage[k]
			if u == nil {
				u = &usage{}
				b.usage[k] = u
			}
			u.count += sign
			u.amount += int64(sign) * amount
		}
	}
	switch {
	case d.Released != nil && limited(d.Released.Type):
		rel := d.Released
		add(rel.PAN, rel.MID, rel.TID, rel.At, -1, rel.Amount)
	case limited(r.Type) && r.Type != txn.Reversal:
		add(r.PAN, r.MID, r.TID, now, +1, r.Amount)
	}
}
