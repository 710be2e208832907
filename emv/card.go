package emv

import (
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moov-io/bertlv"
)

// pinTryLimit is a new card's PIN try counter, and what PIN UNBLOCK restores.
const pinTryLimit = 3

// aip is the cards' application interchange profile (the vectors' 82): SDA,
// DDA, cardholder verification, terminal risk management and issuer
// authentication supported.
var aip = []byte{0x7C, 0x00}

// ErrBlocked is FirstAC's error for a card whose application an APPLICATION
// BLOCK script blocked.
var ErrBlocked = errors.New("the card's application is blocked")

// Card is a chip card as the terminal emulator plays it. Its exported fields
// are its memory, and a state file may keep them as JSON.
type Card struct {
	// Profile says how the card computes its cryptograms and holds the
	// issuer's keys the card's own are derived from.
	Profile *Profile `json:"-"`
	// PAN and PSN are the card's number and sequence number.
	PAN, PSN string
	// ATC is the last application transaction counter used; FirstAC
	// advances it.
	ATC uint16
	// Blocked says an APPLICATION BLOCK script ran.
	Blocked bool
	// PINTries is the PIN try counter; PIN UNBLOCK resets it.
	PINTries int
	// PIN is the offline PIN a PIN CHANGE script set ("" for the test
	// card's own). It is card data: never log it.
	PIN string `json:",omitempty"`
	// Data are the values PUT DATA scripts wrote, hex by tag.
	Data map[string]string `json:",omitempty"`

	// pending is the transaction between the first and the second
	// GENERATE AC.
	pending *pending
}

type pending struct {
	tags Tags   // the first GENERATE AC's request, as sent
	arqc []byte // 9F26
	atc  []byte
	un   []byte
	sk   []byte
	m    method
	iad  []byte
	mk   []byte // the ICC AC master key
}

// NewCard is a new card of the profile's test card.
func (p *Profile) NewCard() *Card {
	return &Card{Profile: p, PAN: p.Card.PAN, PSN: p.Card.PSN, PINTries: pinTryLimit}
}

// Terminal is what the terminal gives the card for the first GENERATE AC.
type Terminal struct {
	// Amount and Other are 9F02 and 9F03 in minor units.
	Amount, Other int64
	// Country and Currency are 9F1A and 5F2A, 4 digits ("0156"); "" is
	// 0156.
	Country, Currency string
	// Date is 9A; it must be set.
	Date time.Time
	// Type is 9C, the transaction type (00 a purchase).
	Type byte
	// UN is 9F37, the unpredictable number.
	UN [4]byte
	// TVR is 95, the terminal verification results.
	TVR [5]byte
	// Capabilities (9F33), CVM (9F34 CVM results), TerminalType (9F35),
	// Serial (9F1E), AID (84) and Version (9F09) are hex; the zero values
	// are the vectors' E0E1C8, 420300, 22, 534E303030303031 ("SN000001"),
	// A000000333010101 and 0030.
	Capabilities, CVM, TerminalType, Serial, AID, Version string
}

