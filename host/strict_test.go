package host_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/txn"
)

// These tests send the host requests a strict terminal would never send (a
// letter or a bad nibble in a numeric field, bytes after the last field, a
// card-data field whose bitmap bit is clear but whose bytes are still there)
// and hold every answer to what a strict terminal accepts: one message that
// decodes strictly, answers its request, carries no bad field back and no
// card number outside F2; and nothing booked.

// wireField is where one field lies in a message's bytes: its length prefix
// from start, its value from value to end, n units (digits, characters,
// bytes) long.
type wireField struct{ start, value, end, n int }

// wireFields walks a message (MTI onwards) as the dialect's spec lays it out,
// apart from the host's own check, so that a test can change the bytes of one
// field and nothing else.
func wireFields(t testing.TB, d *dialect.Dialect, body []byte) map[int]wireField {
	t.Helper()
	hexBitmap := textMTI(d)
	off := 2 // a BCD MTI
	if hexBitmap {
		off = 4
	}
	var bm []byte
	for more := true; more; {
		var word []byte
		if hexBitmap {
			word = unhex(string(body[off : off+16]))
			off += 16
		} else {
			word = body[off : off+8]
			off += 8
		}
		more = len(bm) == 0 && word[0]&0x80 != 0
		bm = append(bm, word...)
	}
	fields := map[int]wireField{}
	for id := 2; id <= len(bm)*8; id++ {
		if id == 65 || bm[(id-1)/8]&(0x80>>((id-1)%8)) == 0 {
			continue
		}
		fs, ok := d.Spec.Fields[id]
		if !ok {
			t.Fatalf("%s has no field %d", d.Name, id)
		}
		sp := fs.Spec()
		n, read, err := sp.Pref.DecodeLength(sp.Length, body[off:])
		if err != nil {
			t.Fatalf("field %d: length: %v", id, err)
		}
		width := (n + 1) / 2 // BCD
		switch sp.Enc {
		case encoding.ASCII, encoding.Binary:
			width = n
		case encoding.BytesToASCIIHex:
			width = 2 * n
		}
		f := wireField{start: off, value: off + read, end: off + read + width, n: n}
		if f.end > len(body) {
			t.Fatalf("field %d runs past the message", id)
		}
		fields[id] = f
		off = f.end
	}
	if off != len(body) {
		t.Fatalf("%d bytes after the last field", len(body)-off)
	}
	return fields
}

// withBit returns a copy of body with bitmap bit set or cleared.
func withBit(d *dialect.Dialect, body []byte, bit int, set bool) []byte {
	out := bytes.Clone(body)
	if textMTI(d) { // and a bitmap in hex characters
		i := 4 + (bit-1)/4
		nib, _ := strconv.ParseUint(string(out[i]), 16, 8)
		mask := uint64(8 >> ((bit - 1) % 4))
		if set {
			nib |= mask
		} else {
			nib &^= mask
		}
		out[i] = fmt.Sprintf("%X", nib)[0]
		return out
	}
	i := 2 + (bit-1)/8
	mask := byte(0x80 >> ((bit - 1) % 8))
	if set {
		out[i] |= mask
	} else {
		out[i] &^= mask
	}
	return out
}

// badDigit returns a copy of body with one digit of field id, at f, made a
// non-digit (a field of text: the letter A in the middle of the value; BCD:
// the nibble A in place of the value's second digit), and the digit's
// position in the value.
func badDigit(d *dialect.Dialect, body []byte, id int, f wireField) ([]byte, int) {
	out := bytes.Clone(body)
	if textField(d, id) {
		pos := (f.end - f.value) / 2
		out[f.value+pos] = 'A'
		return out, pos
	}
	// Digit 2 is the low nibble of the first byte whether an odd count is
	// padded left or right.
	out[f.value] = out[f.value]&0xF0 | 0x0A
	return out, 1
}

// join returns preamble and message as one new frame body.
func join(pre, body []byte) []byte {
	return append(bytes.Clone(pre), body...)
}

