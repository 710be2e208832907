package dialect

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// A cup request whose amount holds a nibble that is not a digit still
// decodes the fields behind it (STAN, terminal), so that its format-error
// response can echo them; the amount itself goes, and Decode says which
// field was wrong.
func TestBCDNonDigitIsAFormatErrorNotALostMessage(t *testing.T) {
	d, wire := saleVector(t, "cup")
	body := wire[2+d.PreambleOf(wire[2:]):]
	m, err := d.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	amount, stan, tid := get(m, 4), get(m, 11), get(m, 41)
	packed, _ := hex.DecodeString(amount)
	at := bytes.Index(body, packed)
	if amount == "" || at < 0 {
		t.Fatalf("amount %q not found in the frame", amount)
	}
	bad := bytes.Clone(body)
	bad[at+len(packed)-1] = bad[at+len(packed)-1]&0xF0 | 0x0C // last digit -> C

	m, err = d.Decode(bad)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "4" {
		t.Fatalf("Decode: %v, want a FieldError for field 4", err)
	}
	if get(m, 11) != stan || get(m, 41) != tid {
		t.Errorf("after the bad amount: STAN %q terminal %q, want %q %q", get(m, 11), get(m, 41), stan, tid)
	}
	if m.GetField(4) != nil {
		t.Errorf("the bad amount is still in the message: %q", get(m, 4))
	}
}

// A BCD length prefix is a number or nothing: its nibbles are not let through.
func TestBCDLengthPrefixMustBeDigits(t *testing.T) {
	if _, _, err := (bcdLength{digits: 2}).DecodeLength(99, []byte{0x1A}); err == nil {
		t.Error("length prefix 1A decoded")
	}
	if n, read, err := (bcdLength{digits: 3}).DecodeLength(999, []byte{0x01, 0x23}); err != nil || n != 123 || read != 2 {
		t.Errorf("length prefix 0123 = %d, %d, %v; want 123, 2, nil", n, read, err)
	}
}

// Buffered says whether a whole frame is already in the reader, for every
// length header, without reading it.
func TestFramerBuffered(t *testing.T) {
	for _, h := range []LengthHeader{Binary2, ASCII4, BCD2} {
		f := Framer{Header: h}
		whole, err := f.AppendFrame(nil, nil, []byte("0800 some message"))
		if err != nil {
			t.Fatal(err)
		}
		for cut := 0; cut <= len(whole); cut++ {
			r := bufio.NewReader(bytes.NewReader(whole[:cut]))
			if cut > 0 {
				r.Peek(cut) // fill the buffer with what there is
			}
			if got, want := f.Buffered(r), cut == len(whole); got != want {
				t.Errorf("%s, %d of %d bytes: Buffered %v, want %v", h, cut, len(whole), got, want)
			}
			if r.Buffered() != cut {
				t.Errorf("%s: Buffered consumed bytes", h)
			}
		}
	}
}

// A bad nibble before a field that does not decode at all: the letter does
// not stay in the message (a response could not carry it back), and the
// error names the first field at fault.
func TestBCDNonDigitBeforeABrokenField(t *testing.T) {
	d, wire := saleVector(t, "cup")
	body := wire[2+d.PreambleOf(wire[2:]):]
	m, err := d.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	packed, _ := hex.DecodeString(get(m, 4))
	at := bytes.Index(body, packed)
	bad := bytes.Clone(body[:len(body)-6]) // the last fields cut short
	bad[at+len(packed)-1] = bad[at+len(packed)-1]&0xF0 | 0x0C
	m, err = d.Decode(bad)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "4" {
		t.Fatalf("Decode: %v, want a FieldError for field 4, the first at fault", err)
	}
	if m.GetField(4) != nil {
		t.Errorf("the bad amount is still in the message: %q", get(m, 4))
	}
}

// A bitmap that announces a third bitmap (bits beyond 128) with fields that
// do not decode is a format error, never a panic (the hostile-traffic test
// found one).
func TestDecodeBitmapBeyond128(t *testing.T) {
	for _, name := range Names() {
		d, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		var mti, bitmaps []byte
		if name == "cup" {
			mti = []byte{0x02, 0x00}
			bitmaps = bytes.Repeat([]byte{0xFF}, 24)
		} else {
			mti = []byte("0200")
			bitmaps = bytes.Repeat([]byte("F"), 48)
		}
		body := append(append(append([]byte{}, mti...), bitmaps...), bytes.Repeat([]byte{0x31}, 40)...)
		if _, err := d.Decode(body); err == nil {
			t.Errorf("%s: a message with every bit set decoded", name)
		}
	}
}
