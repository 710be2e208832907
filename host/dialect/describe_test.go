package dialect

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/field"
)

// cardFields are the fields Describe must mask, whatever the message.
var cardFields = []int{2, 20, 34, 35, 36, 45, 52, 55}

// TestDescribeVectors reads every golden vector with Describe: each field as
// decoded, the card fields masked; the hex the frame's own, but for the card
// fields' bytes, found independently by packing each field alone.
func TestDescribeVectors(t *testing.T) {
	for _, name := range Names() {
		vf := loadVectors(t, name)
		d, err := Load(vf.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vf.Vectors {
			t.Run(name+"/"+v.Name, func(t *testing.T) {
				frame := vectorFrame(t, v.Hex)
				dt := d.Describe(frame)
				if dt.Error != "" {
					t.Fatalf("error %q", dt.Error)
				}
				if dt.MTI != v.Fields["0"] {
					t.Errorf("MTI %q, want %q", dt.MTI, v.Fields["0"])
				}
				if want := v.TPDU + v.Header; dt.Preamble != want {
					t.Errorf("preamble %q, want %q", dt.Preamble, want)
				}

				// Fields: all of them, in order, card data masked.
				masked := map[int]bool{}
				for _, id := range cardFields {
					masked[id] = true
				}
				if strings.HasPrefix(dt.MTI, "032") || strings.HasPrefix(dt.MTI, "033") {
					masked[48] = true
				}
				got := map[string]string{"0": dt.MTI}
				last := 1
				for _, f := range dt.Fields {
					if f.ID <= last {
						t.Errorf("field %d after field %d", f.ID, last)
					}
					last = f.ID
					if f.Masked != masked[f.ID] {
						t.Errorf("field %d: masked %v, want %v", f.ID, f.Masked, masked[f.ID])
					}
					if f.Name == "" {
						t.Errorf("field %d has no name", f.ID)
					}
					value, want := f.Value, v.Fields[strconv.Itoa(f.ID)]
					if f.Masked {
						if value == want || len(value) != len(want) || !strings.Contains(value, "*") {
							t.Errorf("field %d: %q is not %q masked", f.ID, value, want)
						}
						value = want // checked for its mask; compared as decoded
					}
					got[strconv.Itoa(f.ID)] = value
				}
				if !equalMaps(got, v.Fields) {
					t.Errorf("fields\n got %v\nwant %v", got, v.Fields)
				}

				// Hex: the frame's bytes, but for the card fields'.
				wantHex := []byte(strings.ToUpper(hex.EncodeToString(frame)))
				bitmapAt := d.PreambleOf(frame) + len(packAlone(t, d, 0, v.Fields["0"]))
				for id := range masked {
					val, ok := v.Fields[strconv.Itoa(id)]
					if !ok {
						continue
					}
					run := packAlone(t, d, id, val)
					at := bytes.Index(frame[bitmapAt:], run)
					if at < 0 {
						t.Fatalf("field %d packed alone is not in the frame", id)
					}
					at += bitmapAt
					copy(wantHex[2*at:], strings.Repeat("*", 2*len(run)))
				}
				if dt.Hex != string(wantHex) {
					t.Errorf("hex\n got %s\nwant %s", dt.Hex, wantHex)
				}
				assertNoCardData(t, dt, v.Fields)
			})
		}
	}
}

// TestDescribeMasks pins the masks of the fields a person reads most.
func TestDescribeMasks(t *testing.T) {
	tests := []struct {
		dialect, vector string
		want            map[int]string
	}{
		{"iso87ascii", "sale-request", map[int]string{
			2: "476173******0010", 35: "476173******0010=********************", 14: "2512", 41: "TERM0001",
		}},
		{"iso87ascii", "sale-response", map[int]string{2: "476173******0010", 39: "00"}},
		{"cup", "sale-request", map[int]string{
			2: "622202*********0123", 35: "622202*********0123=*****************", 60: "22000001000",
		}},
		{"cup", "batch-upload-request", map[int]string{48: strings.Repeat("*", 42)}},
		// A settlement's F48 is totals, not card data; F62 is working keys,
		// which travel encrypted under the master key.
		{"cup", "settlement-request", map[int]string{48: "00000001234500100000000200000100000000000000000000000000000000"}},
		{"cup", "sign-on-response", map[int]string{62: "00112233445566778899AABBCCDDEEFFA1B2C3D4FFEEDDCCBBAA99887766554433221100E5F6A7B8"}},
	}
	for _, tt := range tests {
		t.Run(tt.dialect+"/"+tt.vector, func(t *testing.T) {
			d, frame := vector(t, tt.dialect, tt.vector)
			fields := map[int]string{}
			for _, f := range d.Describe(frame).Fields {
				fields[f.ID] = f.Value
			}
			for id, want := range tt.want {
				if fields[id] != want {
					t.Errorf("field %d: %q, want %q", id, fields[id], want)
				}
			}
		})
	}
}

// TestDescribeBrokenFrames: what does not decode is said, and its bytes are
// masked, since nothing says where card data lies in them.
func TestDescribeBrokenFrames(t *testing.T) {
	iso, sale := vector(t, "iso87ascii", "sale-request")
	f35 := bytes.Index(sale, []byte("374761739001010010=")) // F35's length prefix
	cup, cupSale := vector(t, "cup", "sale-request")
	tests := []struct {
		name  string
		d     *Dialect
		frame []byte
		// clear is how many bytes of the frame may show in the hex.
		clear     int
		err, mti  string
		fieldsMax int
	}{
		{"cut inside track 2", iso, sale[:f35+10], f35, "field 35: does not decode", "0200", 25},
		{"bytes after the last field", iso, append(append([]byte(nil), sale...), "4761739001010010"...), len(sale),
			"16 bytes after the last field", "0200", 42},
		{"no MTI", iso, []byte("02X0" + string(sale[4:])), 0, "message type indicator does not decode", "", 0},
		{"empty", iso, nil, 0, "message type indicator does not decode", "", 0},
		{"cup: only the preamble", cup, cupSale[:cup.Preamble], cup.Preamble, "message type indicator does not decode", "", 0},
		{"cup: shorter than the preamble", cup, cupSale[:4], 4, "message type indicator does not decode", "", 0},
		{"cup: cut inside the bitmap", cup, cupSale[:cup.Preamble+5], cup.Preamble + 2, "field 1: does not decode", "0200", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dt := tt.d.Describe(tt.frame)
			if dt.Error != tt.err {
				t.Errorf("error %q, want %q", dt.Error, tt.err)
			}
			if dt.MTI != tt.mti {
				t.Errorf("MTI %q, want %q", dt.MTI, tt.mti)
			}
			for _, f := range dt.Fields {
				if f.ID > tt.fieldsMax {
					t.Errorf("field %d shown; want none after %d", f.ID, tt.fieldsMax)
				}
			}
			// Up to clear, the frame's bytes, or a card field's masked;
			// from there on, all masked.
			want := strings.ToUpper(hex.EncodeToString(tt.frame))
			if len(dt.Hex) != len(want) {
				t.Fatalf("hex %s, want %d characters", dt.Hex, len(want))
			}
			for i := range tt.frame {
				pair := dt.Hex[2*i : 2*i+2]
				if i >= tt.clear && pair != "**" || i < tt.clear && pair != "**" && pair != want[2*i:2*i+2] {
					t.Fatalf("byte %d shows as %s in\n%s\nwant masked from byte %d of\n%s", i, pair, dt.Hex, tt.clear, want)
				}
			}
			if strings.Contains(dt.Hex, hex.EncodeToString([]byte("4761739001010010"))) {
				t.Error("the hex shows the clear card number")
			}
		})
	}
}

