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
	"github.com/acqsim/acqsim/txn"
)

// builder makes one terminal's requests with the dialect's Build, as the
// terminal emulator does, so that a host sees from acqsim bench what it sees
// from acqsim send.
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
	other := vars{stan: "999999", hhmmss: "235959", mmdd: "1231",
		orig: &sale{stan: 999999, amount: 2, rrn: "999999999999", auth: "999999", date: "1231", batch: v.orig.batch}}
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
