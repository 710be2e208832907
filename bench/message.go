package bench

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/terminal"
)

// builder makes one terminal's requests with the fields and values the
// terminal emulator sends (terminal/flows.go), so that a host sees from
// acqsim bench what it sees from acqsim send.
type builder struct {
	d        *dialect.Dialect
	tid, mid string
	card     terminal.Card
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
	orig *sale // void, reversal
}

func (b *builder) isCUP() bool { return b.d.Preamble > 0 }

// reqMTI is the MTI a kind of request is sent with.
func reqMTI(k kind) string {
	if k == kReversal {
		return "0400"
	}
	return "0200"
}

// message builds a request with moov-io iso8583 and the dialect's spec.
func (b *builder) message(k kind, v *vars) (*iso8583.Message, error) {
	m := iso8583.NewMessage(b.d.Spec)
	var err error
	set := func(id int, val string) {
		if err == nil {
			if e := m.Field(id, val); e != nil {
				err = fmt.Errorf("field %d: %w", id, e)
			}
		}
	}
	proc, amt, cupKind := "000000", b.amount, "22"
	switch k {
	case kBalance:
		proc, amt, cupKind = "310000", 0, "01"
	case kVoid:
		proc, amt, cupKind = "020000", v.orig.amount, "23"
		if b.isCUP() {
			proc = "200000"
		}
	case kReversal:
		amt = v.orig.amount // F3 is the original's: a sale's
	}
	m.MTI(reqMTI(k))
	set(11, v.stan)
	set(41, b.tid)
	set(42, b.mid)
	if !b.isCUP() {
		set(12, v.hhmmss)
		set(13, v.mmdd)
	}
	set(2, b.card.PAN)
	set(3, proc)
	if amt > 0 {
		set(4, amount12(amt))
	}
	if b.card.Expiry != "" {
		set(14, b.card.Expiry)
	}
	if b.card.Track2 != "" {
		set(22, "021")
		set(35, b.card.Track2)
	} else {
		set(22, "012")
	}
	set(25, "00")
	set(49, b.currency)
	switch k {
	case kVoid:
		set(37, v.orig.rrn)
		if v.orig.auth != "" {
			set(38, v.orig.auth)
		}
	case kReversal:
		set(39, "98") // no response in time
	}
	if b.isCUP() {
		set(60, cupKind+b.batch+"000")
		if k == kVoid {
			set(61, v.orig.batch+stan6(v.orig.stan)+v.orig.date)
		}
	}
	if b.mac {
		if e := m.BinaryField(64, make([]byte, 8)); e != nil && err == nil {
			err = fmt.Errorf("field 64: %w", e)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("building a %s for %s: %w", k, b.tid, err)
	}
	return m, nil
}

// signOn builds a sign-on: iso87 0800 F70 001; cup 0800 with 60.3 the key
// variant, as terminal.SignOn does.
func (b *builder) signOn(stan, hhmmss, mmdd, keyVariant string) (*iso8583.Message, error) {
	m := iso8583.NewMessage(b.d.Spec)
	m.MTI("0800")
	fields := map[int]string{11: stan, 41: b.tid, 42: b.mid}
	if b.isCUP() {
		fields[60] = "00" + b.batch + keyVariant
	} else {
		fields[12], fields[13], fields[70] = hhmmss, mmdd, "001"
	}
	for id, v := range fields {
		if err := m.Field(id, v); err != nil {
			return nil, fmt.Errorf("building a sign-on for %s: field %d: %w", b.tid, id, err)
		}
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
}

// slot is where a field's value lies in a packed message.
type slot struct {
	off, n int // bytes
	chars  int // characters of the value
	enc    encoding.Encoder
}

// placeholder values, as long as the real ones.
var placeholder = vars{stan: "000000", hhmmss: "000000", mmdd: "0000",
	orig: &sale{stan: 0, amount: 1, rrn: "000000000000", auth: "000000", date: "0000", batch: "000000"}}

// newTemplate packs a request of kind k and finds its variable fields.
func (b *builder) newTemplate(k kind) (*template, error) {
	v := placeholder
	if b.isCUP() {
		orig := *v.orig
		orig.batch = b.batch
		v.orig = &orig
	}
	m, err := b.message(k, &v)
	if err != nil {
		return nil, err
	}
	body, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("packing a %s: %w", k, err)
	}
	variable := []int{11}
	if !b.isCUP() {
		variable = append(variable, 12, 13)
	}
	switch k {
	case kVoid:
		variable = append(variable, 4, 37, 38)
		if b.isCUP() {
			variable = append(variable, 61)
		}
	case kReversal:
		variable = append(variable, 4)
	}
	t := &template{body: body, slots: map[int]slot{}}
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
			s, ok := f.(*field.String)
			if !ok {
				return nil, fmt.Errorf("field %d of the %s spec is not a string field", id, b.d.Name)
			}
			enc := f.Spec().Enc
			val, err := enc.Encode([]byte(s.Value()))
			if err != nil {
				return nil, fmt.Errorf("encoding field %d: %w", id, err)
			}
			t.slots[id] = slot{off: off + len(packed) - len(val), n: len(val), chars: len(s.Value()), enc: enc}
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

// fill writes the request's variable fields; false if one does not fit.
func (t *template) fill(k kind, v *vars, cup bool) bool {
	ok := t.put(11, v.stan)
	if !cup {
		ok = ok && t.put(12, v.hhmmss) && t.put(13, v.mmdd)
	}
	switch k {
	case kVoid:
		ok = ok && t.put(4, amount12(v.orig.amount)) && t.put(37, v.orig.rrn) && t.put(38, v.orig.auth)
		if cup {
			ok = ok && t.put(61, v.orig.batch+stan6(v.orig.stan)+v.orig.date)
		}
	case kReversal:
		ok = ok && t.put(4, amount12(v.orig.amount))
	}
	return ok
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