// FuzzDescribe: any frame is described without a panic, and the hex is the
// frame's bytes, masked or as they are.
func FuzzDescribe(f *testing.F) {
	dialects := map[string]*Dialect{}
	for i, name := range Names() {
		d, err := Load(name)
		if err != nil {
			f.Fatal(err)
		}
		dialects[name] = d
		for _, v := range loadVectors(f, name).Vectors {
			wire, err := hex.DecodeString(v.Hex)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), wire[2:])
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, frame []byte) {
		d := dialects[Names()[int(which)%len(Names())]]
		dt := d.Describe(frame)
		if len(dt.Hex) != 2*len(frame) {
			t.Fatalf("hex of %d characters for %d bytes", len(dt.Hex), len(frame))
		}
		want := strings.ToUpper(hex.EncodeToString(frame))
		for i := 0; i < len(frame); i++ {
			if pair := dt.Hex[2*i : 2*i+2]; pair != "**" && pair != want[2*i:2*i+2] {
				t.Fatalf("byte %d shows as %s, is %s", i, pair, want[2*i:2*i+2])
			}
		}
		for _, f := range dt.Fields {
			if masker := cardMask(dt.MTI, f.ID); masker != nil && !f.Masked {
				t.Fatalf("field %d unmasked", f.ID)
			}
		}
	})
}

func ExampleDialect_Describe() {
	d, _ := Load("iso87ascii")
	frame := []byte("0200" + "4000000000000000" + "164761739001010010")
	dt := d.Describe(frame)
	fmt.Println(dt.MTI, dt.Fields[0].ID, dt.Fields[0].Value)
	fmt.Println(dt.Hex)
	// Output:
	// 0200 2 476173******0010
	// 3032303034303030303030303030303030303030************************************
}

