package dialect

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/moov-io/iso8583"
)

// Every response in the golden vectors, made by an independent codec, passes
// the strict check: what the host holds requests to is what real hosts send.
func TestGoldenVectorsAreStrict(t *testing.T) {
	for _, name := range Names() {
		vf := loadVectors(t, name)
		d, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vf.Vectors {
			wire, _ := hex.DecodeString(v.Hex)
			if _, err := d.Decode(wire[2+d.PreambleOf(wire[2:]):]); err != nil {
				t.Errorf("%s/%s: %v", name, v.Name, err)
			}
		}
	}
}

func TestClassAllows(t *testing.T) {
	tests := []struct {
		class class
		ok    string
		bad   string
	}{
		{classN, "0123456789", "A x=-"},
		{classAN, "AZaz09 ", "=-^\x00\x7f"},
		{classANS, " ~AZ09=^", "\x00\x1f\x7f\xff"},
		{classZ, "09=D", "A^ d"},
		{classB, "09AFaf", "GgZ "},
	}
	for _, tt := range tests {
		for i := 0; i < len(tt.ok); i++ {
			if !tt.class.allows(tt.ok[i], 1) {
				t.Errorf("class %s refuses %q", tt.class, tt.ok[i])
			}
		}
		for i := 0; i < len(tt.bad); i++ {
			if tt.class.allows(tt.bad[i], 1) {
				t.Errorf("class %s allows %q", tt.class, tt.bad[i])
			}
		}
	}
	if !classXN.allows('C', 0) || !classXN.allows('D', 0) || classXN.allows('1', 0) || classXN.allows('C', 1) || !classXN.allows('7', 1) {
		t.Error("class x+n: want C or D first, then digits")
	}
}

