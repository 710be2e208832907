package dialect

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/field"

	"github.com/acqsim/acqsim/txn"
)

// Values are what a request carries that its kind does not fix. Build puts
// each where the dialect's data file says; a field whose template names an
// empty value is left out.
type Values struct {
	STAN, TID, MID string
	// Time is the terminal's local time (iso87 F12, F13); zero is now.
	// LocalTime (hhmmss) and LocalDate (MMDD), where given, are those
	// fields as they are: a load generator formats them once a second.
	Time                 time.Time
	LocalTime, LocalDate string

	PAN, Expiry, Track2 string
	// EntryMode is F22; empty is 021 with a track, 012 without (keyed).
	EntryMode string
	Amount    int64
	// Currency is F49; empty is the dialect's.
	Currency string
	// CardSeq is the chip card's sequence number (F23, e.g. 001), ICC its
	// data (F55, BER-TLV as hex); both empty for a magstripe or keyed card.
	CardSeq, ICC string

	// Batch is the terminal's batch number (cup 60.2).
	Batch string
	// KeyVariant is the cup sign-on's 60.3: the working keys it asks for.
	KeyVariant string
	// Reason is a reversal's F39 (98 no answer, A0 MAC error, 06 other),
	// Proc its original's processing code.
	Reason, Proc string
	// Orig is the transaction a void, refund, completion, reversal advice or
	// upload refers to.
	Orig Original

	// Totals are a settlement's, UploadCount the records an end of batch
	// says went.
	Totals      txn.Totals
	UploadCount int

	// Advice picks the advice form of a request (0220 completion, 0420
	// reversal); Uploaded the end of batch that follows an upload.
	Advice, Uploaded bool
	// MAC: the terminal holds a MAC key, so a card request carries the MAC
	// field (zeros here: the MAC is computed over the packed message).
	MAC bool
}

// Original is an earlier transaction as a terminal keeps it.
type Original struct {
	MTI, Proc, STAN, Batch, Date, RRN, Auth string
}

// The values a request template may name, and those of a response.
var (
	requestValues = []string{"stan", "tid", "mid", "hhmmss", "mmdd", "pan", "expiry", "track2", "entry_mode",
		"amount", "currency", "card_seq", "icc", "batch", "key_variant", "reason", "proc", "orig_mti", "orig_proc", "orig_stan",
		"orig_batch", "orig_date", "orig_rrn", "orig_auth", "totals", "upload_count"}
	responseValues = []string{"currency", "balance", "totals"}
)

// A fieldTemplate is a field's value as literal text and named values:
// "22{batch}000", or "{pan:020}" (zero-filled on the left to 20).
type fieldTemplate struct {
	id   int
	segs []segment
}

type segment struct {
	lit   string
	name  string // "" for a literal
	width int    // zero-fill to this width
}

func compileFields(m map[string]string, names []string) ([]fieldTemplate, error) {
	ids, err := fieldIDs(m)
	if err != nil {
		return nil, err
	}
	out := make([]fieldTemplate, 0, len(ids))
	for _, id := range ids {
		t, err := compileTemplate(m[strconv.Itoa(id)], names)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", id, err)
		}
		t.id = id
		out = append(out, t)
	}
	return out, nil
}

func compileTemplate(s string, names []string) (fieldTemplate, error) {
	var t fieldTemplate
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			t.segs = append(t.segs, segment{lit: s})
			break
		}
		if i > 0 {
			t.segs = append(t.segs, segment{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return t, fmt.Errorf("%q: a { without its }", s)
		}
		name, width, hasWidth := strings.Cut(s[i+1:i+j], ":")
		seg := segment{name: name}
		if hasWidth {
			n, err := strconv.Atoi(width)
			if err != nil || !strings.HasPrefix(width, "0") || n <= 0 {
				return t, fmt.Errorf("{%s:%s}: the width is a zero and a number, as in {pan:020}", name, width)
			}
			seg.width = n
		}
		if !slices.Contains(names, name) {
			return t, fmt.Errorf("{%s}: want one of %s", name, strings.Join(names, ", "))
		}
		t.segs = append(t.segs, seg)
		s = s[i+j+1:]
	}
	return t, nil
}

