package scenarios_test

import (
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/scenarios"
	"github.com/acqsim/acqsim/txn"
)

// A chip outcome reaches the plan: the ARPC fault, the scripts as the issuer
// writes them, an ARQC ignored or failed on purpose, and the scenario's own
// answer to a cryptogram that does not verify.
func TestChipPlans(t *testing.T) {
	e, _ := newEngine(t, `name: chip
chip: { arqc_failed_rc: "N7" }
rules:
  - name: wrong
    match: amount == 1
    chip: { arpc: wrong }
  - name: scripts
    match: amount == 2
    chip:
      scripts:
        - { command: application-block, id: 7 }
        - { command: put-data, tag: 9f14, value: "03", when: before, mac: wrong }
  - name: ignore
    match: amount == 3
    chip: { arqc: ignore }
  - name: fail
    match: amount == 4
    chip: { arqc: fail }
`)
	noon := time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)

	p := e.Plan(request(txn.Sale, 1, withChip(txn.ChipValid)), noon)
	if p.Decision.RC != "00" || p.Chip.ARPC != "wrong" || p.Trace.Action != "arpc-wrong" {
		t.Errorf("arpc wrong: RC %s, chip %+v, action %q", p.Decision.RC, p.Chip, p.Trace.Action)
	}
	p = e.Plan(request(txn.Sale, 1), noon)
	if p.Chip.ARPC != "" {
		t.Errorf("a magstripe sale got a chip plan %+v", p.Chip)
	}

	p = e.Plan(request(txn.Sale, 2, withChip(txn.ChipValid)), noon)
	if len(p.Chip.Scripts) != 2 {
		t.Fatalf("scripts %+v, want 2", p.Chip.Scripts)
	}
	if s := p.Chip.Scripts[0]; s.Command != "application-block" || s.Template != 0x72 || s.ID != 7 || s.WrongMAC {
		t.Errorf("first script %+v", s)
	}
	if s := p.Chip.Scripts[1]; s.Command != "put-data" || s.Template != 0x71 || s.ID != 1 || !s.WrongMAC || s.Tag != "9F14" || len(s.Value) != 1 {
		t.Errorf("second script %+v", s)
	}
	if want := "script application-block, script put-data"; p.Trace.Action != want {
		t.Errorf("action %q, want %q", p.Trace.Action, want)
	}

	p = e.Plan(request(txn.Sale, 3, withChip(txn.ChipFailed)), noon)
	if p.Decision.RC != "00" || p.Trace.Action != "arqc-ignored" {
		t.Errorf("arqc ignore: RC %s action %q", p.Decision.RC, p.Trace.Action)
	}
	p = e.Plan(request(txn.Sale, 4, withChip(txn.ChipValid)), noon)
	if p.Decision.RC != "N7" || !strings.Contains(p.Decision.Note, "ARQC failed") {
		t.Errorf("arqc fail: RC %s note %q, want the scenario's N7", p.Decision.RC, p.Decision.Note)
	}
	p = e.Plan(request(txn.Sale, 5, withChip(txn.ChipFailed)), noon)
	if p.Decision.RC != "N7" || p.Trace.Action != "arqc-failed" {
		t.Errorf("no rule, ARQC failed: RC %s action %q", p.Decision.RC, p.Trace.Action)
	}
}

// Without a scenario, a cryptogram that does not verify is declined 05.
func TestChipDefaultHost(t *testing.T) {
	e := scenarios.NewEngine(newFakeHost(), 1, time.UTC)
	now := time.Date(2026, 6, 11, 12, 0, 0, 0, time.UTC)
	r := request(txn.Sale, 100, withChip(txn.ChipFailed))
	r.ChipWhy = "ARQC does not verify"
	p := e.Plan(r, now)
	if p.Decision.RC != "05" || p.Decision.Note != "declined rc=05: ARQC failed: ARQC does not verify" {
		t.Errorf("RC %s note %q", p.Decision.RC, p.Decision.Note)
	}
	if p := e.Plan(request(txn.Sale, 100, withChip(txn.ChipValid)), now); p.Decision.RC != "00" {
		t.Errorf("a valid ARQC: RC %s", p.Decision.RC)
	}
}

func TestChipOutcomeErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"name: x\nrules:\n  - chip: { arqc: maybe }\n", "x.yaml:3: rule 1: chip: arqc \"maybe\""},
		{"name: x\nrules:\n  - chip: { arpc: late }\n", "x.yaml:3: rule 1: chip: arpc \"late\""},
		{"name: x\nrules:\n  - chip:\n      scripts:\n        - { command: format-card }\n", "x.yaml:5: rule 1: chip: script command \"format-card\""},
		{"name: x\nrules:\n  - chip:\n      scripts:\n        - { command: pin-change }\n", "x.yaml:5: rule 1: chip: pin-change needs a new pin"},
		{"name: x\nrules:\n  - chip:\n      scripts:\n        - { command: put-data, tag: 9F14, value: zz }\n", "x.yaml:5: rule 1: chip: put-data needs a tag and a value in hex"},
		{"name: x\nchip: { arqc_failed_rc: \"5\" }\n", "x.yaml:2: chip: arqc_failed_rc \"5\""},
	} {
		_, err := scenarios.Load("x.yaml", []byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.src, err, tt.want)
		}
	}
}
