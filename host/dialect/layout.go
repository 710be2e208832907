package dialect

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
)

// A class is what a field may carry, as ISO 8583 names it. The spec files in
// fixtures/dialects give each field's class beside its length ("class"); the
// library reads the rest and ignores it.
type class uint8

const (
	classN   class = iota + 1 // n: digits
	classAN                   // an: letters and digits (and the spaces some terminals pad with)
	classANS                  // ans: printable ASCII
	classZ                    // z: track data: digits and a separator ('=', or 'D')
	classB                    // b: binary; where it travels as hex text, hex digits
	classXN                   // x+n: 'C' (credit) or 'D' (debit), then digits
)

var classes = map[string]class{"n": classN, "an": classAN, "ans": classANS, "z": classZ, "b": classB, "xn": classXN}

// unit is how a field's value travels: what one unit of its length (a digit,
// a character, a byte) takes on the wire.
type unit uint8

const (
	unitText   unit = iota + 1 // a byte a character
	unitBCD                    // two digits a byte, padded with a nibble to a whole byte
	unitHex                    // a byte as two hex characters
	unitBinary                 // a byte a byte
)

func (u unit) width(n int) int {
	switch u {
	case unitBCD:
		return (n + 1) / 2
	case unitHex:
		return 2 * n
	}
	return n
}

// fieldLayout is what the strict check knows of one field of a dialect.
type fieldLayout struct {
	spec  *field.Spec
	class class
	unit  unit
	// leftAligned: an odd BCD digit count is padded on the right.
	leftAligned bool
	// textLength: the length prefix is ASCII digits (LL, LLL).
	textLength bool
}

// fixedN reports a numeric field of fixed length (an amount, a date).
func (f *fieldLayout) fixedN() bool { return f.class == classN && fixed(f.spec) }

// layout is a dialect's fields as the wire lays them out: 0 the MTI, 1 the
// bitmap, then the data fields.
type layout [129]fieldLayout