// expand fills the template in; false when a value it names is empty.
func (t *fieldTemplate) expand(value func(string) string) (string, bool) {
	if len(t.segs) == 1 {
		switch s := t.segs[0]; {
		case s.name == "":
			return s.lit, true
		case s.width == 0:
			// A value alone ("{stan}") is the value.
			v := value(s.name)
			return v, v != ""
		}
	}
	var b strings.Builder
	for _, s := range t.segs {
		if s.name == "" {
			b.WriteString(s.lit)
			continue
		}
		v := value(s.name)
		if v == "" {
			return "", false
		}
		for n := len(v); n < s.width; n++ {
			b.WriteByte('0')
		}
		b.WriteString(v)
	}
	return b.String(), true
}

// A request is how a client writes one kind of request.
type request struct {
	typ              txn.Type
	mti              string
	card             bool
	advice, uploaded *bool
	chip             *bool
	fields           []fieldTemplate
}

func compileRequest(rd requestData) (request, error) {
	t, err := txnType(rd.Type)
	if err != nil {
		return request{}, err
	}
	if !isMTI(rd.MTI) {
		return request{}, fmt.Errorf("MTI %q is not four digits", rd.MTI)
	}
	fields, err := compileFields(rd.Fields, requestValues)
	if err != nil {
		return request{}, err
	}
	return request{typ: t, mti: rd.MTI, card: rd.Card, advice: rd.Advice, uploaded: rd.Uploaded, chip: rd.Chip, fields: fields}, nil
}

func (r *request) fits(typ txn.Type, v *Values) bool {
	return r.typ == typ && (r.advice == nil || *r.advice == v.Advice) && (r.uploaded == nil || *r.uploaded == v.Uploaded) &&
		(r.chip == nil || *r.chip == (v.ICC != ""))
}

// Build makes a request of the given transaction type, as the dialect's
// terminals send it. It returns the type the host takes it for, which is
// typ except where the dialect has no request of its own for it (iso87
// voids a completion with a plain void).
func (d *Dialect) Build(typ txn.Type, v Values) (*iso8583.Message, txn.Type, error) {
	w := d.wire
	i := slices.IndexFunc(w.requests, func(r request) bool { return r.fits(typ, &v) })
	if i < 0 {
		return nil, "", fmt.Errorf("the %s dialect has no %s request", d.Name, typ)
	}
	rq := &w.requests[i]
	m := iso8583.NewMessage(d.Spec)
	m.MTI(rq.mti)
	value := v.lookup(d)
	set := func(fs []fieldTemplate) error {
		for i := range fs {
			s, ok := fs[i].expand(value)
			if !ok {
				continue
			}
			if err := SetField(m, fs[i].id, s); err != nil {
				return fmt.Errorf("building a %s: field %d: %w", typ, fs[i].id, err)
			}
		}
		return nil
	}
	if err := set(w.every); err != nil {
		return nil, "", err
	}
	if rq.card {
		if err := set(w.card); err != nil {
			return nil, "", err
		}
	}
	if err := set(rq.fields); err != nil {
		return nil, "", err
	}
	if rq.card && v.MAC && w.macField != 0 {
		if err := m.BinaryField(w.macField, make([]byte, 8)); err != nil {
			return nil, "", fmt.Errorf("building a %s: field %d: %w", typ, w.macField, err)
		}
	}
	return m, w.typeOf(m), nil
}

// SetField sets a field to a value as FieldValue reads it: a binary
// field's value is its bytes in hex (moov-io's Message.Field would take the
// hex digits themselves for the bytes).
func SetField(m *iso8583.Message, id int, v string) error {
	f := m.GetSpec().Fields[id]
	if _, binary := f.(*field.Hex); binary {
		b, err := hex.DecodeString(v)
		if err != nil {
			return fmt.Errorf("field %d is binary: want hex digits", id)
		}
		return m.BinaryField(id, b)
	}
	return m.Field(id, v)
}

// Field returns the value Build puts in field id of a request, and false
// when it puts none: what a load generator writes over a packed request.
func (d *Dialect) Field(typ txn.Type, v *Values, id int) (string, bool) {
	w := d.wire
	i := slices.IndexFunc(w.requests, func(r request) bool { return r.fits(typ, v) })
	if i < 0 {
		return "", false
	}
	rq := &w.requests[i]
	// As Build sets them: the request's own fields over the card's over
	// every request's.
	groups := [][]fieldTemplate{rq.fields, nil, w.every}
	if rq.card {
		groups[1] = w.card
	}
	for _, fs := range groups {
		for j := range fs {
			if fs[j].id == id {
				return fs[j].expand(v.lookup(d))
			}
		}
	}
	return "", false
}

