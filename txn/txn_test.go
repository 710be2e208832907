package txn

import "testing"

func TestMaskPAN(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"4761739001010010", "476173******0010"},
		{"6222021234567890123", "622202*********0123"},
		{"123456789012", "************"}, // too short to show anything
		{"", ""},
	} {
		if got := MaskPAN(tt.in); got != tt.want {
			t.Errorf("MaskPAN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCount(t *testing.T) {
	type item struct {
		typ    Type
		amount int64
		voided bool
	}
	batch := []item{
		{Sale, 1000, false}, {Sale, 500, true}, {Void, 500, false},
		{Refund, 200, false}, {Completion, 300, false}, {Advice, 70, false},
		{Balance, 0, false}, {PreAuth, 900, false},
	}
	for _, tt := range []struct {
		voidsAsCredits bool
		want           Totals
	}{
		{false, Totals{DebitCount: 3, DebitAmount: 1370, CreditCount: 1, CreditAmount: 200}},
		{true, Totals{DebitCount: 4, DebitAmount: 1870, CreditCount: 2, CreditAmount: 700}},
	} {
		var got Totals
		for _, it := range batch {
			got.Count(it.typ, it.amount, it.voided, tt.voidsAsCredits)
		}
		if got != tt.want {
			t.Errorf("voidsAsCredits=%v: %+v, want %+v", tt.voidsAsCredits, got, tt.want)
		}
	}
}

func TestRCText(t *testing.T) {
	if RCText("00") != "approved" || RCText("A0") != "MAC error" || RCText("ZZ") != "" {
		t.Errorf("RCText: 00 %q, A0 %q, ZZ %q", RCText("00"), RCText("A0"), RCText("ZZ"))
	}
}

func TestMaskTrack(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"4761739001010010=25122011143804400000", "476173******0010=********************"},
		{"6222021234567890123D2512201", "622202*********0123=*******"},
		{"no separator", "************"},
	} {
		if got := MaskTrack(tt.in); got != tt.want {
			t.Errorf("MaskTrack(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestTable: every type is in the table once, and what a void voids is a
// type the table knows and one that is booked (a void of something the
// books never keep could never find its original).
func TestTable(t *testing.T) {
	seen := map[Type]bool{}
	for _, i := range Types {
		if seen[i.Type] {
			t.Errorf("%s is in the table twice", i.Type)
		}
		seen[i.Type] = true
		if i.Says == "" {
			t.Errorf("%s says nothing of itself", i.Type)
		}
		for _, v := range i.Voids {
			if !Known(v) || !Of(v).Financial {
				t.Errorf("%s voids %s, which is not a booked type", i.Type, v)
			}
		}
		if i.Settles && i.Side == NoSide {
			t.Errorf("%s settles but is in neither side of the totals", i.Type)
		}
	}
	for _, typ := range []Type{SignOn, SignOff, Echo, Sale, Void, Refund, Balance, PreAuth, PreAuthVoid, Completion, Advice, Reversal, Settlement, Upload, UploadEnd, Unknown} {
		if !seen[typ] {
			t.Errorf("%s is not in the table", typ)
		}
	}
	if Of("no-such").NeedsSignOn || Known("no-such") {
		t.Error("a type not in the table has flags")
	}
}
