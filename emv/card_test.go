package emv

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// vectorTerminal is the terminal data of a vector case.
func vectorTerminal(t *testing.T, c vectorCase) Terminal {
	var un [4]byte
	var tvr [5]byte
	copy(un[:], unhex(t, c.Tags["9F37"]))
	copy(tvr[:], unhex(t, c.Tags["95"]))
	return Terminal{
		Amount: c.Amount, Country: c.Tags["9F1A"], Currency: c.Tags["5F2A"],
		Date: time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC), UN: un, TVR: tvr,
	}
}

// vectorCard is the case's card, one transaction before the vector's ATC.
func vectorCard(t *testing.T, c vectorCase) *Card {
	atc := unhex(t, c.Tags["9F36"])
	return &Card{Profile: c.profile(t), PAN: c.PAN, PSN: c.PSN, ATC: uint16(atc[0])<<8 | uint16(atc[1]) - 1, PINTries: 3}
}

// With each vector's terminal data, the card's first GENERATE AC is the
// vector's request field 55, byte for byte, and advances the ATC.
func TestFirstACVectors(t *testing.T) {
	for _, c := range loadVectors(t) {
		t.Run(c.Name, func(t *testing.T) {
			card := vectorCard(t, c)
			before := card.ATC
			tags, err := card.FirstAC(vectorTerminal(t, c))
			if err != nil {
				t.Fatal(err)
			}
			b, err := tags.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if got := upper(b); got != c.F55Request {
				t.Errorf("field 55\n got %s\nwant %s", got, c.F55Request)
			}
			if card.ATC != before+1 {
				t.Errorf("ATC %d, want %d", card.ATC, before+1)
			}
		})
	}
}

// online runs one transaction of the case's card against the issuer side.
func online(t *testing.T, c vectorCase, card *Card) (*Auth, Tags) {
	t.Helper()
	req, err := card.FirstAC(vectorTerminal(t, c))
	if err != nil {
		t.Fatal(err)
	}
	a := card.Profile.Authorise(card.PAN, card.PSN, req)
	if !a.Valid {
		t.Fatalf("the issuer refused the card's ARQC: %s", a.Reason)
	}
	return a, req
}

// The card accepts tag 91 as the host computes it for an approval and a
// decline, and refuses a flipped one and a missing one.
func TestSecondACIssuerAuth(t *testing.T) {
	for _, c := range loadVectors(t) {
		t.Run(c.Name, func(t *testing.T) {
			for _, tc := range []struct {
				name, rc   string
				tag91      func([]byte) []byte
				approved   bool
				authFailed bool
				why        string
			}{
				{"approved", "00", func(b []byte) []byte { return b }, true, false, "approved"},
				{"declined", "05", func(b []byte) []byte { return b }, false, false, "declined by the issuer"},
				{"flipped", "00", func(b []byte) []byte { b[0] ^= 0x01; return b }, false, true, "issuer authentication failed"},
				{"missing", "00", func([]byte) []byte { return nil }, false, true, "issuer authentication failed"},
			} {
				card := vectorCard(t, c)
				a, _ := online(t, c, card)
				var resp Tags
				if v := tc.tag91(a.IssuerData(tc.rc)); v != nil {
					resp = resp.Set("91", v)
				}
				out, err := card.SecondAC(tc.rc, resp)
				if err != nil {
					t.Fatal(err)
				}
				if out.Approved != tc.approved || out.IssuerAuthFailed != tc.authFailed || !strings.HasPrefix(out.Why, tc.why) {
					t.Errorf("%s: approved %v auth failed %v why %q, want %v %v %q", tc.name, out.Approved, out.IssuerAuthFailed, out.Why, tc.approved, tc.authFailed, tc.why)
				}
				wantCID := "00"
				if tc.approved {
					wantCID = "40"
				}
				if got := out.Tags.Hex("9F27"); got != wantCID {
					t.Errorf("%s: 9F27 %s, want %s", tc.name, got, wantCID)
				}
				tvr, _ := out.Tags.Value("95")
				if got := tvr[4]&tvrIssuerAuthFailed != 0; got != tc.authFailed {
					t.Errorf("%s: TVR %X says issuer authentication failed: %v", tc.name, tvr, got)
				}
				if len(out.Tags.Hex("9F26")) != 16 {
					t.Errorf("%s: no 8-byte cryptogram", tc.name)
				}
			}
		})
	}
}

// An ARC that is not the response code fails issuer authentication (method
// 1): a terminal must not turn a decline into an approval.
func TestSecondACARCMismatch(t *testing.T) {
	c := loadVectors(t)[0]
	card := vectorCard(t, c)
	a, _ := online(t, c, card)
	out, err := card.SecondAC("00", Tags{}.Set("91", a.IssuerData("05")))
	if err != nil {
		t.Fatal(err)
	}
	if out.Approved || !out.IssuerAuthFailed {
		t.Errorf("a declining ARC with F39 00: approved %v auth failed %v", out.Approved, out.IssuerAuthFailed)
	}
}

