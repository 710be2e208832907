package terminal

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/txn"
)

// A chip card's transaction, as a terminal runs it. The card computes its
// first cryptogram (the ARQC) over what the terminal tells it; the request
// carries it in F55. On the issuer's answer the card decides at its second
// GENERATE AC: it checks the issuer's cryptogram (tag 91), runs the
// issuer's scripts, and approves (a TC) or declines (an AAC). A sale the
// host approved and the card declined is reversed (F39 06, with the card's
// TVR and TSI); scripts are reported in a script result advice; the TCs go
// to the host after the settlement.

// entryChip, entryContactless and entryFallback are F22 of a card read by
// its chip, tapped, or swiped because the chip could not be read; the
// third digit says the terminal can take a PIN.
const (
	// reasonCardDeclined is the reversal reason of a sale the card
	// declined after the host approved it.
	reasonCardDeclined = "06"

	entryChip        = txn.EntryChip + "1"
	entryContactless = txn.EntryContactless + "1"
	entryFallback    = txn.EntryFallback + "1"
)

// chipReads reports the requests a chip card goes online for.
func chipReads(typ txn.Type) bool {
	return typ == txn.Sale || typ == txn.PreAuth || typ == txn.Balance
}

// chipTerminal is what the terminal tells the card of a transaction.
func (t *Terminal) chipTerminal(typ txn.Type, amount int64) emv.Terminal {
	var un [4]byte
	rand.Read(un[:])
	code := "0" + t.cfg.Currency
	kind := byte(0x00) // goods and services
	switch typ {
	case txn.Balance:
		kind = 0x31
	case txn.PreAuth:
		kind = 0x30 // as the processing code says
	}
	return emv.Terminal{
		Amount: amount, Country: code, Currency: code, Date: time.Now(), Type: kind, UN: un,
		TVR: [5]byte{0x00, 0x00, 0x00, 0x80, 0x00},
	}
}

// chipValues reads the card's chip into a request's values: its first
// cryptogram in F55, its sequence number in F23, F22 saying how it was read.
func (t *Terminal) chipValues(typ txn.Type, v *dialect.Values) error {
	c := t.cfg.Card
	tags, err := c.Chip.FirstAC(t.chipTerminal(typ, v.Amount))
	if err != nil {
		return fmt.Errorf("the card: %w", err)
	}
	icc, err := tags.Encode()
	if err != nil {
		return fmt.Errorf("the card: %w", err)
	}
	v.ICC, v.CardSeq = strings.ToUpper(hex.EncodeToString(icc)), "0"+c.Chip.PSN
	v.EntryMode = entryChip
	if c.Contactless {
		v.EntryMode = entryContactless
	}
	v.Track2 = "" // read from the chip, not the stripe
	return nil
}

// chipCard sends a chip card's request and lets the card judge the answer.
func (t *Terminal) chipCard(typ txn.Type, v dialect.Values) (*Exchange, error) {
	if err := t.chipValues(typ, &v); err != nil {
		return &Exchange{Type: typ}, err
	}
	m, _, err := t.build(typ, v)
	if err != nil {
		return &Exchange{Type: typ}, err
	}
	var x *Exchange
	if typ == txn.Balance {
		x, err = t.online(typ, m)
	} else {
		x, err = t.financial(typ, m)
	}
	if err != nil {
		return x, err
	}
	issuer, err := emv.ParseTagsHex(x.Get(55))
	if err != nil {
		return x, fmt.Errorf("%s: the answer's F55 does not decode: %w", typ, err)
	}
	out, err := t.cfg.Card.Chip.SecondAC(x.RC(), issuer)
	x.Card = &out
	if err != nil {
		return x, fmt.Errorf("the card: %w", err)
	}
	rec := t.record(v.STAN)
	if rec == nil && x.RC() == txn.Approved {
		rec = t.record(field(m, 11))
	}
	if out.Approved && rec != nil {
		if tc, err := out.Tags.Encode(); err == nil {
			rec.TC = strings.ToUpper(hex.EncodeToString(tc))
		}
	}
	if len(out.Scripts) > 0 {
		a, err := t.scriptAdvice(rec, out, v)
		x.After = append(x.After, a)
		if err != nil {
			return x, err
		}
	}
	if x.RC() == txn.Approved && !out.Approved && typ != txn.Balance {
		// The host approved, the card did not: the terminal takes it back.
		r, err := t.reverseChip(field(m, 11), out)
		x.After = append(x.After, r)
		if err != nil {
			return x, fmt.Errorf("reversing what the card declined: %w", err)
		}
	}
	return x, nil
}

