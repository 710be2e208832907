package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/journal"
)

// send -v shows each field as the host's detail view does, card data masked
// by the one policy there is (the dialect's): the request's lines are the
// detail view of the frame the host journalled, field for field.
func TestSendVerboseMasksAsTheHost(t *testing.T) {
	for _, name := range []string{"iso87ascii", "cup"} {
		t.Run(name, func(t *testing.T) {
			s := sendHost(t, name, "")
			send := sendTo(s, t.TempDir())
			if name == "cup" {
				mustSend(t, send, "signon")
			}
			out := mustSend(t, send, "sale", "--amount", "12.34", "-v")
			e := s.Journal.Query(journal.Filter{Txn: "sale"})
			if len(e) != 1 {
				t.Fatalf("%d sales journalled, want 1", len(e))
			}
			full, ok := s.Journal.Get(e[0].Seq) // with its frames
			if !ok {
				t.Fatal("the sale's entry is not in the journal")
			}
			detail := s.Dialect.Describe([]byte(full.Request))
			masked := 0
			for _, f := range detail.Fields {
				if f.ID == 0 {
					continue
				}
				line := fmt.Sprintf("F%-3d %-40s: %s\n", f.ID, f.Name, f.Value)
				if !strings.Contains(out, line) {
					t.Errorf("send -v lacks the host's line %q:\n%s", line, out)
				}
				if f.Masked {
					masked++
				}
			}
			if masked < 2 { // the card number and track 2 at least
				t.Errorf("the host's detail view masked %d fields of a card sale, want F2 and F35", masked)
			}
			if strings.Contains(out, "=2512") || strings.Contains(out, "4761739001010010") {
				t.Errorf("send -v shows card data:\n%s", out)
			}
		})
	}
}
