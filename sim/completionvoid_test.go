package sim_test

import (
	"testing"

	"github.com/acqsim/acqsim/acqsimtest"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// TestCompletionVoid: a terminal voids the completion of a pre-authorisation
// (cup: 0200, F3 200000, F25 06, 60.1 21; iso87ascii: a void with F25 06).
// The host books it as its dialect's void of a completion, gives the
// pre-authorisation back so that it can be completed again, and the
// settlement balances. In cup a completion void is refused (12) against a
// sale, which it does not void.
func TestCompletionVoid(t *testing.T) {
	for _, tt := range []struct {
		dialect string
		want    txn.Type // how the host books the void
	}{
		{"cup", txn.CompletionVoid},
		{"iso87ascii", txn.Void},
	} {
		t.Run(tt.dialect, func(t *testing.T) {
			h := acqsimtest.New(t, acqsimtest.Dialect(tt.dialect))
			term := h.Terminal(t, "TERM0001")
			if _, err := term.SignOn(); err != nil {
				t.Fatal(err)
			}
			pa, err := term.PreAuth(5000)
			if err != nil || pa.RC() != txn.Approved {
				t.Fatalf("pre-authorisation: %v, RC %q", err, rcOf(pa))
			}
			c, err := term.Completion(4800, term.Last(txn.PreAuth), false)
			if err != nil || c.RC() != txn.Approved {
				t.Fatalf("completion: %v, RC %q", err, rcOf(c))
			}
			v, err := term.Void(term.Last(txn.Completion))
			if err != nil || v.RC() != txn.Approved {
				t.Fatalf("void of the completion: %v, RC %q", err, rcOf(v))
			}
			h.Verify(t, journal.Filter{Txn: string(tt.want), RC: txn.Approved, STAN: v.Get(11)}, 1)

			// The pre-authorisation is open again: a second completion is approved.
			c2, err := term.Completion(5000, term.Last(txn.PreAuth), false)
			if err != nil || c2.RC() != txn.Approved {
				t.Fatalf("completing the pre-authorisation again: %v, RC %q", err, rcOf(c2))
			}
			xs, err := term.Settle()
			if err != nil || len(xs) == 0 {
				t.Fatalf("settle: %v", err)
			}
			if rc := xs[0].RC(); rc != txn.Approved {
				t.Fatalf("settlement RC %q, want 00", rc)
			}
			if tt.dialect == "cup" {
				if code := xs[0].Get(48); len(code) < 31 || code[30] != '1' {
					t.Errorf("settlement F48 %q: the domestic totals do not balance", code)
				}
			}
		})
	}

	t.Run("cup completion void of a sale", func(t *testing.T) {
		h := acqsimtest.New(t, acqsimtest.Dialect("cup"))
		term := h.Terminal(t, "TERM0002")
		if _, err := term.SignOn(); err != nil {
			t.Fatal(err)
		}
		s, err := term.Sale(1200)
		if err != nil || s.RC() != txn.Approved {
			t.Fatalf("sale: %v, RC %q", err, rcOf(s))
		}
		// The sale's record, relabelled: the terminal sends 60.1 21 for it.
		orig := *term.Last(txn.Sale)
		orig.Type = txn.Completion
		v, err := term.Void(&orig)
		if err != nil {
			t.Fatal(err)
		}
		if v.RC() != txn.InvalidTxn {
			t.Errorf("completion void of a sale: RC %q, want 12", v.RC())
		}
		h.Verify(t, journal.Filter{Txn: string(txn.CompletionVoid), RC: txn.InvalidTxn}, 1)
	})
}

func rcOf(x *terminal.Exchange) string {
	if x == nil {
		return ""
	}
	return x.RC()
}
