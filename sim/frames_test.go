package sim_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
	"github.com/acqsim/acqsim/terminal"
	"github.com/acqsim/acqsim/txn"
)

// TestJournalFileHasNoFrames: the host keeps each exchange's frames, card
// number and track in clear, in memory for the detail view; a journal file
// never holds them, in either dialect, and a host started again on the file
// has no frames to show.
func TestJournalFileHasNoFrames(t *testing.T) {
	pan := terminal.DefaultCard.PAN
	// The card number as ASCII (iso87ascii) and as packed BCD (cup).
	bcd, err := hex.DecodeString(pan)
	if err != nil {
		t.Fatal(err)
	}
	clear := [][]byte{[]byte(pan), bcd}
	for _, name := range fixtures.DialectNames() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := sim.Config{Dialect: name, JournalFile: filepath.Join(dir, "journal.db")}
			s := startUntil(t, cfg)
			term := dial(t, s, dialect.Binary2, "FRAM0001")
			x, err := term.SignOn()
			expect(t, "sign-on", x, err, txn.Approved)
			x, err = term.Sale(1234)
			expect(t, "sale", x, err, txn.Approved)
			sales := s.Journal.Query(journal.Filter{Txn: "sale"})
			if len(sales) != 1 {
				t.Fatalf("%d sales journalled", len(sales))
			}
			sale, ok := s.Journal.Get(sales[0].Seq)
			if !ok || !containsAny([]byte(sale.Request), clear) || !containsAny([]byte(sale.Response), clear) {
				t.Fatalf("in memory, the sale's frames do not hold the card number: %q / %q", sale.Request, sale.Response)
			}
			term.Close()
			stop(t, s)

			files, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			found := false // the sale's entry, by its masked card number: the files searched are the right ones
			for _, f := range files {
				b, err := os.ReadFile(filepath.Join(dir, f.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if containsAny(b, clear) || strings.Contains(string(b), sale.Request) {
					t.Errorf("%s holds the sale's frame or its clear card number", f.Name())
				}
				found = found || bytes.Contains(b, []byte(sale.PAN))
			}
			if !found {
				t.Errorf("no file in %s holds the sale's entry (masked card number %s)", dir, sale.PAN)
			}

			s = startUntil(t, cfg)
			defer stop(t, s)
			again, ok := s.Journal.Get(sale.Seq)
			if !ok || again.STAN != sale.STAN || again.Request != "" || again.Response != "" {
				t.Errorf("after the restart, Get(%d) = %+v, %v; want the sale without frames", sale.Seq, again, ok)
			}
		})
	}
}

func containsAny(b []byte, subs [][]byte) bool {
	for _, s := range subs {
		if bytes.Contains(b, s) {
			return true
		}
	}
	return false
}