// FirstAC is the card's answer to the terminal's first GENERATE AC asking to
// go online: the whole request field 55 (tags in the vectors' order: 9F26
// 9F27 9F10 9F37 9F36 95 9A 9C 9F02 5F2A 82 9F1A 9F03 9F33 9F34 9F35 9F1E 84
// 9F09 5F34), with the ATC advanced and the IAD the method uses.
func (c *Card) FirstAC(t Terminal) (Tags, error) {
	if c.Blocked {
		return nil, ErrBlocked
	}
	if c.Profile == nil {
		return nil, errors.New("the card has no profile")
	}
	m, ok := methods[c.Profile.Method]
	if !ok {
		return nil, fmt.Errorf("unknown method %q", c.Profile.Method)
	}
	if t.Date.IsZero() {
		return nil, errors.New("the terminal gave no transaction date")
	}
	if c.ATC == 0xFFFF {
		return nil, errors.New("the card's ATC is exhausted")
	}
	psn := c.PSN
	if psn == "" {
		psn = "00"
	}
	psnB, err := hex.DecodeString(psn)
	if err != nil || len(psnB) != 1 {
		return nil, errors.New("the card's PSN is not 2 digits")
	}
	amount, err := bcd(t.Amount, 6)
	if err != nil {
		return nil, fmt.Errorf("9F02: %w", err)
	}
	other, err := bcd(t.Other, 6)
	if err != nil {
		return nil, fmt.Errorf("9F03: %w", err)
	}
	terminal := func(tag, v, def string, n int) ([]byte, error) {
		if v == "" {
			v = def
		}
		b, err := hex.DecodeString(v)
		if err != nil || len(b) != n {
			return nil, fmt.Errorf("terminal data %s is not %d bytes of hex", tag, n)
		}
		return b, nil
	}
	var fields [8][]byte
	for i, f := range []struct {
		tag, v, def string
		n           int
	}{
		{"9F1A", t.Country, "0156", 2}, {"5F2A", t.Currency, "0156", 2},
		{"9F33", t.Capabilities, "E0E1C8", 3}, {"9F34", t.CVM, "420300", 3},
		{"9F35", t.TerminalType, "22", 1}, {"9F1E", t.Serial, "534E303030303031", 8},
		{"84", t.AID, "A000000333010101", 0}, {"9F09", t.Version, "0030", 2},
	} {
		n := f.n
		if f.tag == "84" {
			// An AID is 5 to 16 bytes.
			if n = len(f.v) / 2; f.v == "" {
				n = 8
			}
			if n < 5 || n > 16 {
				return nil, errors.New("terminal data 84 is not an AID")
			}
		}
		if fields[i], err = terminal(f.tag, f.v, f.def, n); err != nil {
			return nil, err
		}
	}
	mk, err := ICCMasterKey(c.Profile.Keys.AC, c.PAN, psn)
	if err != nil {
		return nil, fmt.Errorf("the card's AC key: %w", err)
	}
	atc := []byte{byte((c.ATC + 1) >> 8), byte(c.ATC + 1)}
	sk, err := m.sessionKey(mk, atc, t.UN[:])
	if err != nil {
		return nil, err
	}
	iad := m.cardIAD()
	date := []byte{bcdByte(t.Date.Year() % 100), bcdByte(int(t.Date.Month())), bcdByte(t.Date.Day())}
	tags := Tags{
		bertlv.NewTag("9F26", nil), // the ARQC, below
		bertlv.NewTag("9F27", []byte{0x80}),
		bertlv.NewTag("9F10", iad),
		bertlv.NewTag("9F37", clone(t.UN[:])),
		bertlv.NewTag("9F36", atc),
		bertlv.NewTag("95", clone(t.TVR[:])),
		bertlv.NewTag("9A", date),
		bertlv.NewTag("9C", []byte{t.Type}),
		bertlv.NewTag("9F02", amount),
		bertlv.NewTag("5F2A", fields[1]),
		bertlv.NewTag("82", clone(aip)),
		bertlv.NewTag("9F1A", fields[0]),
		bertlv.NewTag("9F03", other),
		bertlv.NewTag("9F33", fields[2]),
		bertlv.NewTag("9F34", fields[3]),
		bertlv.NewTag("9F35", fields[4]),
		bertlv.NewTag("9F1E", fields[5]),
		bertlv.NewTag("84", fields[6]),
		bertlv.NewTag("9F09", fields[7]),
		bertlv.NewTag("5F34", psnB),
	}
	data, err := m.cryptogramData(tags)
	if err != nil {
		return nil, err
	}
	arqc, err := mac(sk, data, m.padding)
	if err != nil {
		return nil, err
	}
	tags[0].Value = arqc
	c.ATC++
	c.pending = &pending{tags: tags, arqc: arqc, atc: atc, un: clone(t.UN[:]), sk: sk, m: m, iad: iad, mk: mk}
	out := make(Tags, len(tags))
	for i, tlv := range tags {
		out[i] = bertlv.NewTag(tlv.Tag, clone(tlv.Value))
	}
	return out, nil
}

// Outcome is what the card decided at the second GENERATE AC.
type Outcome struct {
	// Approved says the card gave a TC; false, an AAC.
	Approved bool
	// Why says the decision in words: "approved", "declined by the
	// issuer", "issuer authentication failed", ...
	Why string
	// Tags are the card's answer and the terminal's results: 9F26 (the TC
	// or AAC), 9F27 (40 or 00), 9F10, 95 TVR, 9B TSI, 9F36 and, when the
	// issuer sent scripts, 9F5B.
	Tags Tags
	// IssuerAuthFailed says tag 91 was missing or did not verify.
	IssuerAuthFailed bool
	// Scripts are the issuer scripts' results, in the order they ran.
	Scripts []ScriptResult
}

// ScriptResult is one issuer script as the card ran it.
type ScriptResult struct {
	// ID is the script's 9F18 (0 when it had none).
	ID uint32
	// Template is 0x71 or 0x72.
	Template byte
	// Command names the last command the script ran (the one that failed).
	Command string
	// OK says every command ran.
	OK bool
	// Why says why not, in words.
	Why string

	seq int // the sequence number of the last command run, from 1
}

