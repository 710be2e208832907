package emv

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// Each vector's PAN picks its case's method from the built-in profiles.
func TestBuiltinFor(t *testing.T) {
	p := Builtin()
	for _, c := range loadVectors(t) {
		pr := p.For(c.PAN)
		if pr.Method != c.method() {
			t.Errorf("%s: For picks %s (%s), want method %s", c.Name, pr.Name, pr.Method, c.method())
		}
		if !pr.Verify || !pr.ARPC {
			t.Errorf("%s: the built-in profile does not verify and answer", c.Name)
		}
	}
	for _, name := range []string{"emv-csk", "visa-cvn10", "visa-cvn18", "mc-cvn16"} {
		pr := p.Named(name)
		if pr == nil {
			t.Fatalf("no built-in %s", name)
		}
		if pr.Card.Expiry != "3012" || pr.Card.ServiceCode != "201" || p.For(pr.Card.PAN) != pr {
			t.Errorf("%s: test card %+v does not belong to it", name, pr.Card)
		}
	}
	if p.Named("nothing") != nil {
		t.Error("Named found a profile that is not there")
	}
}

// The example cards file loads; like, bins, ranges and the none settings
// take effect.
func TestLoadProfiles(t *testing.T) {
	b, err := os.ReadFile("testdata/cards.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfiles("cards.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"emv-csk", "visa-cvn10", "visa-cvn18", "mc-cvn16", "my-visa", "lax-mc"}; !slices.Equal(p.Names(), want) {
		t.Errorf("names %v, want %v", p.Names(), want)
	}
	for pan, want := range map[string]string{
		"4123450000000001": "my-visa", "4123990000000001": "my-visa", "4124000000000001": "emv-csk",
		"5500000000000004": "lax-mc", "5413330089010012": "mc-cvn16", "4000000000000002": "visa-cvn18",
	} {
		if got := p.For(pan).Name; got != want {
			t.Errorf("For(%s...) = %s, want %s", pan[:6], got, want)
		}
	}
	my := p.Named("my-visa")
	if my.Method != VisaCVN18 || upper(my.Keys.AC) != "00112233445566778899AABBCCDDEEFF" || !my.Verify || my.Card.PSN != "01" {
		t.Errorf("my-visa: %+v", my)
	}
	lax := p.Named("lax-mc")
	if lax.Verify || lax.ARPC {
		t.Errorf("lax-mc: verify %v arpc %v, want none and none", lax.Verify, lax.ARPC)
	}
	if Builtin().Named("visa-cvn18").BINs[0] != "400000" || len(my.BINs) != 2 {
		t.Errorf("like copied the BINs or changed the built-in")
	}
	// A file may redefine a built-in; its BINs stay unless it gives some.
	p, err = LoadProfiles("c.yaml", []byte("cards:\n  - name: visa-cvn10\n    verify: none\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pr := p.For("4761739001010010"); pr.Name != "visa-cvn10" || pr.Verify {
		t.Errorf("the redefined visa-cvn10: %+v", pr)
	}
}

// A bad cards file fails with its name and line, and never shows a key or a
// card number.
func TestLoadProfilesErrors(t *testing.T) {
	const keys = "    keys: {ac: 0123456789ABCDEFFEDCBA9876543210, smi: 0123456789ABCDEFFEDCBA9876543210, smc: 0123456789ABCDEFFEDCBA9876543210}\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "cards:\n  - name: a\n    like: emv-csk\n    colour: red\n", "c.yaml:4: unknown key \"colour\""},
		{"unknown top key", "cardz: []\n", "c.yaml:1: unknown key \"cardz\""},
		{"bad hex", "cards:\n  - name: a\n    like: emv-csk\n    keys: {ac: XYZ}\n", "c.yaml:4: keys.ac is not hex"},
		{"short key", "cards:\n  - name: a\n    like: emv-csk\n    keys: {ac: 0123456789ABCDEF}\n", "c.yaml:4: keys.ac is 8 bytes"},
		{"unknown method", "cards:\n  - name: a\n    method: visa-cvn99\n" + keys, "c.yaml:3: unknown method \"visa-cvn99\""},
		{"no method", "cards:\n  - name: a\n" + keys, "c.yaml:2: profile \"a\" needs a method"},
		{"like nothing", "cards:\n  - name: a\n    like: nothing\n", "c.yaml:3: like: no profile \"nothing\""},
		{"identical bins", "cards:\n  - name: a\n    like: emv-csk\n    bins: [\"476173\"]\n", "c.yaml:2: bins: 476173 overlaps 476173 of profile \"visa-cvn10\""},
		{"overlapping ranges", "cards:\n  - name: a\n    like: emv-csk\n    bins: [\"411000-411500\"]\n  - name: b\n    like: emv-csk\n    bins: [\"411400-411999\"]\n", "c.yaml:5: bins: 411400-411999 overlaps 411000-411500"},
		{"bad range", "cards:\n  - name: a\n    like: emv-csk\n    bins: [\"4110-41199\"]\n", "c.yaml:4: bins: \"4110-41199\": a range's ends"},
		{"twice", "cards:\n  - name: a\n    like: emv-csk\n  - name: a\n    like: emv-csk\n", "c.yaml:4: profile \"a\" defined twice"},
		{"bad verify", "cards:\n  - name: a\n    like: emv-csk\n    verify: sometimes\n", "c.yaml:4: verify: \"sometimes\""},
		{"bad pan", "cards:\n  - name: a\n    like: emv-csk\n    card: {pan: 4111x1111111111}\n", "c.yaml:4: card.pan must be 12 to 19 digits"},
		{"not yaml", "cards:\n  - name: [\n", "c.yaml:2:"},
	} {
		_, err := LoadProfiles("c.yaml", []byte(tc.yaml))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q...", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "0123456789ABCDEF") || strings.Contains(err.Error(), "4111x") {
			t.Errorf("%s: the error shows a key or a card number: %v", tc.name, err)
		}
	}
}