// decodeStrictly decodes a request that must pass the host's strict check.
func decodeStrictly(t testing.TB, d *dialect.Dialect, body []byte) *iso8583.Message {
	t.Helper()
	m, err := d.Decode(body)
	if err != nil {
		t.Fatalf("decoding %X: %v", body, err)
	}
	return m
}

// strictAnswer reads the host's answer to req and holds it to what a strict
// terminal asks of one: a frame of exactly one message that decodes strictly
// and answers req (CheckAnswer), with no run of 12 digits of pan in any field
// but F2.
func strictAnswer(t testing.TB, c *term, req *iso8583.Message, pan string) *iso8583.Message {
	t.Helper()
	body := c.readFrame()
	if len(body) < c.d.Preamble {
		t.Fatalf("a %d-byte frame cannot hold the preamble", len(body))
	}
	msg := body[c.d.Preamble:]
	resp, err := c.d.Decode(msg)
	if err != nil {
		t.Fatalf("the response %X does not decode strictly: %v", msg, err)
	}
	if packed, err := resp.Pack(); err != nil || !bytes.Equal(packed, msg) {
		t.Fatalf("response frame %X is not exactly one message (repacked %X, %v)", msg, packed, err)
	}
	if err := c.d.CheckAnswer(req, resp); err != nil {
		t.Errorf("the response does not answer its request: %v", err)
	}
	for id := range resp.GetFields() {
		if v := dialect.FieldValue(resp, id); id > 2 && panRun(v, pan) {
			t.Errorf("response F%d %q carries 12 or more digits of the card number", id, v)
		}
	}
	return resp
}

// panRun reports whether v holds 12 or more digits of pan in a row.
func panRun(v, pan string) bool {
	for i := 0; i+12 <= len(pan); i++ {
		if strings.Contains(v, pan[i:i+12]) {
			return true
		}
	}
	return false
}

// rcOf returns a response's F39.
func rcOf(m *iso8583.Message) string { return dialect.FieldValue(m, 39) }

// latestEntry is the journal's newest entry: the exchange just answered (the
// journal is written before the answer is sent).
func latestEntry(t testing.TB, s *sim.Sim) journal.Entry {
	t.Helper()
	es := s.Journal.Query(journal.Filter{})
	if len(es) == 0 {
		t.Fatal("the journal is empty")
	}
	latest := es[0]
	for _, e := range es {
		if e.Seq > latest.Seq {
			latest = e
		}
	}
	return latest
}

// cardLeaks lists the journal entry's columns (its strings and numbers) that
// carry card data: 12 digits of pan in a row, the digits MaskPAN hides, any
// of also; and in the TID, MID and PAN columns a track separator.
func cardLeaks(e journal.Entry, pan string, also ...string) []string {
	var leaks []string
	v := reflect.ValueOf(e)
	hidden := pan[6 : len(pan)-4]
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Name
		var col string
		switch v.Field(i).Kind() {
		case reflect.String:
			col = v.Field(i).String()
		case reflect.Int64:
			if name != "Amount" {
				continue // latency: a number of the host's own
			}
			col = strconv.FormatInt(v.Field(i).Int(), 10)
		default:
			continue
		}
		leak := panRun(col, pan) || strings.Contains(col, hidden)
		for _, a := range also {
			leak = leak || strings.Contains(strings.ToUpper(col), a)
		}
		switch name {
		case "TID", "MID", "PAN":
			leak = leak || strings.ContainsAny(col, "=^")
		}
		if leak {
			leaks = append(leaks, fmt.Sprintf("%s %q", name, col))
		}
	}
	return leaks
}

// booked is everything the host has booked.
type booked struct {
	Records []books.Record
	Batches []books.Batch
}

func booksOf(s *sim.Sim) booked {
	return booked{Records: s.Books.Records(), Batches: s.Books.Batches()}
}