// The terminal's results the second GENERATE AC sets (EMV Book 3 annex C5,
// C6).
const (
	tvrIssuerAuthFailed   = 0x40 // TVR byte 5
	tvrScriptFailedBefore = 0x20 // TVR byte 5
	tvrScriptFailedAfter  = 0x10 // TVR byte 5
	tsiIssuerAuth         = 0x10 // TSI byte 1: issuer authentication performed
	tsiScripts            = 0x04 // TSI byte 1: script processing performed
)

// SecondAC is the card's second GENERATE AC, given the response's F39 and
// F55 (nil when absent). The card checks tag 91 as a card would (method 1:
// the ARPC for the ARC it carries, and the ARC must be rc; method 2: the ARPC
// and the CSU), runs 71 scripts before and 72 scripts after its decision
// (each command's MAC checked under its own script keys), and approves only
// when the issuer approved and issuer authentication passed: a missing 91
// fails it, since the cards' AIP (7C00) says issuer authentication is
// supported.
func (c *Card) SecondAC(rc string, issuer Tags) (Outcome, error) {
	p := c.pending
	if p == nil {
		return Outcome{}, errors.New("second GENERATE AC without a first")
	}
	c.pending = nil
	var out Outcome
	tvr := clone(p.tags[5].Value)
	tsi := []byte{0x00, 0x00}

	approved := approvedRC(rc)
	authWhy := ""
	if v, ok := issuer.Value("91"); ok {
		tsi[0] |= tsiIssuerAuth
		var issuerApproves bool
		issuerApproves, authWhy = c.issuerAuth(p, rc, v)
		approved = approved && issuerApproves
	} else {
		authWhy = "tag 91 missing"
	}
	if authWhy != "" {
		out.IssuerAuthFailed = true
		tvr[4] |= tvrIssuerAuthFailed
	}

	ran := 0
	run := func(tmpl byte, failBit byte) {
		for _, tlv := range issuer {
			if tlv.Tag != fmt.Sprintf("%02X", tmpl) {
				continue
			}
			r := c.runScript(p, tmpl, tlv)
			ran++
			if !r.OK {
				tvr[4] |= failBit
			}
			out.Scripts = append(out.Scripts, r)
		}
	}
	run(0x71, tvrScriptFailedBefore)

	switch {
	case c.Blocked:
		out.Why = "the application is blocked"
	case !approvedRC(rc) || !approved && authWhy == "":
		out.Why = "declined by the issuer"
	case authWhy != "":
		out.Why = "issuer authentication failed: " + authWhy
	default:
		out.Approved = true
		out.Why = "approved"
	}
	out.Approved = out.Approved && !c.Blocked

	// The TC or AAC covers the first AC's data with the TVR as it is now
	// and the CVR saying which AC the second GENERATE AC returned.
	iad := clone(p.iad)
	iad[p.m.acType] &^= 0xC0
	cid := byte(0x00)
	if out.Approved {
		iad[p.m.acType] |= 0x40
		cid = 0x40
	}
	second := append(Tags(nil), p.tags...).Set("95", tvr).Set("9F10", iad)
	data, err := p.m.cryptogramData(second)
	if err != nil {
		return Outcome{}, err
	}
	ac, err := mac(p.sk, data, p.m.padding)
	if err != nil {
		return Outcome{}, err
	}

	run(0x72, tvrScriptFailedAfter)
	if ran > 0 {
		tsi[0] |= tsiScripts
	}

	out.Tags = Tags{
		bertlv.NewTag("9F26", ac),
		bertlv.NewTag("9F27", []byte{cid}),
		bertlv.NewTag("9F10", iad),
		bertlv.NewTag("95", tvr),
		bertlv.NewTag("9B", tsi),
		bertlv.NewTag("9F36", clone(p.atc)),
	}
	if len(out.Scripts) > 0 {
		var results []byte
		for _, r := range out.Scripts {
			results = append(results, r.result())
			results = binary.BigEndian.AppendUint32(results, r.ID)
		}
		out.Tags = append(out.Tags, bertlv.NewTag("9F5B", results))
	}
	return out, nil
}

