package dialect

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moov-io/iso8583"
	iso8583errors "github.com/moov-io/iso8583/errors"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/specs"

	"github.com/acqsim/acqsim/txn"
)

// Dialect is one way of putting ISO 8583 on the wire: a message spec and
// what the host and its clients read and write beyond it, both from the
// dialect's data file (fixtures/dialects).
type Dialect struct {
	Name string
	Spec *iso8583.MessageSpec
	// Preamble is the number of bytes before the MTI of every message: the
	// cup TPDU (5) and header (6).
	Preamble int
	// OptionalTPDU: a message may come with a 5-byte TPDU before its MTI
	// (see PreambleOf).
	OptionalTPDU bool
	// Currency is the currency code assumed when a request carries none.
	Currency string
	// VoidsAsCredits: settlement totals count a void as a credit and keep the
	// sale it voided among the debits (cup); otherwise a voided sale drops out.
	VoidsAsCredits bool
	// BalancedCloses: a balanced settlement closes the batch at once (iso87);
	// otherwise the batch closes with the upload-end message (cup 60.3 207).
	BalancedCloses bool
	// ChipAnswer are the tags an answer to a chip card's cryptogram carries
	// in F55 beyond 91 and the scripts: 8A, 89; none in the shipped dialects.
	ChipAnswer []string
	// MAC computes the MAC of a message from its MTI to the field before F64,
	// for dialects whose terminals authenticate messages with F64 (cup); nil
	// where the host neither checks nor computes one.
	MAC func(key, data []byte) ([]byte, error)

	wire *wire
	// layout is what the strict check holds each field to (see Decode).
	layout *layout
}

// Definition is a dialect as its data file gives it, with what data cannot
// hold: the MAC function its terminals authenticate messages with.
type Definition struct {
	Name string
	// Spec is the dialect's data file: a moov-io/iso8583 JSON message spec.
	Spec []byte
	// MAC computes a message's MAC (see Dialect.MAC); nil where the dialect
	// neither checks nor computes one.
	MAC func(key, data []byte) ([]byte, error)
}

var registry = struct {
	sync.RWMutex
	defs  map[string]Definition
	names []string
}{defs: map[string]Definition{}}

// Register makes a dialect known to Load under its name. It checks that the
// definition loads, so that a bad data file fails where it is registered.
func Register(def Definition) error {
	if _, err := build(def); err != nil {
		return err
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.defs[def.Name]; dup {
		return fmt.Errorf("dialect %q is registered twice", def.Name)
	}
	registry.defs[def.Name] = def
	registry.names = append(registry.names, def.Name)
	return nil
}

// Names lists the registered dialects, in the order they were registered.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	return slices.Clone(registry.names)
}

// Load returns a new instance of the named dialect, which must be registered.
func Load(name string) (*Dialect, error) {
	registry.RLock()
	def, ok := registry.defs[name]
	names := strings.Join(registry.names, ", ")
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown dialect %q (want one of %s)", name, names)
	}
	return build(def)
}

// build makes a dialect from its definition.
func build(def Definition) (*Dialect, error) {
	name := def.Name
	h, err := readHostData(def.Spec)
	if err != nil {
		return nil, fmt.Errorf("loading the %s data file: %w", name, err)
	}
	d := Dialect{Name: name, Preamble: h.Preamble, OptionalTPDU: h.OptionalTPDU, Currency: h.Currency,
		VoidsAsCredits: h.VoidsAsCredits, BalancedCloses: h.BalancedCloses, ChipAnswer: h.ChipAnswer, MAC: def.MAC}
	for _, t := range d.ChipAnswer {
		if t != "8A" && t != "89" {
			return nil, fmt.Errorf("loading the %s data file: acqsim.chipAnswer: tag %q: want 8A or 89", name, t)
		}
	}
	if d.wire, err = compileWire(h); err != nil {
		return nil, fmt.Errorf("loading the %s data file: acqsim.%w", name, err)
	}
	if d.Spec, err = specs.ImportJSON(def.Spec); err != nil {
		return nil, fmt.Errorf("loading the %s spec: %w", name, err)
	}
	if d.layout, err = loadLayout(d.Spec, def.Spec); err != nil {
		return nil, fmt.Errorf("loading the %s spec: %w", name, err)
	}
	if err := d.checkRequests(); err != nil {
		return nil, fmt.Errorf("loading the %s data file: %w", name, err)
	}
	return &d, nil
}