// numericClasses are the fields of a dialect's spec file whose class is n or
// z, by the file itself.
func numericClasses(t testing.TB, dialectName string) map[int]bool {
	t.Helper()
	raw, err := fixtures.Dialects.ReadFile("dialects/" + dialectName + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Fields map[string]struct{ Class string }
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	out := map[int]bool{}
	for k, f := range file.Fields {
		if id, err := strconv.Atoi(k); err == nil && (f.Class == "n" || f.Class == "z") {
			out[id] = true
		}
	}
	return out
}

// loadDialect loads a dialect for building and checking messages.
func loadDialect(t testing.TB, name string) *dialect.Dialect {
	t.Helper()
	d, err := fixtures.Dialect(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// goldenPAN is the card number of a dialect's golden sale.
func goldenPAN(t testing.TB, d *dialect.Dialect) string {
	t.Helper()
	return dialect.FieldValue(decodeStrictly(t, d, golden(t, d.Name, "sale-request")[d.Preamble:]), 2)
}

// TestStrictGoldenSale: the control for the tests below, in each dialect:
// the golden sale is approved, its answer passes the strict checks, and it is
// booked, with the card number masked in the journal.
func TestStrictGoldenSale(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			d := loadDialect(t, dn)
			pan := goldenPAN(t, d)
			s := start(t, sim.Config{Dialect: dn})
			c := dial(t, s)
			sale := golden(t, dn, "sale-request")
			c.send(sale)
			resp := strictAnswer(t, c, decodeStrictly(t, d, sale[d.Preamble:]), pan)
			if rc := rcOf(resp); rc != txn.Approved {
				t.Fatalf("golden sale answered %q, want %s", rc, txn.Approved)
			}
			recs := s.Books.Records()
			if len(recs) != 1 || recs[0].State != "approved" || recs[0].TID != tids[dn] || recs[0].STAN != "000003" {
				t.Errorf("books hold %+v, want the one approved sale of %s", recs, tids[dn])
			}
			e := latestEntry(t, s)
			if e.Error != "" || e.RC != txn.Approved {
				t.Errorf("journal entry RC %q error %q, want %s and none", e.RC, e.Error, txn.Approved)
			}
			if leaks := cardLeaks(e, pan); len(leaks) > 0 {
				t.Errorf("journal columns carry card data: %v", leaks)
			}
		})
	}
}

