package dialect

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moov-io/iso8583/field"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/txn"
)

// Detail is one frame as a person reads it, with card data masked: what the
// admin API's detail view of an exchange shows.
type Detail struct {
	// Preamble is the bytes before the MTI in hex (the cup TPDU and header);
	// empty in dialects without one.
	Preamble string `json:"preamble,omitempty"`
	// MTI is the message type, empty when it does not decode.
	MTI string `json:"mti,omitempty"`
	// Fields are the message's fields in order of number, the bitmap aside,
	// with card data masked.
	Fields []FieldDetail `json:"fields"`
	// Hex is the whole frame (preamble and message; no length header) in
	// upper-case hex, with each byte of a card-data field, its length prefix
	// included, shown as "**".
	Hex string `json:"hex"`
	// Error says what of the frame does not decode. Nothing says where card
	// data lies in bytes that do not decode, so they are masked in Hex.
	Error string `json:"error,omitempty"`
}

// FieldDetail is one field of a Detail.
type FieldDetail struct {
	ID int `json:"id"`
	// Name is the field's description in the dialect's spec.
	Name  string `json:"name"`
	Value string `json:"value"`
	// Masked says that Value is card data with some or all of it replaced
	// by '*'.
	Masked bool `json:"masked,omitempty"`
	// Tags are the chip data's tags (F55), in order, with those that carry
	// card data (5A, 57, 5F20, 9F1F, 9F20, 56) masked; Value says them in
	// one line.
	Tags []TagDetail `json:"tags,omitempty"`
}

// TagDetail is one tag of the chip data (F55).
type TagDetail struct {
	Tag string `json:"tag"`
	// Name is what EMV calls it, "" for a tag it does not name.
	Name  string `json:"name,omitempty"`
	Value string `json:"value"`
	// Masked says that Value is card data, replaced by '*' in whole or part.
	Masked bool `json:"masked,omitempty"`
	// Tags are a template's own tags (71 and 72: issuer scripts).
	Tags []TagDetail `json:"tags,omitempty"`
}

// Describe reads a frame (preamble and message, as the journal keeps them)
// for a person: every field by number, and the raw bytes in hex, card data
// masked in both. It never fails: what does not decode is said in the
// Detail's Error and masked. It is not on the host's hot path; it runs when
// someone asks to see an exchange.
func (d *Dialect) Describe(frame []byte) Detail {
	pre := min(d.PreambleOf(frame), len(frame))
	dt := Detail{Preamble: strings.ToUpper(hex.EncodeToString(frame[:pre])), Fields: []FieldDetail{}}
	body := frame[pre:]
	// mask marks the body's bytes shown as "**". Until the walk below has
	// accounted for a byte, it is masked.
	mask := make([]bool, len(body))
	for i := range mask {
		mask[i] = true
	}
	type placed struct{ start, end int }
	var where []placed // of each of dt.Fields
	pan := ""
	off, err := d.walk(body, func(id int, f field.Field, start, end int) error {
		v, err := f.String()
		if err != nil {
			return err
		}
		if id == 0 {
			if !isMTI(v) {
				return ErrNoMTI
			}
			dt.MTI = v
		}
		masker := cardMask(dt.MTI, id)
		if masker == nil && id >= 2 && d.outOfPlace(id, body[start:end], v, pan) {
			masker = maskAll // out of place, as Decode refuses it
		}
		for i := start; i < end; i++ {
			mask[i] = masker != nil
		}
		switch {
		case id < 2:
			return nil // the MTI is said above; the bitmap is in Hex
		case id == 2 && pan == "":
			pan = v
		case id == 35 && pan == "":
			pan = panFromTrack(v)
		}
		fd := FieldDetail{ID: id, Name: f.Spec().Description, Value: v}
		if masker != nil {
			fd.Value, fd.Masked = masker(v), true
		}
		if id == 55 {
			// Chip data shows its tags, card data among them masked.
			if tags, err := emv.ParseTagsHex(v); err == nil {
				fd.Value, fd.Tags = tags.String(), tagDetails(tags)
			}
		}
		dt.Fields = append(dt.Fields, fd)
		where = append(where, placed{start, end})
		return nil
	})
	misplaced := false
	switch {
	case err != nil:
		dt.Error = err.Error()
		misplaced = true
	case off < len(body):
		dt.Error = fmt.Sprintf("%d bytes after the last field", len(body)-off)
		misplaced = true
	case cardRequest(dt.MTI) && !hasField(dt.Fields, 2) && panFromTrack(fieldOf(dt.Fields, 35)) == "":
		dt.Error = errNoCard.Error()
		misplaced = true
	}
	if misplaced {
		// The bitmap and the bytes disagree: any field may be another one's
		// bytes (a card number sent with its bit clear). Only what names the
		// exchange is shown, as a format-error response carries it.
		for i := range dt.Fields {
			fd := &dt.Fields[i]
			switch fd.ID {
			case 3, 11, 39, 41, 42:
				continue
			}
			if !fd.Masked {
				fd.Value, fd.Masked = maskAll(fd.Value), true
			}
			for j := where[i].start; j < where[i].end; j++ {
				mask[j] = true
			}
		}
	}

	const digits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(2 * len(frame))
	b.WriteString(dt.Preamble)
	for i, c := range body {
		if mask[i] {
			b.WriteString("**")
		} else {
			b.WriteByte(digits[c>>4])
			b.WriteByte(digits[c&0x0F])
		}
	}
	dt.Hex = b.String()
	return dt
}

