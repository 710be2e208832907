package bench

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// builder makes one terminal's requests with the dialect's Build, as the
// terminal emulator does, so that a host sees from acqsim bench what it sees
// from acqsim send.
type builder struct {
	d        *dialect.Dialect
	tid, mid string
	card     terminal.Card
	chip     *emv.Profile // nil: a magstripe card
	currency string
	amount   int64  // of a sale
	batch    string // cup 60.2, as the sign-on gave it
	mac      bool   // cup: requests carry F64, computed over the packed message
}

// vars are what changes from one request to the next.
type vars struct {
	stan string // the request's own; a reversal's is its original's
	hhmmss,
	mmdd string // iso87 F12, F13
	orig *sale  // void, reversal
	icc  string // a chip card's F55, hex: its first GENERATE AC
}

// reqMTI is the MTI a kind of request is sent with.
func reqMTI(k kind) string {
	if k == kReversal {
		return "0400"
	}
	return "0200"
}

// values are the dialect's request values of a request of kind k.
func (b *builder) values(k kind, v *vars) dialect.Values {
	dv := dialect.Values{
		STAN: v.stan, TID: b.tid, MID: b.mid, LocalTime: v.hhmmss, LocalDate: v.mmdd,
		PAN: b.card.PAN, Expiry: b.card.Expiry, Track2: b.card.Track2, Currency: b.currency,
		Amount: b.amount, Batch: b.batch, MAC: b.mac,
	}
	if v.icc != "" {
		// Read from the chip, not the stripe, as terminal.chipValues does.
		dv.ICC, dv.CardSeq, dv.EntryMode, dv.Track2 = v.icc, "0"+b.chip.Card.PSN, txn.EntryChip+"1", ""
	}
	switch k {
	case kBalance:
		dv.Amount = 0
	case kVoid:
		o := v.orig
		dv.Amount = o.amount
		dv.Orig = dialect.Original{MTI: "0200", Proc: "000000", STAN: stan6(o.stan), Batch: o.batch, Date: o.date, RRN: o.rrn, Auth: o.auth}
	case kReversal:
		// F3 is the original's: a sale's.
		dv.Amount, dv.Proc, dv.Reason = v.orig.amount, "000000", "98" // no response in time
		dv.Orig = dialect.Original{MTI: "0200", STAN: v.stan}
	}
	return dv
}

// message builds a request with moov-io iso8583 and the dialect's spec.
func (b *builder) message(k kind, v *vars) (*iso8583.Message, error) {
	m, _, err := b.d.Build(k.txn(), b.values(k, v))
	if err != nil {
		return nil, fmt.Errorf("building a %s for %s: %w", k, b.tid, err)
	}
	return m, nil
}

// chipReads reports the kinds a chip card's chip is read for: those it goes
// online for, as a terminal's (terminal.chipReads).
func (b *builder) chipReads(k kind) bool {
	return b.chip != nil && (k == kSale || k == kBalance)
}

// chipTerminal is what the terminal tells the card of a request of kind k,
// as terminal.chipTerminal does: the amount, the currency and country
// ("0" and F49), the date, the type (00 goods and services, 31 a balance
// enquiry), an unpredictable number and the TVR.
func (b *builder) chipTerminal(k kind, now time.Time, un uint32) emv.Terminal {
	code := "0" + b.currency
	t := emv.Terminal{
		Amount: b.amount, Country: code, Currency: code, Date: now, Type: 0x00,
		UN:  [4]byte{byte(un >> 24), byte(un >> 16), byte(un >> 8), byte(un)},
		TVR: [5]byte{0x00, 0x00, 0x00, 0x80, 0x00},
	}
	if k == kBalance {
		t.Amount, t.Type = 0, 0x31
	}
	return t
}

// firstAC has the card compute its cryptogram for a request of kind k and
// returns it as the request's F55 (hex).
func (b *builder) firstAC(card *emv.Card, k kind, now time.Time, un uint32) (string, error) {
	tags, err := card.FirstAC(b.chipTerminal(k, now, un))
	if err != nil {
		return "", fmt.Errorf("the card of %s: %w", b.tid, err)
	}
	icc, err := tags.Encode()
	if err != nil {
		return "", fmt.Errorf("the card of %s: %w", b.tid, err)
	}
	return upperHex(icc), nil
}

// upperHex is b in upper-case hex, as F55 is written.
func upperHex(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&0x0F]
	}
	return string(out)
}

// signOn builds a sign-on, as terminal.SignOn does.
func (b *builder) signOn(stan, hhmmss, mmdd, keyVariant string) (*iso8583.Message, error) {
	v := b.values(kSale, &vars{stan: stan, hhmmss: hhmmss, mmdd: mmdd})
	v.KeyVariant = keyVariant
	m, _, err := b.d.Build(txn.SignOn, v)
	if err != nil {
		return nil, fmt.Errorf("building a sign-on for %s: %w", b.tid, err)
	}
	return m, nil
}

// A template is a request packed once, with the places of the fields that
// change from one request to the next, which are then written over in place:
// packing every request with moov-io would make the load generator slower
// than the host it measures.
type template struct {
	body  []byte
	slots map[int]slot
	// variable are the fields of slots, in order.
	variable []int
}

// slot is where a field's value lies in a packed message.
type slot struct {
	off, n int // bytes
	chars  int // characters of the value
	enc    encoding.Encoder
	// hex: a binary field (*field.Hex), whose value is written as hex
	// digits and packed from the bytes they say; raw holds those bytes.
	hex bool
	raw []byte
}