// TestStrictNumericFields: one letter (iso87ascii) or one bad nibble (cup) in
// each numeric field of a sale, a void, a reversal and a settlement gets a
// well-formed 30 without the bad field, journalled with the field's number,
// and books nothing.
func TestStrictNumericFields(t *testing.T) {
	vectors := []struct {
		dialect, vector string
		// fields to spoil: every field of class n or z the vector carries,
		// and fields whose content the host reads as digits (iso87ascii
		// settlement totals, F63, are of class ans).
		fields []int
		// afterSale: the golden sale is approved first, so that the request
		// has something to void, reverse or settle.
		afterSale bool
		// hostSets are fields the response carries of the host's own
		// (times, cup settlement totals): there it must not be the bad
		// value, and the strict decode shows it is a good one.
		hostSets []int
	}{
		{"iso87ascii", "sale-request", []int{2, 3, 4, 11, 12, 13, 14, 22, 25, 35}, false, []int{12, 13}},
		{"iso87ascii", "void-request", []int{2, 3, 4, 11, 12, 13, 14, 22, 25, 35}, true, []int{12, 13}},
		{"iso87ascii", "reversal-request", []int{2, 3, 4, 11, 12, 13, 14, 22, 25}, true, []int{12, 13}},
		{"iso87ascii", "settlement-request", []int{3, 11, 12, 13, 60, 63}, true, []int{12, 13}},
		{"iso87bcd", "sale-request", []int{2, 3, 4, 11, 12, 13, 14, 22, 25, 35}, false, []int{12, 13}},
		{"iso87bcd", "void-request", []int{2, 3, 4, 11, 12, 13, 14, 22, 25, 35}, true, []int{12, 13}},
		{"iso87bcd", "reversal-request", []int{2, 3, 4, 11, 12, 13, 14, 22, 25}, true, []int{12, 13}},
		{"iso87bcd", "settlement-request", []int{3, 11, 12, 13, 60, 63}, true, []int{12, 13}},
		{"cup", "sale-request", []int{2, 3, 4, 11, 14, 22, 25, 35, 60}, false, nil},
		{"cup", "void-request", []int{2, 3, 4, 11, 14, 22, 25, 35, 60, 61}, true, nil},
		{"cup", "reversal-request", []int{2, 3, 4, 11, 14, 22, 25, 60}, true, nil},
		{"cup", "settlement-request", []int{11, 48, 60}, true, []int{48}},
	}
	for _, v := range vectors {
		d := loadDialect(t, v.dialect)
		pan := goldenPAN(t, d)
		frame := golden(t, v.dialect, v.vector)
		pre, body := frame[:d.Preamble], frame[d.Preamble:]
		fields := wireFields(t, d, body)
		numeric := numericClasses(t, v.dialect)
		for id := range fields {
			if numeric[id] && !slices.Contains(v.fields, id) {
				t.Errorf("%s/%s: numeric field %d is not spoilt by any case", v.dialect, v.vector, id)
			}
		}
		for _, id := range v.fields {
			t.Run(fmt.Sprintf("%s/%s/F%d", v.dialect, v.vector, id), func(t *testing.T) {
				f, ok := fields[id]
				if !ok {
					t.Fatalf("the vector has no field %d", id)
				}
				s := start(t, sim.Config{Dialect: v.dialect})
				c := dial(t, s)
				if v.afterSale {
					sale := golden(t, v.dialect, "sale-request")
					c.send(sale)
					if rc := rcOf(strictAnswer(t, c, decodeStrictly(t, d, sale[d.Preamble:]), pan)); rc != txn.Approved {
						t.Fatalf("golden sale answered %q", rc)
					}
				}
				before := booksOf(s)

				bad, pos := badDigit(d, body, id, f)
				// The request as a lenient decoder reads it: the golden
				// one with the bad digit in its field.
				req := decodeStrictly(t, d, body)
				value := []byte(dialect.FieldValue(req, id))
				value[pos] = 'A'
				if err := req.Field(id, string(value)); err != nil {
					t.Fatal(err)
				}
				// iso87 F63 is of class ans: only reading the totals
				// finds the letter, after the strict decode.
				if _, err := d.Decode(bad); err == nil && !(v.dialect != "cup" && id == 63) {
					t.Fatalf("the spoilt request %X passes the strict check", bad)
				}

				c.send(join(pre, bad))
				resp := strictAnswer(t, c, req, pan)
				if rc := rcOf(resp); rc != txn.FormatError {
					t.Errorf("answered %q, want %s", rc, txn.FormatError)
				}
				switch got := dialect.FieldValue(resp, id); {
				case slices.Contains(v.hostSets, id):
					if got == string(value) {
						t.Errorf("the response carries back the bad F%d %q", id, got)
					}
				case got != "":
					t.Errorf("the response carries back the bad F%d %q", id, got)
				}
				e := latestEntry(t, s)
				if want := fmt.Sprintf("field %d: ", id); e.RC != txn.FormatError || !strings.HasPrefix(e.Error, want) {
					t.Errorf("journal entry RC %q error %q, want %s and an error starting %q", e.RC, e.Error, txn.FormatError, want)
				}
				if leaks := cardLeaks(e, pan); len(leaks) > 0 {
					t.Errorf("journal columns carry card data: %v", leaks)
				}
				if after := booksOf(s); !reflect.DeepEqual(after, before) {
					t.Errorf("the spoilt request changed the books\nbefore %+v\nafter  %+v", before, after)
				}
			})
		}
	}
}

// hostFields are the fields a host adds to a response of its own.
var hostFields = []int{12, 13, 15, 37, 38, 39, 63, 64}

