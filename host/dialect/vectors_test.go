package dialect

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"testing"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/field"
)

// vectorFile is the shape of the golden vectors in testdata/, made with an
// independent codec: they are the truth about bytes.
type vectorFile struct {
	Dialect string `json:"dialect"`
	Vectors []struct {
		Name      string            `json:"name"`
		Direction string            `json:"direction"`
		Hex       string            `json:"hex"`
		TPDU      string            `json:"tpdu"`
		Header    string            `json:"header"`
		Fields    map[string]string `json:"fields"`
	} `json:"vectors"`
}

func loadVectors(t testing.TB, name string) vectorFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	return vf
}

func TestGoldenVectors(t *testing.T) {
	for _, name := range Names() {
		vf := loadVectors(t, name)
		d, err := Load(vf.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		framer := d.Framer(Binary2, 0)
		for _, v := range vf.Vectors {
			t.Run(name+"/"+v.Name, func(t *testing.T) {
				wire, err := hex.DecodeString(v.Hex)
				if err != nil {
					t.Fatal(err)
				}
				frame, err := framer.ReadFrame(bufio.NewReader(bytes.NewReader(wire)), nil)
				if err != nil {
					t.Fatalf("reading the frame: %v", err)
				}
				n := d.PreambleOf(frame)
				preamble, body := frame[:n], frame[n:]
				if got := hex.EncodeToString(preamble); got != lower(v.TPDU+v.Header) {
					t.Errorf("preamble %s, want %s", got, v.TPDU+v.Header)
				}

				// decode: exactly the listed fields
				m, err := d.Decode(body)
				if err != nil {
					t.Fatalf("decoding: %v", err)
				}
				got := map[string]string{}
				for id, f := range m.GetFields() {
					if id == 1 {
						continue
					}
					s, err := f.String()
					if err != nil {
						t.Fatalf("field %d: %v", id, err)
					}
					got[strconv.Itoa(id)] = s
				}
				if !equalMaps(got, v.Fields) {
					t.Errorf("decoded fields\n got %v\nwant %v", got, v.Fields)
				}

				// encode: the listed fields give the same bytes
				out := iso8583.NewMessage(d.Spec)
				for id, val := range v.Fields {
					n, _ := strconv.Atoi(id)
					if n == 0 {
						out.MTI(val)
						continue
					}
					if _, isHex := d.Spec.Fields[n].(*field.Hex); isHex {
						raw, err := hex.DecodeString(val)
						if err != nil {
							t.Fatal(err)
						}
						err = out.BinaryField(n, raw)
						if err != nil {
							t.Fatal(err)
						}
						continue
					}
					if err := out.Field(n, val); err != nil {
						t.Fatalf("field %d: %v", n, err)
					}
				}
				packed, err := out.Pack()
				if err != nil {
					t.Fatalf("packing: %v", err)
				}
				enc, err := framer.AppendFrame(nil, preamble, packed)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, wire) {
					t.Errorf("encoded\n got %X\nwant %X", enc, wire)
				}
			})
		}
	}
}

func lower(s string) string { return string(bytes.ToLower([]byte(s))) }

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}
