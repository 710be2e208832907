package dialect

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/txn"
)

// wire is a dialect's acqsim section made ready to use: what the host reads
// from a request and writes into its response, beyond the field specs.
type wire struct {
	// keys are the paths the routes look at, each read once a message.
	keys   []path
	routes []route

	net, batch, keyVariant        *path
	origBatch, origSTAN, origDate *path

	totals      *totalsLayout
	upload      *uploadLayout
	uploadCount *countData
	keysField   int
	macField    int

	carriesBack    [129]bool
	carriesBackFor map[txn.Type][]int
	responses      []response

	every, card []fieldTemplate
	requests    []request
}

// maxKeys bounds the paths the routes of a dialect look at, so that a
// message's key values fit an array on the stack.
const maxKeys = 8

// route maps what a message looks like to the transaction it is: its MTI (a
// repeat as its original), and values that must begin with given digits.
type route struct {
	mti   string
	conds []cond
	tags  []string // that F55 must carry
	typ   txn.Type
}

type cond struct {
	key    int // in wire.keys
	prefix string
}

type totalsLayout struct {
	field    int
	required bool
	types    []txn.Type
	parts    []part
	width    int
}

type uploadLayout struct {
	field, count int
	parts        []part
	width        int
}

type response struct {
	typ       txn.Type // "" for any
	financial bool
	approved  bool
	fields    []fieldTemplate
}

// compileWire makes the wire of a dialect from its data.
func compileWire(h *hostData) (*wire, error) {
	w := &wire{keysField: h.Keys, macField: h.MAC, carriesBackFor: map[txn.Type][]int{}}
	for i, rd := range h.Routes {
		t, err := txnType(rd.Type)
		if err != nil {
			return nil, fmt.Errorf("route %d: %w", i+1, err)
		}
		if !isMTI(rd.MTI) {
			return nil, fmt.Errorf("route %d: MTI %q is not four digits", i+1, rd.MTI)
		}
		rt := route{mti: rd.MTI, typ: t, tags: rd.Tags}
		for _, ps := range slices.Sorted(maps.Keys(rd.Match)) {
			p, err := h.parsePath(ps)
			if err != nil {
				return nil, fmt.Errorf("route %d: %w", i+1, err)
			}
			k := slices.Index(w.keys, p)
			if k < 0 {
				if len(w.keys) == maxKeys {
					return nil, fmt.Errorf("route %d: the routes look at more than %d places", i+1, maxKeys)
				}
				k = len(w.keys)
				w.keys = append(w.keys, p)
			}
			rt.conds = append(rt.conds, cond{key: k, prefix: rd.Match[ps]})
		}
		w.routes = append(w.routes, rt)
	}
	for name, ps := range h.Read {
		p, err := h.parsePath(ps)
		if err != nil {
			return nil, fmt.Errorf("read.%s: %w", name, err)
		}
		dst := map[string]**path{"net": &w.net, "batch": &w.batch, "key_variant": &w.keyVariant,
			"orig_batch": &w.origBatch, "orig_stan": &w.origSTAN, "orig_date": &w.origDate}[name]
		if dst == nil {
			return nil, fmt.Errorf("read.%s: want net, batch, key_variant, orig_batch, orig_stan or orig_date", name)
		}
		*dst = &p
	}
	if t := h.Totals; t != nil {
		l := &totalsLayout{field: t.Field, required: t.Required, parts: t.Parts}
		for _, s := range t.Types {
			typ, err := txnType(s)
			if err != nil {
				return nil, fmt.Errorf("totals: %w", err)
			}
			l.types = append(l.types, typ)
		}
		for _, p := range t.Parts {
			if _, ok := totalsFields[p.Name]; !ok && !isCode(p.Name) {
				return nil, fmt.Errorf("totals: part %q is not a total", p.Name)
			}
			l.width += p.Length
		}
		w.totals = l
	}
	if u := h.Upload; u != nil {
		l := &uploadLayout{field: u.Field, count: u.Count, parts: u.Parts}
		for _, p := range u.Parts {
			switch p.Name {
			case "org", "mti", "stan", "pan", "amount":
			default:
				return nil, fmt.Errorf("upload: part %q: want org, mti, stan, pan or amount", p.Name)
			}
			l.width += p.Length
		}
		w.upload = l
	}
	w.uploadCount = h.UploadCount
	for _, id := range h.CarriesBack {
		if id < 2 || id > 128 {
			return nil, fmt.Errorf("carriesBack: field %d is not 2-128", id)
		}
		w.carriesBack[id] = true
	}
	for s, ids := range h.CarriesBackFor {
		t, err := txnType(s)
		if err != nil {
			return nil, fmt.Errorf("carriesBackFor: %w", err)
		}
		w.carriesBackFor[t] = ids
	}
	for i, rd := range h.Responses {
		r := response{financial: rd.Financial, approved: rd.Approved}
		if rd.Type != "" {
			t, err := txnType(rd.Type)
			if err != nil {
				return nil, fmt.Errorf("response %d: %w", i+1, err)
			}
			r.typ = t
		}
		var err error
		if r.fields, err = compileFields(rd.Fields, responseValues); err != nil {
			return nil, fmt.Errorf("response %d: %w", i+1, err)
		}
		w.responses = append(w.responses, r)
	}
	var err error
	if w.every, err = compileFields(h.Every, requestValues); err != nil {
		return nil, fmt.Errorf("every: %w", err)
	}
	if w.card, err = compileFields(h.Card, requestValues); err != nil {
		return nil, fmt.Errorf("card: %w", err)
	}
	for i, rd := range h.Requests {
		r, err := compileRequest(rd)
		if err != nil {
			return nil, fmt.Errorf("request %d (%s): %w", i+1, rd.Type, err)
		}
		w.requests = append(w.requests, r)
	}
	return w, nil
}