// placeholder values, as long as the real ones.
var placeholder = vars{stan: "000000", hhmmss: "000000", mmdd: "0000",
	orig: &sale{stan: 0, amount: 1, rrn: "000000000000", auth: "000000", date: "0000", batch: "000000"}}

// newTemplate packs a request of kind k and finds its variable fields.
func (b *builder) newTemplate(k kind) (*template, error) {
	v := placeholder
	orig := *v.orig
	orig.batch = b.batch
	v.orig = &orig
	other := vars{stan: "999999", hhmmss: "235959", mmdd: "1231",
		orig: &sale{stan: 999999, amount: 2, rrn: "999999999999", auth: "999999", date: "1231", batch: v.orig.batch}}
	if b.chipReads(k) {
		// Two cryptograms of a card of the same profile, as long as the
		// real ones; the connection's own card is not asked (its ATC
		// would advance).
		at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		var err error
		if v.icc, err = b.firstAC(b.chip.NewCard(), k, at, 0); err != nil {
			return nil, err
		}
		if other.icc, err = b.firstAC(b.chip.NewCard(), k, at, 0xFFFFFFFF); err != nil {
			return nil, err
		}
	}
	m, err := b.message(k, &v)
	if err != nil {
		return nil, err
	}
	body, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("packing a %s: %w", k, err)
	}
	// The fields that change from one request to the next are the ones
	// that differ between requests built with other values.
	om, err := b.message(k, &other)
	if err != nil {
		return nil, err
	}
	var variable []int
	for id := range m.GetFields() {
		if id > 1 && str(m, id) != str(om, id) {
			variable = append(variable, id)
		}
	}
	slices.Sort(variable)
	t := &template{body: body, slots: map[int]slot{}, variable: variable}
	// The message packs as MTI, bitmap, then each field in order of its
	// number, each with its length prefix before its value.
	fields := m.GetFields()
	off := 0
	for _, id := range slices.Sorted(maps.Keys(fields)) {
		f := fields[id]
		packed, err := f.Pack()
		if err != nil {
			return nil, fmt.Errorf("packing field %d of a %s: %w", id, k, err)
		}
		if slices.Contains(variable, id) {
			enc := f.Spec().Enc
			var s slot
			switch f := f.(type) {
			case *field.String:
				val, err := enc.Encode([]byte(f.Value()))
				if err != nil {
					return nil, fmt.Errorf("encoding field %d: %w", id, err)
				}
				s = slot{n: len(val), chars: len(f.Value()), enc: enc}
			case *field.Hex:
				raw, err := f.Bytes()
				if err != nil {
					return nil, fmt.Errorf("field %d: %w", id, err)
				}
				val, err := enc.Encode(raw)
				if err != nil {
					return nil, fmt.Errorf("encoding field %d: %w", id, err)
				}
				s = slot{n: len(val), chars: len(f.Value()), enc: enc, hex: true, raw: make([]byte, len(raw))}
			default:
				return nil, fmt.Errorf("field %d of the %s spec is neither a string nor a hex field", id, b.d.Name)
			}
			s.off = off + len(packed) - s.n
			t.slots[id] = s
		}
		off += len(packed)
	}
	if off != len(body) {
		return nil, fmt.Errorf("a %s packs to %d bytes but its fields to %d", k, len(body), off)
	}
	return t, nil
}

// put writes a value over a field; false if it does not fit the slot (the
// request is then built afresh).
func (t *template) put(id int, v string) bool {
	s, ok := t.slots[id]
	if !ok || len(v) != s.chars {
		return false
	}
	if s.hex {
		return s.putHex(t.body, v)
	}
	if s.enc == encoding.ASCII {
		copy(t.body[s.off:s.off+s.n], v)
		return true
	}
	enc, err := s.enc.Encode([]byte(v))
	if err != nil || len(enc) != s.n {
		return false
	}
	copy(t.body[s.off:], enc)
	return true
}

// putHex writes a binary field's value, given in hex digits: the bytes
// they say, encoded as the spec says (as they are, or as hex characters).
func (s *slot) putHex(body []byte, v string) bool {
	for i := range s.raw {
		hi, ok1 := nibble(v[2*i])
		lo, ok2 := nibble(v[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		s.raw[i] = hi<<4 | lo
	}
	switch s.enc {
	case encoding.Binary:
		copy(body[s.off:s.off+s.n], s.raw)
	case encoding.BytesToASCIIHex:
		const digits = "0123456789ABCDEF"
		out := body[s.off : s.off+s.n]
		for i, c := range s.raw {
			out[2*i], out[2*i+1] = digits[c>>4], digits[c&0x0F]
		}
	default:
		enc, err := s.enc.Encode(s.raw)
		if err != nil || len(enc) != s.n {
			return false
		}
		copy(body[s.off:], enc)
	}
	return true
}

func nibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// fill writes the request's variable fields; false if one does not fit.
func (t *template) fill(b *builder, k kind, v *vars) bool {
	dv := b.values(k, v)
	for _, id := range t.variable {
		val, ok := b.d.Field(k.txn(), &dv, id)
		if !ok || !t.put(id, val) {
			return false
		}
	}
	return true
}

// amount12 is an amount in minor units as F4 carries it.
func amount12(n int64) string { return pad(n, 12) }

// stan6 is a trace number as F11 carries it.
func stan6(n int) string { return pad(int64(n), 6) }

func pad(n int64, width int) string {
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], n, 10)
	if len(b) >= width {
		return string(b)
	}
	var out [20]byte
	z := width - len(b)
	for i := range z {
		out[i] = '0'
	}
	copy(out[z:], b)
	return string(out[:width])
}

// str returns a field's value, "" when absent.
func str(m *iso8583.Message, id int) string { return dialect.FieldValue(m, id) }
