package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/fixtures"
)

func TestBenchChipUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--card", "visa-cvn18"},       // without --chip
		{"--chip", "--card", "amex-1"}, // no such profile
	} {
		code, stdout, stderr := runBenchCmd(t, append(args, "--addr", "127.0.0.1:1")...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "acqsim: ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("bench %v: exit %d, stdout %q, stderr %q; want 2 and one line on stderr", args, code, stdout, stderr)
		}
	}
}

// TestBenchChip: `acqsim bench --chip` against `acqsim serve` in every
// dialect: chip sales all approved, none refused by the card, the profile
// named in the report and its card number nowhere; against a host whose
// ARPC is wrong, every sale is refused by the card.
func TestBenchChip(t *testing.T) {
	card := emv.Builtin().Named("mc-cvn16").Card
	for _, dialect := range fixtures.DialectNames() {
		t.Run(dialect, func(t *testing.T) {
			iso, _, _ := serveInBackground(t, "--dialect", dialect)
			code, stdout, stderr := runBenchCmd(t, "--addr", iso, "--dialect", dialect, "-n", "200", "-c", "2", "--pipeline", "2",
				"--mix", "sale=80,void=10,balance=10", "--chip", "--card", "mc-cvn16", "--settle", "-o", "json", "-q")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var res map[string]any
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("not one JSON object: %v\n%s", err, stdout)
			}
			sameKeys(t, "result", res, append(benchKeys, "chip"), "settlement")
			if res["chip"] != "mc-cvn16" || res["answered"] != 200.0 || res["errors"] != 0.0 {
				t.Errorf("chip %v answered %v errors %v %v; want 200 answered with mc-cvn16", res["chip"], res["answered"], res["errors"], res["errors_by_kind"])
			}
			if strings.Contains(stdout, card.PAN) {
				t.Error("the report shows the card number")
			}

			iso, _, _ = serveInBackground(t, "--dialect", dialect, "--scenario", "arpc-wrong")
			code, stdout, stderr = runBenchCmd(t, "--addr", iso, "--dialect", dialect, "-n", "50", "-c", "2", "--chip", "-q")
			if code != 1 || !strings.Contains(stdout, "card_refused=50") || !strings.Contains(stderr, "the card refused 50 approvals") {
				t.Errorf("against arpc-wrong: exit %d, stdout\n%s\nstderr %q; want every sale refused by the card", code, stdout, stderr)
			}
		})
	}
}