// typeOf finds the route a message takes.
func (w *wire) typeOf(m *iso8583.Message) txn.Type {
	mti, _ := m.GetMTI()
	mti = baseMTI(mti)
	var vals [maxKeys]string
	for i, p := range w.keys {
		vals[i] = p.of(get(m, p.field))
	}
	var icc emv.Tags // read once, for the first route that asks
	iccRead := false
	for _, rt := range w.routes {
		if rt.mti != mti {
			continue
		}
		if len(rt.tags) > 0 {
			if !iccRead {
				icc, _ = emv.ParseTagsHex(get(m, 55))
				iccRead = true
			}
			if !carries(icc, rt.tags) {
				continue
			}
		}
		ok := true
		for _, c := range rt.conds {
			if !strings.HasPrefix(vals[c.key], c.prefix) {
				ok = false
				break
			}
		}
		if ok {
			return rt.typ
		}
	}
	return txn.Unknown
}

// carries reports chip data that holds every one of tags.
func carries(icc emv.Tags, tags []string) bool {
	for _, t := range tags {
		if _, ok := icc.Value(t); !ok {
			return false
		}
	}
	return true
}

// value reads a path of m, "" where the dialect has none.
func value(m *iso8583.Message, p *path) string {
	if p == nil {
		return ""
	}
	return p.of(get(m, p.field))
}

