package sim_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/txn"
)

// The terminal emulator takes an answer only when it is the one it awaits
// (response MTI, STAN, terminal), as a real terminal does: the stray copy of
// a sale's 0210 that arrives while the reversal of that sale (same STAN)
// waits for its 0410 is ignored, and the 0410 is taken.
func TestTerminalIgnoresAStrayAnswer(t *testing.T) {
	file := filepath.Join(t.TempDir(), "stray.yaml")
	yaml := `name: stray
rules:
  - match: txn == "sale"
    action: { duplicate: { gap: 100ms } }
  - match: txn == "reversal"
    delay: 400ms
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, sim.Config{Scenario: file})
	term := dial(t, s, dialect.Binary2, "STRAY001")
	x, err := term.Sale(1500)
	expect(t, "sale answered twice", x, err, txn.Approved)
	x, err = term.Reverse(x.Get(11), 1500, "98", false)
	expect(t, "its reversal, while the sale's copy arrives", x, err, txn.Approved)
	if mti, _ := x.Response.GetMTI(); mti != "0410" {
		t.Errorf("the reversal was answered by a %s", mti)
	}
}