// loadLayout reads the class of each field from the spec file raw and the
// unit from the encoder the spec gives it. A field without a class, or with
// an encoder the check does not know, is an error: a field the host cannot
// check is a field it would copy back unchecked.
func loadLayout(spec *iso8583.MessageSpec, raw []byte) (*layout, error) {
	var file struct {
		Fields map[string]struct {
			Class string `json:"class"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return nil, err
	}
	var l layout
	for id, f := range spec.Fields {
		if id < 0 || id >= len(l) {
			return nil, fmt.Errorf("field %d: beyond 128", id)
		}
		sp := f.Spec()
		fl := fieldLayout{spec: sp, textLength: strings.HasPrefix(sp.Pref.Inspect(), "ASCII.") && !fixed(sp)}
		switch enc := sp.Enc.(type) {
		case bcdDigits:
			fl.unit, fl.leftAligned = unitBCD, enc.leftAligned
		default:
			switch sp.Enc {
			case encoding.ASCII:
				fl.unit = unitText
			case encoding.BytesToASCIIHex:
				fl.unit = unitHex
			case encoding.Binary:
				fl.unit = unitBinary
			default:
				return nil, fmt.Errorf("field %d: encoding %T is not one the check knows", id, sp.Enc)
			}
		}
		if id >= 2 {
			c, ok := classes[file.Fields[strconv.Itoa(id)].Class]
			if !ok {
				return nil, fmt.Errorf("field %d: class %q is not one of n, an, ans, z, b, xn", id, file.Fields[strconv.Itoa(id)].Class)
			}
			fl.class = c
		}
		l[id] = fl
	}
	if l[0].spec == nil || l[1].spec == nil {
		return nil, fmt.Errorf("no MTI or bitmap")
	}
	return &l, nil
}

// span finds the field that starts b: where its value starts, where the
// field ends, and its length in units (digits, characters or bytes).
func (f *fieldLayout) span(b []byte) (value, end, n int, err error) {
	n, value, err = f.spec.Pref.DecodeLength(f.spec.Length, b)
	if err != nil || n < 0 {
		return 0, 0, 0, errLength
	}
	if f.textLength {
		// The library reads the digits with strconv.Atoi, which takes a sign.
		for _, c := range b[:value] {
			if c < '0' || c > '9' {
				return 0, 0, 0, errLength
			}
		}
	}
	end = value + f.unit.width(n)
	if end > len(b) {
		return 0, 0, 0, fmt.Errorf("is %d bytes long, but the message ends after %d", end, len(b))
	}
	return value, end, n, nil
}

var errLength = fmt.Errorf("has a length that does not decode or is over its maximum")

// check reports what is wrong with a field's value v as it travels (n units
// long), by its class.
func (f *fieldLayout) check(v []byte, n int) error {
	separated := false // track data has its separator
	switch f.unit {
	case unitBinary:
		return nil // any byte is a byte
	case unitHex:
		for i, c := range v {
			if !isHex(c) {
				return fmt.Errorf("is not hex at position %d", i+1)
			}
		}
		return nil
	case unitBCD:
		skip := 0
		if n%2 == 1 && !f.leftAligned {
			skip = 1 // the pad nibble comes first
		}
		for i := 0; i < n; i++ {
			j := i + skip
			nib := v[j/2] >> 4
			if j%2 == 1 {
				nib = v[j/2] & 0x0F
			}
			if nib > 9 && (f.class != classZ || nib != 0xD) {
				return fmt.Errorf("is not numeric at digit %d", i+1)
			}
			separated = separated || nib == 0xD
		}
		if f.class == classZ && !separated {
			return errNoSeparator
		}
		return nil
	}
	allowed := &charsets[f.class]
	for i, c := range v {
		if !allowed[c] && (f.class != classXN || !f.class.allows(c, i)) {
			return fmt.Errorf("has a character its class (%s) does not allow at position %d", f.class, i+1)
		}
		separated = separated || c == '=' || c == 'D'
	}
	if f.class == classZ && !separated {
		return errNoSeparator
	}
	if f.class == classB && len(v)%2 == 1 {
		return fmt.Errorf("is an odd number of hex digits")
	}
	return nil
}

var errNoSeparator = errors.New("is track data without its separator ('=')")

// allows reports whether a character at position i may stand in a text field
// of class c.
func (c class) allows(ch byte, i int) bool {
	digit := ch >= '0' && ch <= '9'
	switch c {
	case classN:
		return digit
	case classAN:
		return digit || ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch == ' '
	case classANS:
		return ch >= 0x20 && ch <= 0x7E
	case classZ:
		return digit || ch == '=' || ch == 'D'
	case classB:
		return isHex(ch)
	case classXN:
		if i == 0 {
			return ch == 'C' || ch == 'D'
		}
		return digit
	}
	return false
}

// charsets are the characters each class allows anywhere in a value, as a
// table: the check runs on every byte of every request. (x+n allows its
// sign only first: its table holds the digits.)
var charsets = func() (t [classXN + 1][256]bool) {
	for c := classN; c <= classXN; c++ {
		for ch := 0; ch < 256; ch++ {
			t[c][ch] = c.allows(byte(ch), 1)
		}
	}
	return t
}()

func (c class) String() string {
	for name, v := range classes {
		if v == c {
			return name
		}
	}
	return "?"
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

// cardField reports the fields whose business is card data: the card number
// and its kin, tracks, PIN block and chip data. They are masked wherever card
// data is; in every other field, card data is a sign of a misplaced field.
func cardField(id int) bool {
	switch id {
	case 2, 20, 34, 35, 36, 45, 52, 55:
		return true
	}
	return false
}

// looksLikeCard reports a text value that carries what looks like track
// data: a track-2 separator after card digits (4 or more before '=', 1 or
// more after: a track cut by a field boundary leaves little of either side),
// or a track-1 card number (12 or more digits before '^'). Digit runs alone
// are not judged: a merchant ID may be any digits, and the message's own
// card number, where it has one, is looked for instead (containsRun).
func looksLikeCard(v []byte) bool {
	for i, c := range v {
		switch c {
		case '=':
			if digitsBefore(v, i) >= 4 && digitsAfter(v, i) >= 1 {
				return true
			}
		case '^':
			if digitsBefore(v, i) >= 12 {
				return true
			}
		}
	}
	return false
}

// panRun is how many digits of a message's own card number in a row, found
// in another field, mark that field as card data out of place.
const panRun = 12

// containsRun reports whether v holds n or more digits of pan in a row, in
// the same order. A run of one digit repeated (test cards of zeros, and
// amounts of zeros) says nothing and is not counted.
func containsRun[T string | []byte](v T, pan string, n int) bool {
	if len(pan) < n || longestDigitRun(v) < n {
		return false // the common case, found without comparing
	}
	for start := 0; start+n <= len(pan); start++ {
		run := pan[start : start+n]
		if strings.Count(run, run[:1]) == n {
			continue
		}
		for i := 0; i+n <= len(v); i++ {
			if string(v[i:i+n]) == run {
				return true
			}
		}
	}
	return false
}

func longestDigitRun[T string | []byte](v T) int {
	longest, run := 0, 0
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

func digitsBefore(v []byte, i int) int {
	n := 0
	for j := i - 1; j >= 0 && v[j] >= '0' && v[j] <= '9'; j-- {
		n++
	}
	return n
}

func digitsAfter(v []byte, i int) int {
	n := 0
	for j := i + 1; j < len(v) && v[j] >= '0' && v[j] <= '9'; j++ {
		n++
	}
	return n
}

// checkValue reports what is wrong with v as the value of field id, as the
// library holds it (hex for binary fields): its length and its class.
func (d *Dialect) checkValue(id int, v string) error {
	if id < 2 || id >= len(d.layout) || d.layout[id].spec == nil {
		return fmt.Errorf("the %s dialect has no field %d", d.Name, id)
	}
	fl := &d.layout[id]
	n := len(v)
	binary := fl.unit == unitHex || fl.unit == unitBinary
	if binary {
		n = len(v) / 2
	}
	if fixed(fl.spec) && n != fl.spec.Length || n > fl.spec.Length {
		return fmt.Errorf("is %d long, want %s", n, lengthOf(fl.spec))
	}
	for i := 0; i < len(v); i++ {
		ok := false
		switch {
		case binary:
			ok = isHex(v[i])
		case fl.unit == unitBCD:
			ok = v[i] >= '0' && v[i] <= '9' || fl.class == classZ && (v[i] == '=' || v[i] == 'D')
		default:
			ok = fl.class.allows(v[i], i)
		}
		if !ok {
			return fmt.Errorf("has a character its class (%s) does not allow at position %d", fl.class, i+1)
		}
	}
	if binary && len(v)%2 == 1 {
		return fmt.Errorf("is an odd number of hex digits")
	}
	return nil
}

func fixed(s *field.Spec) bool { return strings.HasSuffix(s.Pref.Inspect(), ".Fixed") }

// answerEchoes are the fields a terminal matches a response to its request
// by (DOMAIN.md §5): a response carries each back as the request had it.
var answerEchoes = [...]int{3, 4, 11, 41, 42}

// CheckAnswer holds a response, decoded strictly (Decode), to the request it
// answers, as a strict terminal does: its MTI is the request's plus 10, it
// has F39, and each of F3, F4, F11, F41 and F42 is carried back as the
// request had it where the request's value was valid, and not at all where
// it was not (a response never carries back a bad field).
func (d *Dialect) CheckAnswer(req, resp *iso8583.Message) error {
	reqMTI, _ := req.GetMTI()
	respMTI, _ := resp.GetMTI()
	if want := ResponseMTI(reqMTI); respMTI != want {
		return fmt.Errorf("response MTI %s, want %s", respMTI, want)
	}
	if FieldValue(resp, 39) == "" {
		return fmt.Errorf("response has no F39")
	}
	for _, id := range answerEchoes {
		sent, got := FieldValue(req, id), FieldValue(resp, id)
		switch {
		case sent == "" && got != "" && id != 4:
			// F4 may come back on its own (an upload's original amount).
			return fmt.Errorf("response has F%d %q, which the request did not", id, got)
		case sent == "":
		case d.checkValue(id, sent) != nil:
			if got != "" {
				return fmt.Errorf("response carries back F%d, which was not valid in the request", id)
			}
		case got != sent:
			return fmt.Errorf("response F%d is %q, want %q as sent", id, got, sent)
		}
	}
	return nil
}