// read fills in what the dialect's own fields say of the request.
func (w *wire) read(m *iso8583.Message, r *txn.Request) error {
	r.NetCode = value(m, w.net)
	r.Batch = value(m, w.batch)
	if r.Type == txn.SignOn {
		r.KeyVariant = value(m, w.keyVariant)
	}
	if b, s := value(m, w.origBatch), value(m, w.origSTAN); b != "" && s != "" {
		r.Orig = txn.Original{Batch: b, STAN: s, Date: value(m, w.origDate)}
	}
	if l := w.totals; l != nil && slices.Contains(l.types, r.Type) {
		if v := get(m, l.field); v != "" || l.required {
			t, err := l.read(v)
			if err != nil {
				return &FieldError{Field: strconv.Itoa(l.field), Err: err}
			}
			r.Totals = t
		}
	}
	switch r.Type {
	case txn.Upload:
		if l := w.upload; l != nil {
			recs, err := l.read(get(m, l.field), r)
			if err != nil {
				return &FieldError{Field: strconv.Itoa(l.field), Err: err}
			}
			r.Uploads = recs
		}
	case txn.UploadEnd:
		if c := w.uploadCount; c != nil {
			v := get(m, c.Field)
			if len(v) > c.Length {
				// Anything longer is not a count (and may be a card number,
				// which must not reach the books or the replay record).
				m.UnsetField(c.Field)
				return &FieldError{Field: strconv.Itoa(c.Field), Err: fmt.Errorf("the records uploaded are %d digits, want n%d", len(v), c.Length)}
			}
			if v != "" {
				n, err := digits(v)
				if err != nil {
					return &FieldError{Field: strconv.Itoa(c.Field), Err: err}
				}
				r.UploadCount = int(n)
			}
		}
	}
	return nil
}

// echoes reports whether a response to r carries back the request's field id.
func (w *wire) echoes(id int, r *txn.Request) bool {
	return id < len(w.carriesBack) && w.carriesBack[id] || slices.Contains(w.carriesBackFor[r.Type], id)
}

// write adds the host's own fields to the response resp, which holds the
// request fields it carries back.
func (w *wire) write(resp *iso8583.Message, r *txn.Request, d *txn.Decision) error {
	if p := w.batch; p != nil && d.Batch != "" && p.len == len(d.Batch) {
		// The host says which batch the terminal is in.
		if v := get(resp, p.field); len(v) >= p.off+p.len {
			if err := resp.Field(p.field, v[:p.off]+d.Batch+v[p.off+p.len:]); err != nil {
				return fmt.Errorf("setting field %d: %w", p.field, err)
			}
		}
	}
	if r.Type == txn.SignOn && len(d.Keys) > 0 && w.keysField != 0 {
		if err := resp.BinaryField(w.keysField, d.Keys); err != nil {
			return fmt.Errorf("setting the working keys: %w", err)
		}
	}
	for i := range w.responses {
		rs := &w.responses[i]
		if rs.typ != "" && rs.typ != r.Type || rs.approved && d.RC != txn.Approved || rs.financial && !txn.Of(r.Type).Financial {
			continue
		}
		vals := responseValuer{w: w, r: r, d: d}
		for _, f := range rs.fields {
			v, ok := f.expand(vals.value)
			if !ok {
				continue
			}
			if err := resp.Field(f.id, v); err != nil {
				return fmt.Errorf("setting field %d: %w", f.id, err)
			}
		}
	}
	return nil
}

// read reads settlement totals.
func (l *totalsLayout) read(v string) (txn.Totals, error) {
	var t txn.Totals
	if len(v) < l.width {
		return t, fmt.Errorf("settlement totals are %d digits, want %d", len(v), l.width)
	}
	off := 0
	for _, p := range l.parts {
		s := v[off : off+p.Length]
		off += p.Length
		if isCode(p.Name) {
			continue
		}
		n, err := digits(s)
		if err != nil {
			return t, err
		}
		totalsFields[p.Name].set(&t, n)
	}
	return t, nil
}

// format writes totals with the given reconciliation codes.
func (l *totalsLayout) format(t txn.Totals, domestic, foreign txn.Reconciliation) string {
	var b strings.Builder
	b.Grow(l.width)
	for _, p := range l.parts {
		switch p.Name {
		case "domestic_code":
			b.WriteString(code(domestic))
		case "foreign_code":
			b.WriteString(code(foreign))
		default:
			b.WriteString(pad(totalsFields[p.Name].get(&t), p.Length))
		}
	}
	return b.String()
}