// checkRequests builds every request the data file describes and reads it
// back: each must pack, and the host's routes must take it for the type it
// was built as (or, where the dialect sends one type as another, for a type
// the host books the same way), so that the host and its clients cannot
// disagree.
func (d *Dialect) checkRequests() error {
	v := Values{STAN: "000001", TID: "TERM0001", MID: "000000000000001", PAN: "6200000000000000003", Expiry: "3012",
		Amount: 1, Batch: "000001", KeyVariant: "003", Reason: "98", Proc: "000000",
		Orig: Original{MTI: "0200", Proc: "000000", STAN: "000001", Batch: "000001", Date: "0101", RRN: "000000000001", Auth: "000001"}}
	for _, rq := range d.wire.requests {
		v.Advice = rq.advice != nil && *rq.advice
		v.Uploaded = rq.uploaded != nil && *rq.uploaded
		// A chip card's data where the request is a chip card's: a TC
		// with a script's result (9F5B), which the routes may look for.
		v.ICC, v.CardSeq = "", ""
		if rq.chip != nil && *rq.chip || rq.typ == txn.ScriptAdvice {
			v.ICC, v.CardSeq = "9F5B0520000000019F2701409F36020001", "001"
		}
		m, got, err := d.Build(rq.typ, v)
		if err != nil {
			return err
		}
		if _, err := m.Pack(); err != nil {
			return fmt.Errorf("a %s request does not pack: %w", rq.typ, err)
		}
		if got != rq.typ && !(txn.Of(rq.typ).IsVoid() && txn.Of(got).IsVoid()) {
			return fmt.Errorf("a %s request (MTI %s) is routed as %s", rq.typ, rq.mti, got)
		}
	}
	return nil
}

// PreambleOf returns how many bytes of a frame come before its MTI: the
// dialect's fixed preamble, or where a TPDU is optional, 5 when the frame
// starts with one (its ID byte 60h, which no BCD MTI starts with).
func (d *Dialect) PreambleOf(frame []byte) int {
	if d.OptionalTPDU && len(frame) >= tpduSize && frame[0] == tpduID {
		return tpduSize
	}
	return d.Preamble
}

const (
	tpduSize = 5
	tpduID   = 0x60
)

// Framer returns a framer for this dialect with the given length header.
func (d *Dialect) Framer(h LengthHeader, maxFrame int) Framer {
	return Framer{Header: h, Preamble: d.Preamble, MaxFrame: maxFrame}
}

// ErrNoMTI reports a message whose MTI cannot be read: there is nothing to
// answer it with, so the connection is closed.
var ErrNoMTI = errors.New("message type indicator does not decode")

// FieldError reports a message whose MTI decodes but whose fields do not. It
// names the field, never its content.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("field %s: %v", e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Decode unpacks a message and holds it to its spec. When the MTI decodes
// but a field does not, or breaks its spec, it returns the message with what
// passed, and a *FieldError naming the first field at fault. A message whose
// fields do not end where it does (bytes after the last field, a field that
// runs past the end or whose length does not decode), or a card request
// without a card number, keeps only what a terminal matches a response by
// (F3, F11, F41, F42): where the bitmap and the bytes disagree, no field can
// be placed with certainty.
func (d *Dialect) Decode(body []byte) (*iso8583.Message, error) {
	m := iso8583.NewMessage(d.Spec)
	err := m.Unpack(body)
	var ue *iso8583errors.UnpackError
	if err != nil && (!errors.As(err, &ue) || ue.FieldID == "0") {
		return nil, ErrNoMTI
	}
	// An ASCII MTI field takes any four characters; only digits are an MTI,
	// and anything else is not worth answering.
	if mti, _ := m.GetMTI(); !isMTI(mti) {
		return nil, ErrNoMTI
	}
	if err != nil && ue.FieldID == "1" {
		return m, &FieldError{Field: "1", Err: errDoesNotDecode}
	}
	bad := d.check(m, body)
	if bad == nil && err != nil {
		// The library's message names the field's content in places; keep only ours.
		bad = &FieldError{Field: ue.FieldID, Err: errDoesNotDecode}
	}
	return m, bad
}

