package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/fixtures"
	"github.com/acqsim/acqsim/host/dialect"
	"github.com/acqsim/acqsim/journal"
	"github.com/acqsim/acqsim/sim"
)

// send -v shows each field as the host's detail view does, card data masked
// by the one policy there is (the dialect's): the request's lines are the
// detail view of the frame the host journalled, field for field.
func TestSendVerboseMasksAsTheHost(t *testing.T) {
	for _, name := range fixtures.DialectNames() {
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

// send's one-line summary of each message shows what the host's detail view
// shows, masked as it masks: a field the dialect masks (here the batch
// records an end of batch's answer carries back in F48, which a policy of
// the CLI's own let through) is left out, and the card number is shown as
// the dialect masks it.
func TestSendSummaryMasksAsTheHost(t *testing.T) {
	s := sendHost(t, "cup", "")
	sc, err := sim.Resolve(s.Library, "settlement-out-of-balance")
	if err != nil {
		t.Fatal(err)
	}
	s.Engine.SetGlobal(sc)
	send := sendTo(s, t.TempDir())
	var out strings.Builder
	for _, args := range [][]string{{"signon"}, {"sale", "--amount", "7.00"}, {"settle"}} {
		out.WriteString(mustSend(t, send, args...))
	}
	labels := map[int]string{2: "pan", 48: "f48", 60: "f60", 63: "f63"}
	checked := 0
	for _, e := range s.Journal.Query(journal.Filter{}) {
		full, ok := s.Journal.Get(e.Seq)
		if !ok || full.Request == "" || full.Response == "" {
			continue
		}
		for _, frame := range []string{full.Request, full.Response} {
			d := s.Dialect.Describe([]byte(frame))
			arrow := "-> "
			if d.MTI[2]%2 == 1 { // a response: 0110, 0330, ...
				arrow = "<- "
			}
			line := lineOf(out.String(), arrow+d.MTI, "stan="+fieldValue(d, 11))
			if line == "" {
				t.Errorf("send printed no line for %s:\n%s", d.MTI, out.String())
				continue
			}
			for _, f := range d.Fields {
				label, shown := labels[f.ID]
				if !shown || !f.Masked {
					continue
				}
				checked++
				switch {
				case f.ID == 2 && !strings.Contains(line, " pan="+f.Value+" "):
					t.Errorf("%s: want pan=%s, as the dialect masks it: %s", d.MTI, f.Value, line)
				case f.ID != 2 && strings.Contains(line, " "+label+"="):
					t.Errorf("%s: shows %s, which the dialect masks: %s", d.MTI, label, line)
				}
			}
		}
	}
	if !strings.Contains(out.String(), "<- 0330") || checked < 3 {
		t.Fatalf("%d masked fields checked, want the sale's card number and the upload's and its answer's F48:\n%s", checked, out.String())
	}
}

// lineOf is the first line of out that begins with prefix and holds word,
// or "".
func lineOf(out, prefix, word string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, " "+word+" ") {
			return l
		}
	}
	return ""
}

func fieldValue(d dialect.Detail, id int) string {
	for _, f := range d.Fields {
		if f.ID == id {
			return f.Value
		}
	}
	return ""
}