// walk unpacks a message field by field, as iso8583.Message.Unpack does,
// calling visit with each field (0 the MTI, 1 the bitmap) and where its bytes
// lie in body. It returns how far into body it got: to the end of the last
// field when it returns no error.
func (d *Dialect) walk(body []byte, visit func(id int, f field.Field, start, end int) error) (int, error) {
	off := 0
	one := func(id int, f field.Field) error {
		n, err := f.Unpack(body[off:])
		if err == nil {
			err = visit(id, f, off, off+n)
		}
		switch {
		case err == nil:
			off += n
			return nil
		case id == 0:
			return ErrNoMTI
		default:
			// Not the library's error, which may quote the field's content.
			return &FieldError{Field: strconv.Itoa(id), Err: errDoesNotDecode}
		}
	}
	if err := one(0, field.NewInstanceOf(d.Spec.Fields[0])); err != nil {
		return off, err
	}
	bitmap, ok := field.NewInstanceOf(d.Spec.Fields[1]).(*field.Bitmap)
	if !ok {
		return off, fmt.Errorf("the %s spec's field 1 is not a bitmap", d.Name)
	}
	bitmap.Reset()
	if err := one(1, bitmap); err != nil {
		return off, err
	}
	for id := 2; id <= bitmap.Len(); id++ {
		if bitmap.IsBitmapPresenceBit(id) || !bitmap.IsSet(id) {
			continue
		}
		spec, ok := d.Spec.Fields[id]
		if !ok {
			return off, &FieldError{Field: strconv.Itoa(id), Err: fmt.Errorf("not in the %s spec", d.Name)}
		}
		if err := one(id, field.NewInstanceOf(spec)); err != nil {
			return off, err
		}
	}
	return off, nil
}

var errDoesNotDecode = errors.New("does not decode")

// outOfPlace reports a field, not one for card data, that carries what
// looks like card data, as Decode judges it: raw is the field on the wire,
// its length prefix included, v its value and pan the message's card number.
func (d *Dialect) outOfPlace(id int, raw []byte, v, pan string) bool {
	fl := &d.layout[id]
	if cardField(id) || fl.unit == unitHex || fl.unit == unitBinary {
		return false
	}
	if !fl.fixedN() && containsRun(v, pan, panRun) {
		return true
	}
	if fl.unit != unitText || (fl.class != classAN && fl.class != classANS) {
		return false
	}
	vs, end, _, err := fl.span(raw)
	return err == nil && looksLikeCard(raw[vs:end])
}

// cardMask returns how a field of a message of type mti is masked, or nil
// for a field that holds no card data. It masks what moov-io/iso8583's
// DefaultFilters do, and more.
func cardMask(mti string, id int) func(string) string {
	switch id {
	case 2, 20, 34: // card number, its country code, the extended card number
		return txn.MaskPAN
	case 35, 36, 45: // tracks 2, 3 and 1
		return txn.MaskTrack
	case 52, 55: // PIN block, ICC data
		return maskAll
	case 53:
		// Security control information, and what a PIN block sent with
		// bit 52 clear decodes as.
		return maskAll
	case 48:
		// cup batch-upload records carry card numbers among their other
		// data, and an end of batch's answer carries back what its request
		// had there.
		if strings.HasPrefix(mti, "032") || strings.HasPrefix(mti, "033") {
			return maskAll
		}
	}
	return nil
}

func maskAll(s string) string { return strings.Repeat("*", len(s)) }

// tagDetails lists chip data's tags as a person reads them.
func tagDetails(tags emv.Tags) []TagDetail {
	out := make([]TagDetail, 0, len(tags))
	for _, t := range tags {
		td := TagDetail{Tag: t.Tag, Name: emv.TagName(t.Tag)}
		if len(t.TLVs) > 0 {
			td.Tags = tagDetails(emv.Tags(t.TLVs))
		} else {
			td.Value, td.Masked = emv.Masked(t.Tag, t.Value), emv.CardData(t.Tag)
		}
		out = append(out, td)
	}
	return out
}

func hasField(fs []FieldDetail, id int) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}

// fieldOf is a field's value as the detail shows it.
func fieldOf(fs []FieldDetail, id int) string {
	for _, f := range fs {
		if f.ID == id {
			return f.Value
		}
	}
	return ""
}