func TestLooksLikeCard(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"9001010010=2512", true},             // a track's tail where a merchant ID should be
		{"1739001010010=2", true},             // cut by a field boundary
		{"010010=2", true},                    // in a terminal ID
		{"12345678903=251", true},             // a 17-digit card's track
		{"B4761739001010010^CARD/TEST", true}, // track 1
		{"898100012340001", false},            // a merchant ID of 15 digits, whole
		{"4000001234562  ", false},            // a padded merchant ID that passes Luhn
		{"MERCHANT0000001", false},
		{"TERM0001", false},
		{"A=B", false},
		{"123=45", false},
		{"SIZE=12", false},
	}
	for _, tt := range tests {
		if got := looksLikeCard([]byte(tt.v)); got != tt.want {
			t.Errorf("looksLikeCard(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
	if !containsRun([]byte("021234567890"), "6222021234567890123", panRun) {
		t.Error("12 digits of the card in a row not found")
	}
	if containsRun([]byte("000000000000"), "6200000000000005", panRun) {
		t.Error("a run of zeros taken for card digits")
	}
	if containsRun([]byte("000000012345"), "4761739001010010", panRun) {
		t.Error("an amount taken for card digits")
	}
}

// Decode refuses, field by field, what breaks the spec, and leaves the field
// out of the message so that no response carries it back.
func TestDecodeRefuses(t *testing.T) {
	type mutate func(t *testing.T, d *Dialect, m *iso8583.Message)
	set := func(id int, v string) mutate {
		return func(t *testing.T, d *Dialect, m *iso8583.Message) {
			if err := m.Field(id, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		dialect string
		name    string
		mutate  mutate
		field   string
		gone    int
		why     string
		// raw, when set, edits the packed message.
		raw func([]byte) []byte
	}{
		{"iso87ascii", "letter in the STAN", set(11, "00000A"), "11", 11, "class (n)", nil},
		{"iso87ascii", "letter in the amount", set(4, "0000000567X9"), "4", 4, "class (n)", nil},
		{"iso87ascii", "letter in the card number", set(2, "47617390010100X0"), "2", 2, "class (n)", nil},
		{"iso87ascii", "track without its separator", set(35, "47617390010100102512"), "35", 35, "separator", nil},
		{"iso87ascii", "control character in the terminal ID", set(41, "TERM\x00001"), "41", 41, "class (ans)", nil},
		{"iso87ascii", "a track in the merchant ID", set(42, "9001010010=2512"), "42", 42, "card data", nil},
		{"iso87ascii", "the card number in field 43", set(43, "SHOP 4761739001010010 X"+strings.Repeat(" ", 17)), "43", 43, "card data", nil},
		{"iso87ascii", "a sign in a length prefix", set(32, "12345"), "32", 32, "length", func(b []byte) []byte {
			return bytes.Replace(b, []byte("0512345"), []byte("+512345"), 1)
		}},
		{"cup", "upload end with a card number for a count", func(t *testing.T, d *Dialect, m *iso8583.Message) {
			m.MTI("0320")
			for _, id := range []int{2, 3, 4, 14, 22, 25, 35, 49} {
				m.UnsetField(id)
			}
			set(60, "00000001202")(t, d, m)
			set(48, "4761739001010010")(t, d, m)
		}, "48", 48, "want n4", nil},
	}
	for _, tt := range tests {
		t.Run(tt.dialect+"/"+tt.name, func(t *testing.T) {
			d, wire := saleVector(t, tt.dialect)
			m, err := d.Decode(wire[2+d.PreambleOf(wire[2:]):])
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(t, d, m)
			body, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if tt.raw != nil {
				body = tt.raw(body)
			}
			got, err := d.Decode(body)
			if err == nil {
				got2, rerr := d.Request(got)
				_ = got2
				err = rerr
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("error %v, want field %s: ...%s...", err, tt.field, tt.why)
			}
			if got.GetField(tt.gone) != nil {
				t.Errorf("F%d is still in the message: %q", tt.gone, get(got, tt.gone))
			}
			if got.GetField(11) == nil && tt.gone != 11 {
				t.Error("F11 went too: a format-error response could not be matched")
			}
		})
	}
}

// A response a scenario shapes cannot put a letter in a numeric field.
func TestCheckFieldClass(t *testing.T) {
	d, err := Load("iso87ascii")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CheckField(4, "0000000012AB"); err == nil || !strings.Contains(err.Error(), "class n") {
		t.Errorf("CheckField(4, letters) = %v, want a class error", err)
	}
	if err := d.CheckField(4, "000000001234"); err != nil {
		t.Errorf("CheckField(4, digits) = %v", err)
	}
	if err := d.CheckField(39, "A0"); err != nil {
		t.Errorf("CheckField(39, A0) = %v", err)
	}
}

// CheckAnswer: what a strict terminal holds a response to.
func TestCheckAnswer(t *testing.T) {
	d, wire := saleVector(t, "iso87ascii")
	req, err := d.Decode(wire[2:])
	if err != nil {
		t.Fatal(err)
	}
	answer := func(edit func(m *iso8583.Message)) *iso8583.Message {
		m, _ := d.Decode(wire[2:])
		m.MTI("0210")
		_ = m.Field(39, "00")
		if edit != nil {
			edit(m)
		}
		return m
	}
	if err := d.CheckAnswer(req, answer(nil)); err != nil {
		t.Errorf("a faithful answer: %v", err)
	}
	for name, edit := range map[string]func(m *iso8583.Message){
		"wrong MTI":  func(m *iso8583.Message) { m.MTI("0230") },
		"no F39":     func(m *iso8583.Message) { m.UnsetField(39) },
		"other STAN": func(m *iso8583.Message) { _ = m.Field(11, "999999") },
		"no F41":     func(m *iso8583.Message) { m.UnsetField(41) },
	} {
		if err := d.CheckAnswer(req, answer(edit)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A bad field of the request must not come back.
	bad, _ := d.Decode(wire[2:])
	_ = bad.Field(4, "0000000567X9")
	if err := d.CheckAnswer(bad, answer(func(m *iso8583.Message) { _ = m.Field(4, "0000000567X9") })); err == nil {
		t.Error("an answer carrying back a bad F4: accepted")
	}
	if err := d.CheckAnswer(bad, answer(func(m *iso8583.Message) { m.UnsetField(4) })); err != nil {
		t.Errorf("an answer leaving the bad F4 out: %v", err)
	}
}

// The detail view of an end of batch's answer masks what its request had in
// F48, as it masks the request's.
func TestDescribeMasksUploadAnswer(t *testing.T) {
	d, err := Load("cup")
	if err != nil {
		t.Fatal(err)
	}
	vf := loadVectors(t, "cup")
	for _, v := range vf.Vectors {
		if v.Name != "batch-upload-end-response" {
			continue
		}
		wire, _ := hex.DecodeString(v.Hex)
		dt := d.Describe(wire[2:])
		for _, f := range dt.Fields {
			if f.ID == 48 && !f.Masked {
				t.Errorf("F48 of a 0330 shown: %q", f.Value)
			}
		}
		return
	}
	t.Fatal("no batch-upload-end-response vector")
}
