package dialect

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/txn"
)

// TestBuildReadsBack: every request a dialect's data file describes, built
// with Build, is read back by the host as the transaction it was built as,
// with the values it was built with. This is what keeps the host and its
// clients (the emulator, the load generator) from disagreeing.
func TestBuildReadsBack(t *testing.T) {
	v := Values{
		STAN: "004711", TID: "TERM0042", MID: "898100012340042", PAN: "6222021234567890", Expiry: "2912",
		Track2: "6222021234567890=29122011143804400000", Amount: 98765, Batch: "000123", KeyVariant: "004",
		Reason: "98", Proc: "000000",
		Orig:        Original{MTI: "0200", Proc: "000000", STAN: "004700", Batch: "000122", Date: "1207", RRN: "000000004711", Auth: "A1B2C3"},
		Totals:      txn.Totals{DebitCount: 3, DebitAmount: 4500, CreditCount: 1, CreditAmount: 700},
		UploadCount: 7,
	}
	for _, name := range Names() {
		d, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, rq := range d.wire.requests {
			v := v
			v.Advice = rq.advice != nil && *rq.advice
			v.Uploaded = rq.uploaded != nil && *rq.uploaded
			v.ICC, v.CardSeq = "", ""
			if rq.chip != nil && *rq.chip || rq.typ == txn.ScriptAdvice {
				v.ICC, v.CardSeq = "9F5B0520000000019F2701409F36020001", "001"
			}
			t.Run(name+"/"+string(rq.typ)+"/"+rq.mti, func(t *testing.T) {
				m, sent, err := d.Build(rq.typ, v)
				if err != nil {
					t.Fatal(err)
				}
				packed, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				back, err := d.Decode(packed)
				if err != nil {
					t.Fatalf("the host refuses what Build wrote: %v", err)
				}
				r, err := d.Request(back)
				if err != nil {
					t.Fatalf("the host cannot read what Build wrote: %v", err)
				}
				if r.Type != sent {
					t.Errorf("built as %s, read as %s", sent, r.Type)
				}
				if got := strings.ToUpper(hex.EncodeToString(r.ICC)); got != v.ICC || r.CardSeq != v.CardSeq {
					t.Errorf("chip data read as %s (F23 %q), built as %s (%q)", got, r.CardSeq, v.ICC, v.CardSeq)
				}
				if sent != rq.typ && !txn.Of(sent).IsVoid() {
					t.Errorf("a %s request is sent as %s", rq.typ, sent)
				}
				if r.MTI != rq.mti || r.STAN != v.STAN || r.TID != v.TID || r.MID != v.MID {
					t.Errorf("read MTI %s STAN %s TID %s MID %s", r.MTI, r.STAN, r.TID, r.MID)
				}
				if rq.card {
					if r.PAN != v.PAN || r.Amount != v.Amount && rq.typ != txn.Balance || r.Currency != d.Currency {
						t.Errorf("read PAN %s amount %d currency %s", txn.MaskPAN(r.PAN), r.Amount, r.Currency)
					}
				}
				switch rq.typ {
				case txn.Settlement:
					if r.Totals != v.Totals {
						t.Errorf("totals %+v, want %+v", r.Totals, v.Totals)
					}
				case txn.Upload:
					if len(r.Uploads) != 1 || r.Uploads[0].STAN != v.Orig.STAN || r.Uploads[0].PAN != v.PAN || r.Uploads[0].Amount != v.Amount {
						t.Errorf("upload records %d %+v", len(r.Uploads), r.Uploads)
					}
				case txn.UploadEnd:
					if d.wire.uploadCount != nil && v.Uploaded && r.UploadCount != v.UploadCount {
						t.Errorf("upload count %d, want %d", r.UploadCount, v.UploadCount)
					}
				case txn.SignOn:
					if d.wire.keyVariant != nil && r.KeyVariant != v.KeyVariant {
						t.Errorf("key variant %q, want %q", r.KeyVariant, v.KeyVariant)
					}
				}
				if d.wire.batch != nil && rq.typ != txn.Settlement && r.Batch != v.Batch {
					t.Errorf("batch %q, want %q", r.Batch, v.Batch)
				}
				if d.wire.origSTAN != nil && txn.Of(rq.typ).IsVoid() && (r.Orig.STAN != v.Orig.STAN || r.Orig.Batch != v.Orig.Batch || r.Orig.Date != v.Orig.Date) {
					t.Errorf("original %+v, want %+v", r.Orig, v.Orig)
				}
			})
		}
	}
}