func code(c txn.Reconciliation) string {
	if c == txn.NotReconciled {
		return "0"
	}
	return string(rune(c))
}

func isCode(name string) bool { return name == "domestic_code" || name == "foreign_code" }

// totalsFields are the numbers of txn.Totals by the names a layout gives them.
var totalsFields = map[string]struct {
	get func(*txn.Totals) int64
	set func(*txn.Totals, int64)
}{
	"debit_count":           {func(t *txn.Totals) int64 { return int64(t.DebitCount) }, func(t *txn.Totals, n int64) { t.DebitCount = int(n) }},
	"debit_amount":          {func(t *txn.Totals) int64 { return t.DebitAmount }, func(t *txn.Totals, n int64) { t.DebitAmount = n }},
	"credit_count":          {func(t *txn.Totals) int64 { return int64(t.CreditCount) }, func(t *txn.Totals, n int64) { t.CreditCount = int(n) }},
	"credit_amount":         {func(t *txn.Totals) int64 { return t.CreditAmount }, func(t *txn.Totals, n int64) { t.CreditAmount = n }},
	"foreign_debit_count":   {func(t *txn.Totals) int64 { return int64(t.ForeignDebitCount) }, func(t *txn.Totals, n int64) { t.ForeignDebitCount = int(n) }},
	"foreign_debit_amount":  {func(t *txn.Totals) int64 { return t.ForeignDebitAmount }, func(t *txn.Totals, n int64) { t.ForeignDebitAmount = n }},
	"foreign_credit_count":  {func(t *txn.Totals) int64 { return int64(t.ForeignCreditCount) }, func(t *txn.Totals, n int64) { t.ForeignCreditCount = int(n) }},
	"foreign_credit_amount": {func(t *txn.Totals) int64 { return t.ForeignCreditAmount }, func(t *txn.Totals, n int64) { t.ForeignCreditAmount = n }},
}

// read reads a batch upload's records.
func (l *uploadLayout) read(v string, r *txn.Request) ([]txn.UploadRecord, error) {
	n := 1
	if l.count > 0 {
		if len(v) < l.count {
			return nil, fmt.Errorf("batch upload has no record count")
		}
		c, err := digits(v[:l.count])
		if err != nil {
			return nil, err
		}
		n, v = int(c), v[l.count:]
		if len(v) < n*l.width {
			return nil, fmt.Errorf("batch upload says %d records but carries %d digits", n, len(v))
		}
	} else if len(v) != l.width {
		return nil, fmt.Errorf("batch upload original data is %d characters, want %d", len(v), l.width)
	}
	recs := make([]txn.UploadRecord, 0, n)
	for i := range n {
		rec := v[i*l.width : (i+1)*l.width]
		var u txn.UploadRecord
		if l.count == 0 {
			// One record: the message's own fields say the rest of it.
			u = txn.UploadRecord{Proc: r.Proc, RRN: r.RRN, AuthCode: r.AuthCode, PAN: r.PAN, Amount: r.Amount}
		}
		off := 0
		for _, p := range l.parts {
			s := rec[off : off+p.Length]
			off += p.Length
			n, err := digits(s)
			if err != nil {
				return nil, err
			}
			switch p.Name {
			case "mti":
				u.MTI = s
			case "stan":
				u.STAN = s
			case "pan":
				u.PAN = strings.TrimLeft(s, "0")
				if u.PAN == "" {
					u.PAN = "0"
				}
			case "amount":
				u.Amount = n
			}
		}
		recs = append(recs, u)
	}
	return recs, nil
}

// baseMTI maps a repeat to the message it repeats: 0221 -> 0220.
func baseMTI(mti string) string {
	if len(mti) == 4 && mti[3] == '1' {
		return mti[:3] + "0"
	}
	return mti
}