// check walks the bytes of a decoded message field by field, as the spec
// lays them out, and holds each field to its class: a field that breaks it
// goes from m (a response must not carry it back). So does a text field that
// carries what looks like card data where none belongs, and every field
// after one whose length does not decode. It returns the first fault.
func (d *Dialect) check(m *iso8583.Message, body []byte) error {
	l := d.layout
	bm := m.Bitmap()
	off := l[0].unit.width(l[0].spec.Length) + l[1].unit.width(bm.Len()/8)
	var first error
	fail := func(id int, err error) {
		if first == nil {
			first = &FieldError{Field: strconv.Itoa(id), Err: err}
		}
	}
	// The message's own card number, as its card fields give it: found in
	// another field, it is a sign of a field out of place.
	pan := get(m, 2)
	if pan == "" {
		pan = panFromTrack(get(m, 35))
	}
	mti, _ := m.GetMTI()
	last := 0
	stopped := false // at a field whose end cannot be found
	for id := 2; id <= bm.Len(); id++ {
		if id%64 == 1 || !bm.IsSet(id) { // a bitmap's own bit, or absent
			continue
		}
		if id >= len(l) || l[id].spec == nil {
			fail(id, fmt.Errorf("is not in the %s spec", d.Name))
			dropFrom(m, bm, id)
			stopped = true
			break
		}
		fl := &l[id]
		vs, end, n, err := fl.span(body[off:])
		if err != nil {
			// Nothing says where the fields after it start.
			fail(id, err)
			dropFrom(m, bm, id)
			stopped = true
			break
		}
		v := body[off+vs : off+end]
		off += end
		last = id
		if err := fl.check(v, n); err != nil {
			m.UnsetField(id)
			fail(id, err)
			continue
		}
		if cardField(id) || id == 48 && strings.HasPrefix(mti, "032") { // upload records carry card numbers
			continue
		}
		// A fixed numeric field (an amount) is not searched for the card's
		// digits: a test card of zeros ends like a small amount.
		var out bool
		switch {
		case fl.unit == unitBCD && !fl.fixedN():
			out = containsRun(get(m, id), pan, panRun)
		case fl.unit == unitText:
			out = !fl.fixedN() && containsRun(v, pan, panRun) || (fl.class == classAN || fl.class == classANS) && looksLikeCard(v)
		}
		if out {
			m.UnsetField(id)
			fail(id, errCardData)
		}
	}
	// A walk stopped short, or bytes after the last field: the bitmap and
	// the bytes disagree, and any field may hold another's bytes.
	misplaced := stopped
	if !stopped && off < len(body) {
		fail(last, bytesAfter(len(body)-off))
		misplaced = true
	}
	// A card request whose bitmap announces no card number, and no track
	// that gives one, has most likely lost it to the fields after it (F2
	// sent with its bit clear): it is refused before it is booked, and its
	// amount is not believed.
	if cardRequest(mti) && !bm.IsSet(2) && panFromTrack(get(m, 35)) == "" {
		fail(2, errNoCard)
		misplaced = true
	}
	if misplaced {
		if fe, ok := first.(*FieldError); ok {
			fe.Err = misplacedError{fe.Err}
		}
		for id := 2; id <= bm.Len(); id++ {
			switch id {
			case 3, 11, 41, 42:
			default:
				m.UnsetField(id)
			}
		}
		// F41 and F42 lie side by side: out of place, together they can hold
		// a card number whole. A terminal matches a refusal without F42.
		if longestDigitRun(get(m, 41)+get(m, 42)) >= panRun {
			m.UnsetField(42)
		}
	}
	return first
}

// cardRequest reports the MTIs of requests that carry a card: authorisations,
// financial requests and advices (01xx, 02xx). A reversal is matched by
// merchant, terminal and STAN, and may come without one.
func cardRequest(mti string) bool {
	return len(mti) == 4 && (mti[1] == '1' || mti[1] == '2') && mti[2]%2 == 0
}

var errNoCard = errors.New("a card request with no card number (neither F2 nor a track in F35)")

// ErrMisplaced reports a message whose fields cannot be placed with
// certainty (errors.Is finds it in the *FieldError Decode returns): bytes
// after the last field, a field that runs past the end or whose length does
// not decode, or a card request without a card number. Only F3, F11, F41 and
// F42 are left in the message.
var ErrMisplaced = errors.New("fields out of place")