// TestBuildLeavesOutEmptyValues: a field whose template names an empty value
// is not sent (a sale without an expiry date has no F14).
func TestBuildLeavesOutEmptyValues(t *testing.T) {
	d, err := Load("cup")
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := d.Build(txn.Refund, Values{STAN: "000001", TID: "TERM0001", MID: "898100012340001", PAN: "6222021234567890123", Amount: 5, Batch: "000001"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int{14, 35, 37, 61, 64} {
		if m.GetField(id) != nil {
			t.Errorf("a refund without its value has F%d %q", id, FieldValue(m, id))
		}
	}
	if got := FieldValue(m, 22); got != "012" {
		t.Errorf("F22 %q, want 012 (keyed, no track)", got)
	}
	if _, _, err := d.Build(txn.Unknown, Values{}); err == nil {
		t.Error("Build makes a request the dialect has none of")
	}
}

// TestDataFileErrors: a data file that says something the host cannot do
// fails where it is registered, with the place and the reason.
func TestDataFileErrors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "dialects", "iso87ascii.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(acq map[string]any)
		want string
	}{
		{"unknown type", func(a map[string]any) { a["routes"].([]any)[0].(map[string]any)["type"] = "refundd" }, `route 1: transaction type "refundd"`},
		{"unknown value", func(a map[string]any) { a["every"].(map[string]any)["11"] = "{trace}" }, `every: field 11: {trace}: want one of`},
		{"unknown part", func(a map[string]any) {
			a["routes"].([]any)[0].(map[string]any)["match"] = map[string]any{"60.kind": "22"}
		}, `route 1: path "60.kind": field 60 has no part "kind"`},
		{"request routed elsewhere", func(a map[string]any) {
			a["requests"].([]any)[3].(map[string]any)["fields"].(map[string]any)["3"] = "200000"
		}, "a sale request (MTI 0200) is routed as refund"},
		{"unknown key", func(a map[string]any) { a["routs"] = []any{} }, `unknown field "routs"`},
		{"like nothing", func(a map[string]any) { a["like"] = "iso99" }, `dialect "iso99" is not registered`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var file map[string]any
			if err := json.Unmarshal(raw, &file); err != nil {
				t.Fatal(err)
			}
			tc.edit(file["acqsim"].(map[string]any))
			spec, _ := json.Marshal(file)
			err := Register(Definition{Name: "broken-" + strings.ReplaceAll(tc.name, " ", "-"), Spec: spec})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Register: %v; want an error with %q", err, tc.want)
			}
		})
	}
}

// TestOptionalTPDU: an iso87bcd frame may start with a TPDU, found by its ID
// byte; the reply swaps its addresses. A dialect without one never looks.
func TestOptionalTPDU(t *testing.T) {
	bcd, err := Load("iso87bcd")
	if err != nil {
		t.Fatal(err)
	}
	ascii, err := Load("iso87ascii")
	if err != nil {
		t.Fatal(err)
	}
	withTPDU := []byte{0x60, 0x00, 0x03, 0x00, 0x07, 0x02, 0x00}
	bare := []byte{0x02, 0x00, 0x70}
	if n := bcd.PreambleOf(withTPDU); n != 5 {
		t.Errorf("iso87bcd frame with a TPDU: preamble %d, want 5", n)
	}
	if n := bcd.PreambleOf(bare); n != 0 {
		t.Errorf("iso87bcd frame without one: preamble %d, want 0", n)
	}
	if n := ascii.PreambleOf([]byte("`0200")); n != 0 {
		t.Errorf("iso87ascii: preamble %d, want 0 (it has no TPDU)", n)
	}
	got := bcd.ReplyPreamble(nil, withTPDU[:5], 0)
	if want := []byte{0x60, 0x00, 0x07, 0x00, 0x03}; string(got) != string(want) {
		t.Errorf("reply TPDU % X, want % X", got, want)
	}
	if got := bcd.ReplyPreamble(nil, nil, 0); len(got) != 0 {
		t.Errorf("reply to a frame without a TPDU starts % X", got)
	}
}

// TestSettled reads settlement answers as terminals do.
func TestSettled(t *testing.T) {
	for _, tc := range []struct {
		dialect, rc, f48 string
		balanced, ok     bool
	}{
		{"iso87ascii", "00", "", true, true},
		{"iso87ascii", "95", "", false, true},
		{"iso87ascii", "96", "", false, false},
		{"cup", "00", "000000000100001000000000000000" + "1" + "000000000000000000000000000000" + "1", true, true},
		{"cup", "00", "000000000100001000000000000000" + "2" + "000000000000000000000000000000" + "1", false, true},
		{"cup", "00", "short", false, false},
		{"cup", "96", "", false, false},
	} {
		d, err := Load(tc.dialect)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := d.Build(txn.Settlement, Values{STAN: "000001", TID: "TERM0001", MID: "898100012340001", Batch: "000001"})
		if err != nil {
			t.Fatal(err)
		}
		m.MTI("0510")
		_ = m.Field(39, tc.rc)
		m.UnsetField(48)
		if tc.f48 != "" {
			_ = m.Field(48, tc.f48)
		}
		if balanced, ok := d.Settled(m); balanced != tc.balanced || ok != tc.ok {
			t.Errorf("%s RC %s F48 %q: balanced %v ok %v, want %v %v", tc.dialect, tc.rc, tc.f48, balanced, ok, tc.balanced, tc.ok)
		}
	}
}

// TestCarriesBackPastTheBitmaps: a bitmap that announces fields past 128
// (a third bitmap) is asked about them without a fault.
func TestCarriesBackPastTheBitmaps(t *testing.T) {
	for _, name := range Names() {
		d, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if d.carriesBack(129, &txn.Request{Type: txn.Sale}) || d.carriesBack(192, &txn.Request{Type: txn.UploadEnd}) {
			t.Errorf("%s carries back a field past 128", name)
		}
	}
}