// issuerAuth checks tag 91 as the card would: whether it verifies ("" when it
// does, else why not) and whether the issuer approved in it.
func (c *Card) issuerAuth(p *pending, rc string, v []byte) (approves bool, why string) {
	switch p.m.arpc {
	case 1:
		if len(v) != 10 {
			return false, fmt.Sprintf("tag 91 is %d bytes, want 10", len(v))
		}
		key := p.sk
		if p.m.arpcMaster {
			key = p.mk
		}
		want, err := arpc1(key, p.arqc, v[8:])
		if err != nil || subtle.ConstantTimeCompare(want, v[:8]) != 1 {
			return false, "the ARPC does not verify"
		}
		if string(v[8:]) != rc {
			return false, "the ARC in tag 91 is not the response code"
		}
		return approvedRC(rc), ""
	case 2:
		if len(v) < 8 || len(v) > 16 {
			return false, fmt.Sprintf("tag 91 is %d bytes, want 8 to 16", len(v))
		}
		want, err := arpc2(p.sk, p.arqc, v[4:8], v[8:])
		if err != nil || subtle.ConstantTimeCompare(want, v[:4]) != 1 {
			return false, "the ARPC does not verify"
		}
		// The CSU's byte 2 bit 8: the issuer approves.
		return v[5]&0x80 != 0, ""
	}
	return false, "unknown ARPC method"
}

// result is the script's byte in 9F5B: the high nibble 1 failed, 2 ran; the
// low nibble the sequence number of the last command run (15 at most).
func (r ScriptResult) result() byte {
	b := byte(0x20)
	if !r.OK {
		b = 0x10
	}
	return b | byte(min(r.seq, 15))
}

// runScript runs one 71/72 template's commands until one fails.
func (c *Card) runScript(p *pending, tmpl byte, tlv bertlv.TLV) ScriptResult {
	r := ScriptResult{Template: tmpl}
	var cmds [][]byte
	for _, t := range tlv.TLVs {
		switch t.Tag {
		case "9F18":
			if len(t.Value) == 4 {
				r.ID = binary.BigEndian.Uint32(t.Value)
			}
		case "86":
			cmds = append(cmds, t.Value)
		}
	}
	if len(cmds) == 0 {
		r.Why = "the script has no commands"
		return r
	}
	for i, cmd := range cmds {
		r.seq = i + 1
		if err := c.runCommand(p, cmd, &r); err != nil {
			r.Why = err.Error()
			return r
		}
	}
	r.OK = true
	return r
}

// runCommand checks one command's MAC and does what it says.
func (c *Card) runCommand(p *pending, cmd []byte, r *ScriptResult) error {
	if len(cmd) < 5+macLen {
		return errors.New("the command is too short for its MAC")
	}
	header, lc := cmd[:4], cmd[4]
	data, got := cmd[5:len(cmd)-macLen], cmd[len(cmd)-macLen:]
	r.Command = commandName(header)
	if r.Command == "" {
		return fmt.Errorf("unknown command %X", header)
	}
	sm := p.m.scripts
	smi, err := ICCMasterKey(c.Profile.Keys.SMI, c.PAN, c.psn())
	if err != nil {
		return fmt.Errorf("the card's script key: %w", err)
	}
	key, err := sm.scriptKey(smi, p.atc, p.arqc)
	if err != nil {
		return err
	}
	if !verifyScriptMAC(key, scriptMACData(header, lc, p.atc, p.arqc, data), got) {
		return errors.New("the MAC does not verify")
	}
	switch r.Command {
	case "application-block":
		c.Blocked = true
	case "application-unblock":
		c.Blocked = false
	case "pin-unblock":
		c.PINTries = pinTryLimit
	case "pin-change":
		smc, err := ICCMasterKey(c.Profile.Keys.SMC, c.PAN, c.psn())
		if err != nil {
			return fmt.Errorf("the card's script key: %w", err)
		}
		key, err := sm.scriptKey(smc, p.atc, p.arqc)
		if err != nil {
			return err
		}
		block, err := sm.decipher(key, data)
		if err != nil {
			return fmt.Errorf("the new PIN: %w", err)
		}
		pin, err := sm.readPIN(block, p.mk)
		if err != nil {
			return fmt.Errorf("the new PIN: %w", err)
		}
		c.PIN, c.PINTries = pin, pinTryLimit
	case "put-data":
		tag := strings.TrimPrefix(fmt.Sprintf("%02X%02X", header[2], header[3]), "00")
		if c.Data == nil {
			c.Data = map[string]string{}
		}
		c.Data[tag] = strings.ToUpper(hex.EncodeToString(data))
	}
	return nil
}

func (c *Card) psn() string {
	if c.PSN == "" {
		return "00"
	}
	return c.PSN
}

// bcd is n as size bytes of BCD (EMV's n format).
func bcd(n int64, size int) ([]byte, error) {
	if n < 0 {
		return nil, errors.New("negative amount")
	}
	s := fmt.Sprintf("%0*d", size*2, n)
	if len(s) > size*2 {
		return nil, errors.New("amount too large")
	}
	return hex.DecodeString(s)
}

func bcdByte(n int) byte { return byte(n/10<<4 | n%10) }

func clone(b []byte) []byte { return append([]byte(nil), b...) }