// TestStrictTrailingBytes: a sale with bytes after its last field gets a
// well-formed 30 that carries back only what a terminal matches an answer by
// (F3, F11, F41, F42), journalled as bytes after the last field, and books
// nothing.
func TestStrictTrailingBytes(t *testing.T) {
	for _, dn := range fixtures.DialectNames() {
		t.Run(dn, func(t *testing.T) {
			d := loadDialect(t, dn)
			pan := goldenPAN(t, d)
			frame := golden(t, dn, "sale-request")
			pre, body := frame[:d.Preamble], frame[d.Preamble:]
			extra := []byte(strings.Repeat("0123456", 4))

			// Where bitmap and bytes disagree, only the fields before the
			// first can be placed with certainty; the host keeps those a
			// terminal matches by.
			req := decodeStrictly(t, d, body)
			kept := []int{3, 11, 41, 42}
			for id := range req.GetFields() {
				if id > 1 && !slices.Contains(kept, id) {
					req.UnsetField(id)
				}
			}
			// A numeric terminal and merchant ID side by side could hold a
			// card number whole: out of place, F42 is not carried back.
			if ids := dialect.FieldValue(req, 41) + dialect.FieldValue(req, 42); regexp.MustCompile(`[0-9]{12}`).MatchString(ids) {
				req.UnsetField(42)
			}

			s := start(t, sim.Config{Dialect: dn})
			c := dial(t, s)
			c.send(join(pre, append(bytes.Clone(body), extra...)))
			resp := strictAnswer(t, c, req, pan)
			if rc := rcOf(resp); rc != txn.FormatError {
				t.Errorf("answered %q, want %s", rc, txn.FormatError)
			}
			for id := range resp.GetFields() {
				if id > 1 && !slices.Contains(kept, id) && !slices.Contains(hostFields, id) {
					t.Errorf("the response carries F%d %q, which it cannot place", id, dialect.FieldValue(resp, id))
				}
			}
			e := latestEntry(t, s)
			if want := fmt.Sprintf("%d bytes follow", len(extra)); e.RC != txn.FormatError || !strings.Contains(e.Error, want) {
				t.Errorf("journal entry RC %q error %q, want %s and %q", e.RC, e.Error, txn.FormatError, want)
			}
			if b := booksOf(s); len(b.Records) != 0 || len(b.Batches) != 0 {
				t.Errorf("a sale with trailing bytes was booked: %+v", b)
			}
		})
	}
}

// TestStrictClearedBit: a card-data field (card number, track 2, PIN block)
// whose bitmap bit is cleared but whose bytes are still sent gets a
// well-formed 30; the card data it moves into other fields reaches neither
// the response nor the journal's columns, and nothing is booked.
func TestStrictClearedBit(t *testing.T) {
	// An arbitrary PIN block: in cup, its first two bytes are no BCD length.
	const pin = "8F3A17C45E6D92B0"
	for _, dn := range fixtures.DialectNames() {
		for _, vector := range []string{"sale-request", "void-request", "refund-request"} {
			for _, bit := range []int{2, 35, 52} {
				t.Run(fmt.Sprintf("%s/%s/bit%d", dn, vector, bit), func(t *testing.T) {
					d := loadDialect(t, dn)
					pan := goldenPAN(t, d)
					frame := golden(t, dn, vector)
					pre, body := frame[:d.Preamble], frame[d.Preamble:]
					var also []string
					if bit == 52 {
						body = withPIN(t, d, body, pin)
						also = []string{pin[:8], pin[8:]}
					}
					cleared := withBit(d, body, bit, false)
					// The request as the host's strict decoder reads it: what
					// it echoes must be what it read.
					req, err := d.Decode(cleared)
					if err == nil {
						t.Fatalf("the request with bit %d cleared passes the strict check", bit)
					}

					s := start(t, sim.Config{Dialect: dn})
					c := dial(t, s)
					c.send(join(pre, cleared))
					resp := strictAnswer(t, c, req, pan)
					if rc := rcOf(resp); rc != txn.FormatError {
						t.Errorf("answered %q, want %s", rc, txn.FormatError)
					}
					// Field by field, and across fields as they lie on the wire
					// (F41 and F42 side by side can hold a card number whole).
					var all strings.Builder
					for id := 3; id <= 128; id++ {
						v := strings.ToUpper(dialect.FieldValue(resp, id))
						all.WriteString(v)
						for _, a := range also {
							if strings.Contains(v, a) {
								t.Errorf("response F%d %q carries the PIN block", id, v)
							}
						}
					}
					if panRun(all.String(), pan) {
						t.Errorf("the response's fields after F2 carry 12 digits of the card in a row: %q", all.String())
					}
					e := latestEntry(t, s)
					if e.RC != txn.FormatError || e.Error == "" {
						t.Errorf("journal entry RC %q error %q, want %s and an error", e.RC, e.Error, txn.FormatError)
					}
					if leaks := cardLeaks(e, pan, also...); len(leaks) > 0 {
						t.Errorf("journal columns carry card data: %v", leaks)
					}
					if b := booksOf(s); len(b.Records) != 0 || len(b.Batches) != 0 {
						t.Errorf("a %s with bit %d cleared was booked: %+v", vector, bit, b)
					}
				})
			}
		}
	}
}