// reverseChip reverses a chip sale the card declined after the host's
// approval: reason 06, with the card's TVR and TSI in F55.
func (t *Terminal) reverseChip(stan string, out emv.Outcome) (*Exchange, error) {
	r := t.record(stan)
	if r == nil {
		return &Exchange{Type: txn.Reversal}, fmt.Errorf("no record of STAN %s", stan)
	}
	icc, err := out.Tags.Encode()
	if err != nil {
		return &Exchange{Type: txn.Reversal}, err
	}
	v := t.values()
	v.STAN, v.Proc, v.Amount, v.Reason = stan, r.Proc, r.Amount, reasonCardDeclined
	v.Orig = dialect.Original{MTI: r.MTI, STAN: stan}
	v.ICC, v.CardSeq, v.EntryMode, v.Track2 = strings.ToUpper(hex.EncodeToString(icc)), "0"+t.cfg.Card.Chip.PSN, entryChip, ""
	m, _, err := t.build(txn.Reversal, v)
	if err != nil {
		return &Exchange{Type: txn.Reversal}, err
	}
	x, err := t.Send(txn.Reversal, m)
	if err != nil {
		t.pend(txn.Reversal, m, err)
		return x, err
	}
	t.reversed(stan, x)
	return x, nil
}

// scriptAdvice tells the host what the issuer's scripts did (cup 0620; an
// iso87 advice carrying 9F5B).
func (t *Terminal) scriptAdvice(rec *Record, out emv.Outcome, sent dialect.Values) (*Exchange, error) {
	var tags emv.Tags
	for _, tag := range []string{"9F5B", "9F36", "95", "9B", "9F26", "9F27"} {
		if val, ok := out.Tags.Value(tag); ok {
			tags = tags.Set(tag, val)
		}
	}
	icc, err := tags.Encode()
	if err != nil {
		return &Exchange{Type: txn.ScriptAdvice}, err
	}
	v := t.values()
	v.Amount, v.Orig = sent.Amount, original(rec)
	if rec == nil {
		v.Orig = dialect.Original{STAN: sent.STAN, Proc: "000000", Batch: t.State.Batch}
	}
	v.ICC, v.CardSeq, v.EntryMode, v.Track2 = strings.ToUpper(hex.EncodeToString(icc)), sent.CardSeq, sent.EntryMode, ""
	m, _, err := t.build(txn.ScriptAdvice, v)
	if err != nil {
		return &Exchange{Type: txn.ScriptAdvice}, err
	}
	return t.Send(txn.ScriptAdvice, m)
}

// uploadTCs sends the host the TCs of a settled batch's chip transactions
// (and those an earlier settlement could not send); those that get no
// answer stay in State.TCs for after the next settlement.
func (t *Terminal) uploadTCs(settled []Record) ([]*Exchange, error) {
	for _, r := range settled {
		if r.TC != "" && !r.Voided {
			t.State.TCs = append(t.State.TCs, r)
		}
	}
	var xs []*Exchange
	var kept []Record
	for _, r := range t.State.TCs {
		x, err := t.upload(r)
		xs = append(xs, x)
		if err != nil {
			kept = append(kept, r)
		}
	}
	t.State.TCs = kept
	if len(kept) > 0 {
		return xs, fmt.Errorf("TC upload: %d TC(s) not acknowledged; kept for the next settlement", len(kept))
	}
	return xs, nil
}

// LoadChip gives the terminal's chip card the state State.Chips keeps for
// it (after LoadState): its ATC and whether it is blocked.
func (t *Terminal) LoadChip() {
	c := t.cfg.Card.Chip
	if c == nil {
		return
	}
	if kept, ok := t.State.Chips[c.Profile.Name]; ok && kept.PAN == c.PAN {
		profile := c.Profile
		*c = kept
		c.Profile = profile
	}
}

// KeepChip puts the chip card's state in State.Chips, for State.Save.
func (t *Terminal) KeepChip() {
	c := t.cfg.Card.Chip
	if c == nil {
		return
	}
	if t.State.Chips == nil {
		t.State.Chips = map[string]emv.Card{}
	}
	t.State.Chips[c.Profile.Name] = *c
}