// assertNoCardData fails when the card number or track data of fields shows
// in the clear anywhere in dt: as ASCII, as BCD digits, in any case.
func assertNoCardData(t *testing.T, dt Detail, fields map[string]string) {
	t.Helper()
	var secrets []string
	for _, id := range []string{"2", "35"} {
		v := fields[id]
		if v == "" {
			continue
		}
		v = strings.ToUpper(v)
		secrets = append(secrets, v, strings.ReplaceAll(v, "=", "D"), strings.ToUpper(hex.EncodeToString([]byte(v))))
		if id == "2" {
			// A bare run of the card number's digits, packed or not.
			secrets = append(secrets, strings.ToUpper(hex.EncodeToString([]byte(v[:len(v)-1]))), v[1:])
		}
	}
	all := strings.ToUpper(dt.Hex)
	for _, f := range dt.Fields {
		all += "\n" + strings.ToUpper(f.Value)
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the detail shows %s in the clear:\n%s", s, all)
		}
	}
}

// vector returns a dialect and the frame (no length header) of one of its
// golden vectors.
func vector(t *testing.T, dialect, name string) (*Dialect, []byte) {
	t.Helper()
	d, err := Load(dialect)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range loadVectors(t, dialect).Vectors {
		if v.Name == name {
			return d, vectorFrame(t, v.Hex)
		}
	}
	t.Fatalf("no %s vector %s", dialect, name)
	return nil, nil
}

// vectorFrame is a vector's bytes after the 2-byte length header.
func vectorFrame(t *testing.T, s string) []byte {
	t.Helper()
	wire, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return wire[2:]
}

// packAlone packs one field of d's spec holding value.
func packAlone(t *testing.T, d *Dialect, id int, value string) []byte {
	t.Helper()
	f := field.NewInstanceOf(d.Spec.Fields[id])
	var err error
	if _, isHex := f.(*field.Hex); isHex {
		var raw []byte
		if raw, err = hex.DecodeString(value); err == nil {
			err = f.SetBytes(raw)
		}
	} else {
		m := iso8583.NewMessage(d.Spec)
		if err = m.Field(id, value); err == nil {
			f = m.GetField(id)
		}
	}
	if err != nil {
		t.Fatalf("field %d: %v", id, err)
	}
	b, err := f.Pack()
	if err != nil {
		t.Fatalf("packing field %d: %v", id, err)
	}
	return b
}

// TestDescribeChipData: F55 is shown tag by tag in every dialect, with its
// name, card data tags masked (the PAN keeping its first six and last four
// digits, track 2 equivalent all masked) and the others as they are; its
// bytes stay masked in Hex.
func TestDescribeChipData(t *testing.T) {
	const pan = "6212345678901234"
	icc := "9F2608033B0085B6DA06529F270180" + "5A08" + pan + "5711" + pan + "D3012201123456789F" +
		"72169F180400000001860D841E00000420F5C38180E23567"
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			d, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := d.Build("sale", Values{STAN: "000001", TID: "TERM0001", MID: "000000000000001", PAN: pan,
				Expiry: "3012", Amount: 100, Batch: "000001", EntryMode: "051", CardSeq: "001", ICC: icc})
			if err != nil {
				t.Fatal(err)
			}
			packed, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			dt := d.Describe(append(make([]byte, d.Preamble), packed...))
			var f55 *FieldDetail
			for i := range dt.Fields {
				if dt.Fields[i].ID == 55 {
					f55 = &dt.Fields[i]
				}
			}
			if f55 == nil || !f55.Masked || len(f55.Tags) != 5 {
				t.Fatalf("F55 detail %+v: want 5 tags, masked", f55)
			}
			want := []TagDetail{
				{Tag: "9F26", Name: "Application Cryptogram", Value: "033B0085B6DA0652"},
				{Tag: "9F27", Name: "Cryptogram Information Data", Value: "80"},
				{Tag: "5A", Name: "Application PAN", Value: "621234******1234", Masked: true},
				{Tag: "57", Name: "Track 2 Equivalent Data", Value: strings.Repeat("*", 34), Masked: true},
			}
			for i, w := range want {
				if g := f55.Tags[i]; g.Tag != w.Tag || g.Name != w.Name || g.Value != w.Value || g.Masked != w.Masked {
					t.Errorf("tag %d: %+v, want %+v", i, g, w)
				}
			}
			if script := f55.Tags[4]; script.Tag != "72" || len(script.Tags) != 2 || script.Tags[0].Value != "00000001" {
				t.Errorf("the script template: %+v", script)
			}
			if strings.Contains(f55.Value, "5678") || strings.Contains(dt.Hex, "345678") {
				t.Errorf("the card number's middle digits show: value %q hex %q", f55.Value, dt.Hex)
			}
		})
	}
}