// lookup returns the request values by the names templates give them.
func (v *Values) lookup(d *Dialect) func(string) string {
	return func(name string) string {
		switch name {
		case "stan":
			return v.STAN
		case "tid":
			return v.TID
		case "mid":
			return v.MID
		case "hhmmss", "mmdd":
			if name == "hhmmss" && v.LocalTime != "" {
				return v.LocalTime
			}
			if name == "mmdd" && v.LocalDate != "" {
				return v.LocalDate
			}
			t := v.Time
			if t.IsZero() {
				t = time.Now()
			}
			if name == "hhmmss" {
				return t.Format("150405")
			}
			return t.Format("0102")
		case "pan":
			return v.PAN
		case "expiry":
			return v.Expiry
		case "track2":
			return v.Track2
		case "entry_mode":
			switch {
			case v.EntryMode != "":
				return v.EntryMode
			case v.Track2 != "":
				return "021"
			}
			return "012"
		case "amount":
			if v.Amount <= 0 {
				return ""
			}
			return pad(v.Amount, 12)
		case "currency":
			if v.Currency != "" {
				return v.Currency
			}
			return d.Currency
		case "card_seq":
			return v.CardSeq
		case "icc":
			return v.ICC
		case "batch":
			return v.Batch
		case "key_variant":
			return v.KeyVariant
		case "reason":
			return v.Reason
		case "proc":
			return v.Proc
		case "orig_mti":
			return v.Orig.MTI
		case "orig_proc":
			return v.Orig.Proc
		case "orig_stan":
			return v.Orig.STAN
		case "orig_batch":
			return v.Orig.Batch
		case "orig_date":
			return v.Orig.Date
		case "orig_rrn":
			return v.Orig.RRN
		case "orig_auth":
			return v.Orig.Auth
		case "totals":
			if d.wire.totals == nil {
				return ""
			}
			return d.wire.totals.format(v.Totals, txn.NotReconciled, txn.NotReconciled)
		case "upload_count":
			return strconv.Itoa(v.UploadCount)
		}
		return ""
	}
}

// responseValuer gives a response template the host's values.
type responseValuer struct {
	w *wire
	r *txn.Request
	d *txn.Decision
}

func (rv responseValuer) value(name string) string {
	switch name {
	case "currency":
		return rv.r.Currency
	case "balance":
		return strconv.FormatInt(rv.d.Balance, 10)
	case "totals":
		if rv.w.totals == nil {
			return ""
		}
		return rv.w.totals.format(rv.r.Totals, rv.d.Domestic, rv.d.Foreign)
	}
	return ""
}

// Settled reads a settlement response as a terminal does: whether the host
// took the totals (ok: approved, or iso87's 95 out of balance), and whether
// they balanced (the response's reconciliation codes, where the dialect's
// totals carry them; otherwise its response code).
func (d *Dialect) Settled(resp *iso8583.Message) (balanced, ok bool) {
	rc := get(resp, 39)
	l := d.wire.totals
	if l == nil || !slices.ContainsFunc(l.parts, func(p part) bool { return isCode(p.Name) }) {
		return rc == txn.Approved, rc == txn.Approved || rc == txn.OutOfBalance
	}
	v := get(resp, l.field)
	if rc != txn.Approved || len(v) < l.width {
		return false, false
	}
	balanced, off := true, 0
	for _, p := range l.parts {
		if isCode(p.Name) && v[off:off+p.Length] != string(txn.Balanced) {
			balanced = false
		}
		off += p.Length
	}
	return balanced, true
}

// Batch returns the batch number a message carries (cup 60.2: a sign-on's
// response says which batch the terminal is in), "" where none.
func (d *Dialect) Batch(m *iso8583.Message) string { return value(m, d.wire.batch) }

// KeysField is the field a sign-on's response carries the working keys in;
// 0 where the dialect has none.
func (d *Dialect) KeysField() int { return d.wire.keysField }

// TypeOf returns the transaction a message is, by the dialect's routes.
func (d *Dialect) TypeOf(m *iso8583.Message) txn.Type { return d.wire.typeOf(m) }