type misplacedError struct{ err error }

func (e misplacedError) Error() string {
	return e.err.Error() + "; the fields cannot be placed, so only F3, F11, F41 and F42 are carried back"
}

func (e misplacedError) Unwrap() error { return e.err }

func (misplacedError) Is(target error) bool { return target == ErrMisplaced }

// ErrBytesAfter reports a message that goes on after the last field its
// bitmap announces (errors.Is finds it in a *FieldError naming that field).
var ErrBytesAfter = errors.New("bytes follow the last field")

type bytesAfter int

func (n bytesAfter) Error() string {
	return fmt.Sprintf("is the last field the bitmap announces, but %d bytes follow it", int(n))
}

func (bytesAfter) Is(target error) bool { return target == ErrBytesAfter }

// errCardData is the fault of a field that carries card data where none
// belongs: a sign of a field out of place (a card-data field sent with its
// bitmap bit clear), never echoed and never booked.
var errCardData = errors.New("carries what looks like card data")

// dropFrom takes from m the field id and every field after it.
func dropFrom(m *iso8583.Message, bm *field.Bitmap, id int) {
	for ; id <= bm.Len(); id++ {
		m.UnsetField(id)
	}
}

func isMTI(s string) bool {
	if len(s) != 4 {
		return false
	}
	_, err := digits(s)
	return err == nil
}

// Request reads what a decoded message asks for. An error means the fields
// decoded but do not make sense together (a format error, RC 30).
func (d *Dialect) Request(m *iso8583.Message) (*txn.Request, error) {
	mti, _ := m.GetMTI()
	r := &txn.Request{MTI: mti, Field: func(id int) string { return get(m, id) }}
	r.Repeat = len(mti) == 4 && mti[3] == '1'
	r.Type = d.wire.typeOf(m)
	r.Proc = get(m, 3)
	r.STAN = get(m, 11)
	r.TID = get(m, 41)
	r.MID = get(m, 42)
	r.RRN = get(m, 37)
	r.AuthCode = get(m, 38)
	r.EntryMode = get(m, 22)
	r.Condition = get(m, 25)
	r.CardSeq = get(m, 23)
	if v := get(m, 55); v != "" {
		icc, err := hex.DecodeString(v)
		if err != nil {
			return r, &FieldError{Field: "55", Err: errors.New("ICC data is not binary")}
		}
		r.ICC = icc
	}
	r.Currency = get(m, 49)
	if r.Currency == "" {
		r.Currency = d.Currency
	}
	r.PAN = get(m, 2)
	if r.PAN == "" {
		r.PAN = panFromTrack(get(m, 35))
	}
	if v := get(m, 4); v != "" {
		n, err := digits(v)
		if err != nil {
			return r, &FieldError{Field: "4", Err: err}
		}
		r.Amount = n
	}
	if r.Type == txn.Reversal {
		r.ReversalReason = get(m, 39)
	}
	if err := d.wire.read(m, r); err != nil {
		return r, err
	}
	r.Fingerprint = fingerprint(r)
	return r, nil
}

// fingerprint is what must be equal for two requests with the same STAN to be
// one request sent twice. It holds the card number masked only, so that the
// hash kept in a durable journal cannot be worked back to a card number.
func fingerprint(r *txn.Request) string {
	f := txn.MaskPAN(r.PAN) + "|" + r.Proc + "|" + strconv.FormatInt(r.Amount, 10) + "|" + r.RRN + "|" + r.AuthCode + "|" + r.Orig.STAN
	if r.Type == txn.Settlement || r.Type == txn.UploadEnd {
		f += fmt.Sprintf("|%+v|%d", r.Totals, r.UploadCount)
	}
	sum := sha256.Sum256([]byte(f))
	return hex.EncodeToString(sum[:16])
}

