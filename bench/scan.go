package bench

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
)

// A scanner reads the few fields a load generator looks at in a response
// (MTI, 11, 37, 38, 39, 41, and 55 for a chip card) and steps over the others by their length
// prefixes, with the codecs of the dialect's spec. Unpacking every response
// with moov-io took a third of the load generator's time: it builds a field
// object and a map entry for every field and decodes values nobody reads.
type scanner struct {
	mti    fieldCodec
	bitmap fieldCodec
	fields [129]fieldCodec
	want   [129]bool // the fields read
}

// fieldCodec is what the scanner knows of one field of the spec.
type fieldCodec struct {
	spec *field.Spec
	// width says how many bytes n units of the field's value take on the
	// wire, found by trying the encoder out: 0 when it could not tell (the
	// value is then decoded to find out).
	width func(n int) int
	// simple: a plain value with the default unpacker (not a composite).
	simple bool
}

// wanted are the fields a response is read for; 55 too for a chip card.
var wanted = [129]bool{11: true, 37: true, 38: true, 39: true, 41: true}

// response is what a load generator reads in a response.
type response struct {
	mti, stan, rrn, auth, rc, tid string
	// icc is F55's bytes, for a chip card; it may lie in the buffer the
	// response was read into, so it is read before the next one is.
	icc []byte
}

// same reports whether two responses read the same.
func (r *response) same(o *response) bool {
	return r.mti == o.mti && r.stan == o.stan && r.rrn == o.rrn && r.auth == o.auth && r.rc == o.rc && r.tid == o.tid &&
		bytes.Equal(r.icc, o.icc) && (r.icc == nil) == (o.icc == nil)
}

// errScan says a message uses something the scanner does not handle; it is
// then unpacked whole.
var errScan = errors.New("message layout the scanner does not handle")

// newScanner reads responses of the spec; with icc, F55 as well.
func newScanner(spec *iso8583.MessageSpec, icc bool) *scanner {
	s := &scanner{want: wanted}
	s.want[55] = icc
	for id, f := range spec.Fields {
		if id < 0 || id >= len(s.fields) {
			continue
		}
		sp := f.Spec()
		fc := fieldCodec{spec: sp, simple: sp != nil && sp.Enc != nil && sp.Pref != nil && sp.Unpacker == nil && len(sp.Subfields) == 0}
		if fc.simple {
			fc.width = widthOf(sp)
		}
		switch id {
		case 0:
			s.mti = fc
		case 1:
			s.bitmap = fc
		default:
			s.fields[id] = fc
		}
	}
	return s
}

// widthOf finds how the field's encoder sizes a value of n units: n bytes
// (ASCII, binary), 2n (hex characters) or (n+1)/2 (BCD).
func widthOf(sp *field.Spec) func(n int) int {
	probe := bytes.Repeat([]byte{'0'}, 32) // decodes as ASCII, hex and BCD alike
	shapes := []func(int) int{
		func(n int) int { return n },
		func(n int) int { return 2 * n },
		func(n int) int { return (n + 1) / 2 },
	}
	for _, shape := range shapes {
		fits := true
		for n := 1; n <= 5 && fits; n++ {
			_, read, err := sp.Enc.Decode(probe, n)
			fits = err == nil && read == shape(n)
		}
		if fits {
			return shape
		}
	}
	return nil
}

// scan reads a packed message (from its MTI).
func (s *scanner) scan(msg []byte) (response, error) {
	var r response
	if !s.mti.simple || !s.bitmap.simple {
		return r, errScan
	}
	mti, off, err := s.value(&s.mti, msg, 0)
	if err != nil {
		return r, fmt.Errorf("MTI: %w", err)
	}
	r.mti = string(mti)

	// The bitmap, and the ones after it while their first bit says so.
	bsp := s.bitmap.spec
	blen, _, err := bsp.Pref.DecodeLength(bsp.Length, msg[off:])
	if err != nil {
		return r, fmt.Errorf("bitmap: %w", err)
	}
	var bits [16]byte
	nbits := 0
	for {
		if off >= len(msg) {
			return r, errors.New("bitmap: message too short")
		}
		b, read, err := bsp.Enc.Decode(msg[off:], blen)
		if err != nil {
			return r, fmt.Errorf("bitmap: %w", err)
		}
		if nbits+len(b) > len(bits) {
			return r, errScan
		}
		copy(bits[nbits:], b)
		nbits += len(b)
		off += read
		if bsp.DisableAutoExpand || b[0]&0x80 == 0 {
			break
		}
	}

	for id := 2; id <= nbits*8; id++ {
		if id%64 == 1 || bits[(id-1)/8]&(0x80>>((id-1)%8)) == 0 {
			continue // a bitmap's own bit, or absent
		}
		if id >= len(s.fields) {
			return r, errScan
		}
		fc := &s.fields[id]
		if fc.spec == nil {
			return r, fmt.Errorf("field %d is not in the spec", id)
		}
		if !fc.simple {
			return r, errScan
		}
		if s.want[id] || fc.width == nil {
			v, next, err := s.value(fc, msg, off)
			if err != nil {
				return r, fmt.Errorf("field %d: %w", id, err)
			}
			off = next
			switch id {
			case 11:
				r.stan = string(v)
			case 37:
				r.rrn = string(v)
			case 38:
				r.auth = string(v)
			case 39:
				r.rc = string(v)
			case 41:
				r.tid = string(v)
			case 55:
				if s.want[55] {
					r.icc = v
				}
			}
			continue
		}
		n, pb, err := fc.spec.Pref.DecodeLength(fc.spec.Length, msg[off:])
		if err != nil {
			return r, fmt.Errorf("field %d: %w", id, err)
		}
		off += pb + fc.width(n)
		if off > len(msg) {
			return r, fmt.Errorf("field %d: message too short", id)
		}
	}
	return r, nil
}

// value decodes the field at off and returns its value and where the next
// field starts.
func (s *scanner) value(fc *fieldCodec, msg []byte, off int) ([]byte, int, error) {
	if off > len(msg) {
		return nil, 0, errors.New("message too short")
	}
	n, pb, err := fc.spec.Pref.DecodeLength(fc.spec.Length, msg[off:])
	if err != nil {
		return nil, 0, err
	}
	if off+pb > len(msg) {
		return nil, 0, errors.New("message too short")
	}
	if fc.spec.Enc == encoding.Binary && fc.spec.Pad == nil {
		// The bytes as they are: moov-io's binary decoder copies the whole
		// rest of the message first.
		start := off + pb
		if n < 0 || n > len(msg)-start {
			return nil, 0, errors.New("message too short")
		}
		return msg[start : start+n : start+n], start + n, nil
	}
	v, read, err := fc.spec.Enc.Decode(msg[off+pb:], n)
	if err != nil {
		return nil, 0, err
	}
	if fc.spec.Pad != nil {
		v = fc.spec.Pad.Unpad(v)
	}
	return v, off + pb + read, nil
}
