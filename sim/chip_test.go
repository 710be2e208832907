package sim_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// emvCase is a case of the independent chip vectors (emv/testdata/emv.json).
type emvCase struct {
	Name           string `json:"name"`
	PAN            string `json:"pan"`
	PSN            string `json:"psn"`
	Amount         int64  `json:"amount_minor"`
	F55Request     string `json:"f55_request"`
	ARQC           string `json:"arqc"`
	ARQCBitFlipped string `json:"arqc_bit_flipped"`
	Responses      []struct {
		RC          string `json:"rc"`
		Tag91       string `json:"tag91"`
		F55Response string `json:"f55_response"`
	} `json:"responses"`
}

func emvCases(t *testing.T) []emvCase {
	t.Helper()
	raw, err := os.ReadFile("../emv/testdata/emv.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []emvCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 {
		t.Fatal("no chip vectors")
	}
	return v.Cases
}

// TestChipVectors is the contract of the built-in card profiles, end to end
// in every dialect: each vector case's F55, sent as a terminal sends it, gets
// a response F55 that is the case's for the response code sent (00 by the
// default host, the others by a scenario that declines); the same request
// with the ARQC's bit flipped is declined 05, with the ARPC of what the card
// sent for 05, and journalled as "ARQC failed".
func TestChipVectors(t *testing.T) {
	for _, name := range []string{"iso87ascii", "cup", "iso87bcd"} {
		t.Run(name, func(t *testing.T) {
			h := acqsimtest.New(t, acqsimtest.Dialect(name))
			d, err := dialect.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			send := func(tid string, c emvCase, f55 string) *terminal.Exchange {
				t.Helper()
				n++
				v := dialect.Values{
					TID: tid, MID: "000000000000001", PAN: c.PAN, Expiry: "3012", Amount: c.Amount,
					EntryMode: "051", CardSeq: "0" + c.PSN, ICC: f55, Batch: "000001", STAN: fmt.Sprintf("%06d", n),
				}
				m, _, err := d.Build(txn.Sale, v)
				if err != nil {
					t.Fatal(err)
				}
				x, err := h.Terminal(t, tid).Send(txn.Sale, m)
				if err != nil {
					t.Fatalf("%s: %v", c.Name, err)
				}
				return x
			}
			for _, c := range emvCases(t) {
				for _, r := range c.Responses {
					tid := "CHIP00" + r.RC
					if r.RC != txn.Approved {
						if err := h.Bind(tid, "name: decline\nrules: [{respond: {rc: \""+r.RC+"\"}}]\n"); err != nil {
							t.Fatal(err)
						}
					}
					x := send(tid, c, c.F55Request)
					if x.RC() != r.RC || x.Get(55) != r.F55Response {
						t.Errorf("%s answered %s: F55 %s, want %s", c.Name, x.RC(), x.Get(55), r.F55Response)
					}
				}

				x := send("CHIPBAD0", c, strings.Replace(c.F55Request, c.ARQC, c.ARQCBitFlipped, 1))
				// Tag 91 says 05: method 1 in its ARC (3035), method 2 in a
				// card status update without the approval bit.
				f55 := x.Get(55)
				said05 := strings.HasPrefix(f55, "910A") && strings.HasSuffix(f55, "3035") ||
					strings.HasPrefix(f55, "9108") && len(f55) == 20 && f55[14]&0x08 == 0
				if x.RC() != "05" || !said05 {
					t.Errorf("%s with a flipped ARQC: RC %s, F55 %s; want 05 and tag 91 for 05", c.Name, x.RC(), f55)
				}
				for _, r := range c.Responses {
					if r.RC == "05" && x.Get(55) == r.F55Response {
						t.Errorf("%s: the ARPC answers the ARQC the card did not send", c.Name)
					}
				}
				e := h.Wait(t, journal.Filter{STAN: x.Get(11), TID: "CHIPBAD0"}, 1)[0]
				if !strings.Contains(e.Decision, "ARQC failed") {
					t.Errorf("%s: a flipped ARQC journalled %q, want it to say ARQC failed", c.Name, e.Decision)
				}
			}
		})
	}
}
