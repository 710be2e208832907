package scenarios

import (
	"encoding/hex"
	"slices"
	"strings"

	"github.com/acqsim/acqsim/emv"
	"github.com/acqsim/acqsim/txn"
)

// ChipSettings are how a scenario's host treats chip cards.
type ChipSettings struct {
	// ARQCFailedRC is the answer to a chip request whose cryptogram (ARQC)
	// does not verify; default 05.
	ARQCFailedRC string `yaml:"arqc_failed_rc,omitempty" json:"arqc_failed_rc,omitempty"`
}

// DefaultARQCFailedRC answers a chip request whose ARQC does not verify.
const DefaultARQCFailedRC = "05"

// ChipOutcome is what an answer does with a chip card's cryptograms.
type ChipOutcome struct {
	// ARQC is what the issuer makes of the card's cryptogram: check (the
	// default: one that does not verify is declined), fail (declined as if
	// it did not verify), or ignore (answered as if it verified).
	ARQC string `yaml:"arqc,omitempty" json:"arqc,omitempty"`
	// ARPC is what the answer's issuer authentication data (tag 91) says:
	// right (the default), wrong (one bit flipped: the card refuses it and
	// the terminal reverses), or missing (no tag 91).
	ARPC string `yaml:"arpc,omitempty" json:"arpc,omitempty"`
	// Scripts are issuer scripts the answer carries in F55 for the card to
	// run, each under the card's script keys.
	Scripts []Script `yaml:"scripts,omitempty" json:"scripts,omitempty"`

	scripts []emv.Script // Scripts, as the issuer writes them
}

// Script is an issuer script command.
type Script struct {
	// Command is application-block, application-unblock, pin-change,
	// pin-unblock or put-data.
	Command string `yaml:"command" json:"command"`
	// When is after (the default: tag 72, run after the card's final
	// GENERATE AC) or before (tag 71, run before it).
	When string `yaml:"when,omitempty" json:"when,omitempty"`
	// ID is the script identifier (9F18); default 1.
	ID uint32 `yaml:"id,omitempty" json:"id,omitempty"`
	// PIN is pin-change's new PIN (4 to 12 digits), sent enciphered.
	PIN string `yaml:"pin,omitempty" json:"pin,omitempty"`
	// Tag and Value are put-data's data object (a tag, and its value in
	// hex).
	Tag   string `yaml:"tag,omitempty" json:"tag,omitempty"`
	Value string `yaml:"value,omitempty" json:"value,omitempty"`
	// MAC is right (the default) or wrong: a secure-messaging MAC the card
	// refuses, so it runs nothing.
	MAC string `yaml:"mac,omitempty" json:"mac,omitempty"`
}

// ChipPlan is what the answer's chip data (F55) carries beyond the
// issuer's own answer to the cryptogram.
type ChipPlan struct {
	// ARPC is "" (right), wrong or missing.
	ARPC string
	// Scripts are the issuer scripts to send.
	Scripts []emv.Script
}

// The acts of chip cards.
const (
	// ActChip is what the issuer did with a chip card's cryptograms: Name
	// arqc-failed (Value the reason), arqc-ignored, arpc-wrong,
	// arpc-missing, or script (Value the command).
	ActChip ActKind = "chip"
)

// chipRC is the scenario's answer to a cryptogram that does not verify.
func (c *Compiled) chipRC() string {
	if c != nil && c.Chip != nil && c.Chip.ARQCFailedRC != "" {
		return c.Chip.ARQCFailedRC
	}
	return DefaultARQCFailedRC
}

// chipRefusal is the answer to a request whose card's cryptogram the issuer
// refuses, and the act that says so; "" when it stands (or the request has
// none). o is the outcome that applies, nil for the default one.
func chipRefusal(r *txn.Request, o *ChipOutcome, rc string) (string, Act) {
	if r.Chip == txn.ChipNone {
		return "", Act{}
	}
	arqc := ""
	if o != nil {
		arqc = o.ARQC
	}
	switch {
	case arqc == "fail":
		return rc, Act{Kind: ActChip, Name: "arqc-failed", Value: "scenario"}
	case r.Chip == txn.ChipFailed && arqc != "ignore":
		return rc, Act{Kind: ActChip, Name: "arqc-failed", Value: "ARQC failed"}
	}
	return "", Act{}
}

// chipPlan is what o adds to the answer's chip data, with its acts.
func (o *ChipOutcome) plan(r *txn.Request, rec *record) ChipPlan {
	if o == nil || r.Chip == txn.ChipNone {
		return ChipPlan{}
	}
	if o.ARQC == "ignore" && r.Chip == txn.ChipFailed {
		rec.add(Act{Kind: ActChip, Name: "arqc-ignored"})
	}
	if o.ARPC == "wrong" || o.ARPC == "missing" {
		rec.add(Act{Kind: ActChip, Name: "arpc-" + o.ARPC})
	}
	for _, s := range o.scripts {
		rec.add(Act{Kind: ActChip, Name: "script", Value: s.Command})
	}
	return ChipPlan{ARPC: o.ARPC, Scripts: o.scripts}
}

// check validates the outcome's chip part and compiles its scripts.
func (o *ChipOutcome) check(at locator, label string, found *problems) {
	switch o.ARQC {
	case "", "check", "fail", "ignore":
	default:
		found.add(at.at("arqc").errorf("%s: chip: arqc %q: want check, fail or ignore", label, o.ARQC))
	}
	switch o.ARPC {
	case "", "right", "wrong", "missing":
	default:
		found.add(at.at("arpc").errorf("%s: chip: arpc %q: want right, wrong or missing", label, o.ARPC))
	}
	o.scripts = o.scripts[:0]
	for i, s := range o.Scripts {
		here := at.at("scripts", i)
		es := emv.Script{Command: s.Command, Template: 0x72, ID: s.ID, PIN: s.PIN, Tag: strings.ToUpper(s.Tag), WrongMAC: s.MAC == "wrong"}
		if es.ID == 0 {
			es.ID = 1
		}
		if !slices.Contains(emv.ScriptCommands(), s.Command) {
			found.add(here.at("command").errorf("%s: chip: script command %q: want one of %s", label, s.Command, strings.Join(emv.ScriptCommands(), ", ")))
		}
		switch s.When {
		case "", "after":
		case "before":
			es.Template = 0x71
		default:
			found.add(here.at("when").errorf("%s: chip: script when %q: want before or after", label, s.When))
		}
		switch s.MAC {
		case "", "right", "wrong":
		default:
			found.add(here.at("mac").errorf("%s: chip: script mac %q: want right or wrong", label, s.MAC))
		}
		if s.Command == "pin-change" && !pinDigits(s.PIN) {
			found.add(here.at("pin").errorf("%s: chip: pin-change needs a new pin of 4 to 12 digits", label))
		}
		if s.Command == "put-data" {
			v, err := hex.DecodeString(s.Value)
			if err != nil || s.Tag == "" {
				found.add(here.errorf("%s: chip: put-data needs a tag and a value in hex", label))
			}
			es.Value = v
		}
		o.scripts = append(o.scripts, es)
	}
}

func pinDigits(s string) bool {
	if len(s) < 4 || len(s) > 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// chipNote says in the journal why a chip request was declined.
func chipNote(r *txn.Request, rc string) string {
	why := "ARQC failed"
	if r.ChipWhy != "" {
		why += ": " + r.ChipWhy
	}
	return "declined rc=" + rc + ": " + why
}