// withPIN adds a PIN block (hex) to a message as F52: 16 hex characters in
// iso87ascii, 8 bytes in cup. The result must pass the strict check.
func withPIN(t testing.TB, d *dialect.Dialect, body []byte, pin string) []byte {
	t.Helper()
	fields := wireFields(t, d, body)
	if _, ok := fields[52]; ok {
		t.Fatal("the vector has a PIN block already")
	}
	at := len(body)
	for id, f := range fields {
		if id > 52 && f.start < at {
			at = f.start
		}
	}
	block := []byte(pin)
	if !textField(d, 52) {
		block = unhex(pin)
	}
	out := append(bytes.Clone(body[:at]), block...)
	out = withBit(d, append(out, body[at:]...), 52, true)
	if got := dialect.FieldValue(decodeStrictly(t, d, out), 52); !strings.EqualFold(got, pin) {
		t.Fatalf("F52 decodes as %q, want %s", got, pin)
	}
	return out
}

// TestStrictCupRoutes: cup routes a financial request on 60.1 and F3
// together; a combination not in its table gets 40 and books nothing.
func TestStrictCupRoutes(t *testing.T) {
	tests := []struct {
		name       string
		kind, proc string // 60.1 and F3
		rc         string
	}{
		{"golden sale", "22", "000000", txn.Approved},
		{"sale type with F3 990000", "22", "990000", txn.NotSupported},
		{"sale type with F3 310000", "22", "310000", txn.NotSupported},
		{"sale type with F3 200000", "22", "200000", txn.NotSupported},
		{"balance type with F3 000000", "01", "000000", txn.NotSupported},
	}
	d := loadDialect(t, "cup")
	pan := goldenPAN(t, d)
	frame := golden(t, "cup", "sale-request")
	pre, sale := frame[:d.Preamble], frame[d.Preamble:]
	fields := wireFields(t, d, sale)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := bytes.Clone(sale)
			copy(body[fields[3].value:fields[3].end], unhex(tt.proc))
			body[fields[60].value] = unhex(tt.kind)[0]
			req := decodeStrictly(t, d, body)
			if got := dialect.FieldValue(req, 3) + "/" + dialect.FieldValue(req, 60)[:2]; got != tt.proc+"/"+tt.kind {
				t.Fatalf("built F3/60.1 %s, want %s/%s", got, tt.proc, tt.kind)
			}

			s := start(t, sim.Config{Dialect: "cup"})
			c := dial(t, s)
			c.send(join(pre, body))
			resp := strictAnswer(t, c, req, pan)
			if rc := rcOf(resp); rc != tt.rc {
				t.Errorf("answered %q, want %s", rc, tt.rc)
			}
			if e := latestEntry(t, s); e.RC != tt.rc {
				t.Errorf("journal entry RC %q, want %s", e.RC, tt.rc)
			}
			recs := s.Books.Records()
			if booked := len(recs) > 0; booked != (tt.rc == txn.Approved) {
				t.Errorf("books hold %+v after an answer %s", recs, tt.rc)
			}
		})
	}
}

// textMTI reports a dialect whose MTI travels as ASCII digits (and its bitmap
// as hex characters); otherwise both are packed.
func textMTI(d *dialect.Dialect) bool { return textField(d, 0) }

// textField reports a field that travels as ASCII characters.
func textField(d *dialect.Dialect, id int) bool {
	enc := d.Spec.Fields[id].Spec().Enc
	return enc == encoding.ASCII || enc == encoding.BytesToASCIIHex
}