// Scripts: an APPLICATION BLOCK in 72 runs after the decision and blocks the
// card; one with a wrong MAC is refused; one in 71 runs first and turns the
// approval into an AAC.
func TestSecondACScripts(t *testing.T) {
	for _, c := range loadVectors(t) {
		t.Run(c.Name, func(t *testing.T) {
			card := vectorCard(t, c)
			a, _ := online(t, c, card)
			wrong, err := a.Script(Script{Command: "application-block", ID: 7, WrongMAC: true})
			if err != nil {
				t.Fatal(err)
			}
			resp := issuerResponse(t, a, "00", wrong)
			out, err := card.SecondAC("00", resp)
			if err != nil {
				t.Fatal(err)
			}
			if card.Blocked || len(out.Scripts) != 1 || out.Scripts[0].OK || !out.Approved {
				t.Fatalf("wrong MAC: blocked %v scripts %+v approved %v", card.Blocked, out.Scripts, out.Approved)
			}
			if got := out.Tags.Hex("9F5B"); got != "1100000007" {
				t.Errorf("9F5B %s, want 1100000007", got)
			}
			if tvr, _ := out.Tags.Value("95"); tvr[4]&tvrScriptFailedAfter == 0 {
				t.Errorf("TVR %X does not say a script failed after the final GENERATE AC", tvr)
			}

			a, _ = online(t, c, card)
			block, err := a.Script(Script{Command: "application-block", ID: 1})
			if err != nil {
				t.Fatal(err)
			}
			out, err = card.SecondAC("00", issuerResponse(t, a, "00", block))
			if err != nil {
				t.Fatal(err)
			}
			if !card.Blocked || !out.Approved || !out.Scripts[0].OK {
				t.Fatalf("block in 72: blocked %v approved %v scripts %+v", card.Blocked, out.Approved, out.Scripts)
			}
			if got := out.Tags.Hex("9F5B"); got != "2100000001" {
				t.Errorf("9F5B %s, want 2100000001", got)
			}
			if tsi := out.Tags.Hex("9B"); tsi != "1400" {
				t.Errorf("TSI %s, want 1400", tsi)
			}
			if _, err := card.FirstAC(vectorTerminal(t, c)); !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "blocked") {
				t.Errorf("a blocked card's FirstAC: %v", err)
			}
			card.Blocked = false

			a, _ = online(t, c, card)
			block, _ = a.Script(Script{Command: "application-block", Template: 0x71, ID: 2})
			out, _ = card.SecondAC("00", issuerResponse(t, a, "00", block))
			if out.Approved || out.Why != "the application is blocked" {
				t.Errorf("block in 71: approved %v why %q", out.Approved, out.Why)
			}
		})
	}
}

// The other commands do what they say on every method's card.
func TestSecondACCommands(t *testing.T) {
	for _, c := range loadVectors(t) {
		t.Run(c.Name, func(t *testing.T) {
			card := vectorCard(t, c)
			card.Blocked, card.PINTries = false, 0
			a, _ := online(t, c, card)
			var scripts [][]byte
			for i, s := range []Script{
				{Command: "pin-change", PIN: "4321"},
				{Command: "put-data", Tag: "9F14", Value: []byte{0x05}},
				{Command: "application-unblock"},
				{Command: "pin-unblock"},
			} {
				s.ID = uint32(i + 1)
				b, err := a.Script(s)
				if err != nil {
					t.Fatalf("%s: %v", s.Command, err)
				}
				scripts = append(scripts, b)
			}
			out, err := card.SecondAC("00", issuerResponse(t, a, "00", scripts...))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Scripts {
				if !r.OK {
					t.Errorf("script %d (%s): %s", r.ID, r.Command, r.Why)
				}
			}
			if card.PIN != "4321" || card.PINTries != pinTryLimit || card.Data["9F14"] != "05" {
				t.Errorf("after the scripts: PIN set %v, tries %d, data %v", card.PIN == "4321", card.PINTries, card.Data)
			}
		})
	}
}

func issuerResponse(t *testing.T, a *Auth, rc string, scripts ...[]byte) Tags {
	t.Helper()
	var f55 []byte
	if v := a.IssuerData(rc); v != nil {
		b, err := Tags{}.Set("91", v).Encode()
		if err != nil {
			t.Fatal(err)
		}
		f55 = b
	}
	for _, s := range scripts {
		f55 = append(f55, s...)
	}
	tags, err := ParseTags(f55)
	if err != nil {
		t.Fatal(err)
	}
	return tags
}

// A second GENERATE AC needs a first.
func TestSecondACWithoutFirst(t *testing.T) {
	c := loadVectors(t)[0]
	if _, err := vectorCard(t, c).SecondAC("00", nil); err == nil {
		t.Error("no error")
	}
}
