package emv_test

import (
	"fmt"
	"time"

	"github.com/acqsim/acqsim/emv"
)

// A card asks to go online, the issuer checks its ARQC and answers with tag 91,
// and the card approves.
func Example() {
	profiles := emv.Builtin()
	p := profiles.For("4761739001010010")
	card := p.NewCard()
	card.ATC = 0x11

	req, err := card.FirstAC(emv.Terminal{
		Amount: 1234, Country: "0840", Currency: "0840",
		Date: time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC),
		UN:   [4]byte{0xA1, 0xB2, 0xC3, 0xD4}, TVR: [5]byte{0, 0, 0, 0x80, 0},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Name, "ARQC", req.Hex("9F26"))

	auth := p.Authorise(card.PAN, card.PSN, req)
	fmt.Println("valid:", auth.Valid)
	tag91 := auth.IssuerData("00")
	fmt.Printf("91 %X\n", tag91)

	out, err := card.SecondAC("00", emv.Tags{}.Set("91", tag91))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Why, out.Tags.Hex("9F27"))
	// Output:
	// visa-cvn10 ARQC 57BE07E4ABACBA11
	// valid: true
	// 91 F6220D097C1C419D3030
	// approved 40
}