// Response turns the request message m into the answer to it, in place: the
// fields a response carries back stay as they were decoded, the others go,
// and the host's are set. now is the host's time, for F12 and F13 (unless
// the decision is an answer given before, at dec.At). m is the
// response from here on. (Building a new message instead costs the codec a
// field instance and a copy for every echoed field: a third of its time.)
func (d *Dialect) Response(m *iso8583.Message, r *txn.Request, dec *txn.Decision, now time.Time) (*iso8583.Message, error) {
	m.MTI(ResponseMTI(r.MTI))
	// The bitmap as decoded says which fields the request has.
	bm := m.Bitmap()
	for id := 2; id <= bm.Len(); id++ {
		if bm.IsSet(id) && (!d.carriesBack(id, r) || get(m, id) == "") {
			m.UnsetField(id)
		}
	}
	set := func(id int, v string) {
		if v != "" {
			_ = m.Field(id, v) // values below are made to fit their fields
		}
	}
	if !dec.At.IsZero() {
		now = dec.At
	}
	set(12, now.Format("150405"))
	set(13, now.Format("0102"))
	if !dec.Settlement.IsZero() {
		set(15, dec.Settlement.Format("0102"))
	}
	set(37, dec.RRN)
	if dec.RC == txn.Approved {
		set(38, dec.AuthCode)
	}
	set(39, dec.RC)
	if err := d.wire.write(m, r, dec); err != nil {
		return nil, err
	}
	return m, nil
}

// CheckField reports whether a response can carry value in field id, as a
// scenario's respond.set would put it there: within the field's length, and
// of its class (a response with a letter in an n field is one strict
// terminals refuse whole).
func (d *Dialect) CheckField(id int, value string) error {
	spec, ok := d.Spec.Fields[id]
	if !ok {
		return fmt.Errorf("the %s dialect has no field %d", d.Name, id)
	}
	f := field.NewInstanceOf(spec)
	if err := f.SetBytes([]byte(value)); err != nil {
		return errors.New("not a value this field takes")
	}
	if _, err := f.Pack(); err != nil {
		// The library's message can quote the value; keep only ours.
		return fmt.Errorf("not a value this field can carry (%s, %s)", spec.Spec().Description, lengthOf(spec.Spec()))
	}
	if _, isString := f.(*field.String); isString {
		if err := d.checkValue(id, value); err != nil {
			return fmt.Errorf("not a value this field can carry (%s, class %s): it %v", spec.Spec().Description, d.layout[id].class, err)
		}
	}
	return nil
}

func lengthOf(s *field.Spec) string {
	if fixed(s) {
		return fmt.Sprintf("%d characters", s.Length)
	}
	return fmt.Sprintf("up to %d characters", s.Length)
}

// carriesBack reports the request fields a response carries back, where
// present, as the dialect's data file lists them.
func (d *Dialect) carriesBack(id int, r *txn.Request) bool { return d.wire.echoes(id, r) }

// ResponseMTI is the MTI that answers mti: a repeat's response is the original's
// (0221 -> 0230), and the function digit goes up by one.
func ResponseMTI(mti string) string {
	if len(mti) != 4 {
		return mti
	}
	b := []byte(mti)
	b[3] = '0'
	if b[2] < '9' {
		b[2]++
	}
	return string(b)
}

// ReplyPreamble appends the preamble of a response to one that came with req:
// the TPDU's destination and source swapped, the header echoed, with the
// host's processing requirement in the low nibble of its third byte when one
// is given.
func (d *Dialect) ReplyPreamble(dst, req []byte, requirement byte) []byte {
	if len(req) < tpduSize {
		return dst
	}
	n := len(dst)
	dst = append(dst, req[0], req[3], req[4], req[1], req[2])
	dst = append(dst, req[tpduSize:]...)
	if requirement != 0 && len(req) >= 8 {
		dst[n+7] = dst[n+7]&0xF0 | requirement&0x0F
	}
	return dst
}

// FieldValue returns a field's value, or "" when the field (or the message)
// is absent.
func FieldValue(m *iso8583.Message, id int) string {
	if m == nil {
		return ""
	}
	f := m.GetField(id)
	if f == nil {
		return ""
	}
	if s, ok := f.(*field.String); ok {
		return s.Value()
	}
	v, _ := f.String()
	return v
}

func get(m *iso8583.Message, id int) string { return FieldValue(m, id) }

func panFromTrack(track string) string {
	for i := 0; i < len(track); i++ {
		if track[i] == '=' || track[i] == 'D' {
			return track[:i]
		}
	}
	return ""
}

// digits parses an unsigned decimal, refusing anything but digits.
func digits(s string) (int64, error) {
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not numeric at position %d", i+1)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

func pad(n int64, width int) string {
	s := strconv.FormatInt(n, 10)
	for len(s) < width {
		s = "0" + s
	}
	return s
}
