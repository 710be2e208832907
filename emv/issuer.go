package emv

import (
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/moov-io/bertlv"
)

// Auth is the issuer's check of one online request: what it read from field
// 55, whether the ARQC verified, and what it needs to answer (tag 91, scripts).
type Auth struct {
	// Profile is the profile the card's BIN chose.
	Profile *Profile
	// Checked says the ARQC was checked (the profile's Verify).
	Checked bool
	// Valid says the ARQC verified, or was not checked.
	Valid bool
	// Reason says, in words and without card data, why the ARQC did not
	// verify or the request could not be read ("9F26 missing", "ARQC does
	// not verify"); a request that could not be read has a Reason even
	// when it was not checked.
	Reason string

	m        method
	readable bool
	iccAC    []byte
	iccSMI   []byte
	iccSMC   []byte
	sk       []byte // the AC session key
	arqc     []byte
	atc      []byte
}

// Authorise reads an online request's field 55 for the card pan/psn and checks
// its ARQC under the profile's keys.
func (p *Profile) Authorise(pan, psn string, tags Tags) *Auth {
	a := &Auth{Profile: p, Checked: p.Verify}
	if err := a.read(pan, psn, tags); err != nil {
		a.Reason = err.Error()
		a.Valid = !p.Verify
		return a
	}
	a.readable = true
	if !p.Verify {
		a.Valid = true
		return a
	}
	data, _ := a.m.cryptogramData(tags)
	ac, err := mac(a.sk, data, a.m.padding)
	if err != nil || subtle.ConstantTimeCompare(ac, a.arqc) != 1 {
		a.Reason = "ARQC does not verify"
		return a
	}
	a.Valid = true
	return a
}

// read derives the card's keys and takes what the answer needs from tags.
func (a *Auth) read(pan, psn string, tags Tags) error {
	m, ok := methods[a.Profile.Method]
	if !ok {
		return fmt.Errorf("unknown method %q", a.Profile.Method)
	}
	a.m = m
	var err error
	if a.iccAC, err = ICCMasterKey(a.Profile.Keys.AC, pan, psn); err != nil {
		return fmt.Errorf("deriving the card's AC key: %w", err)
	}
	// The script keys are needed only for scripts; a profile without
	// them can still answer.
	a.iccSMI, _ = ICCMasterKey(a.Profile.Keys.SMI, pan, psn)
	a.iccSMC, _ = ICCMasterKey(a.Profile.Keys.SMC, pan, psn)
	var ok26 bool
	if a.arqc, ok26 = tags.Value("9F26"); !ok26 {
		return errors.New("9F26 missing")
	}
	if len(a.arqc) != 8 {
		return fmt.Errorf("9F26 is %d bytes, want 8", len(a.arqc))
	}
	if _, err := m.cryptogramData(tags); err != nil {
		return err
	}
	a.atc, _ = tags.Value("9F36")
	un, _ := tags.Value("9F37")
	if a.sk, err = m.sessionKey(a.iccAC, a.atc, un); err != nil {
		return fmt.Errorf("deriving the session key: %w", err)
	}
	return nil
}

// approvedRC reports the response codes a card is told are an approval:
// 00, 08 (honour with identification), 10 (partial) and 11 (VIP).
func approvedRC(rc string) bool {
	switch rc {
	case "00", "08", "10", "11":
		return true
	}
	return false
}

// csuFor is the card status update (ARPC method 2) for a response code. An
// approval is the vector's 00820000: byte 2 bit 8 "issuer approves online
// transaction" and bits 2-1 = 10 "reset the velocity-checking counters to
// zero" (EMV Book 3 annex C10, VIS 1.6). A decline is 00000000: the approval
// bit off, and the counters left as they are (a decline is no reason to reset
// what the card counted offline); no PIN try counter update, no blocks.
func csuFor(rc string) []byte {
	if approvedRC(rc) {
		return []byte{0x00, 0x82, 0x00, 0x00}
	}
	return []byte{0x00, 0x00, 0x00, 0x00}
}

// IssuerData is tag 91 for the response code actually sent: method 1
// ARPC || ARC (the response code in ASCII), method 2 ARPC || CSU. It is nil
// when the profile says arpc: none or the request could not be read.
func (a *Auth) IssuerData(rc string) []byte {
	if a == nil || !a.readable || !a.Profile.ARPC || len(rc) != 2 {
		return nil
	}
	switch a.m.arpc {
	case 1:
		key := a.sk
		if a.m.arpcMaster {
			key = a.iccAC
		}
		arpc, err := arpc1(key, a.arqc, []byte(rc))
		if err != nil {
			return nil
		}
		return append(arpc, rc...)
	case 2:
		csu := csuFor(rc)
		arpc, err := arpc2(a.sk, a.arqc, csu, nil)
		if err != nil {
			return nil
		}
		return append(arpc, csu...)
	}
	return nil
}

// Script is one issuer script: a template holding one command.
type Script struct {
	// Command is one of ScriptCommands: application-block,
	// application-unblock, pin-change, pin-unblock, put-data.
	Command string
	// Template is 0x71 (run before the card's final GENERATE AC) or 0x72
	// (after it); 0 means 0x72.
	Template byte
	// ID is the script identifier, tag 9F18.
	ID uint32
	// PIN is pin-change's new PIN.
	PIN string
	// Tag is put-data's data object (its tag in hex, one or two bytes).
	Tag string
	// Value is put-data's value.
	Value []byte
	// WrongMAC sends a MAC the card must refuse (one bit flipped).
	WrongMAC bool
}

// Script is the whole 71/72 template (tag, length, 9F18, 86...) as the
// response's field 55 carries it.
func (a *Auth) Script(s Script) ([]byte, error) {
	if a == nil || !a.readable {
		return nil, errors.New("issuer script: the request could not be read")
	}
	if a.iccSMI == nil {
		return nil, errors.New("issuer script: the profile has no script integrity key")
	}
	tmpl := s.Template
	if tmpl == 0 {
		tmpl = 0x72
	}
	if tmpl != 0x71 && tmpl != 0x72 {
		return nil, fmt.Errorf("issuer script: template %02X, want 71 or 72", tmpl)
	}
	var header []byte
	for _, c := range scriptCommands {
		if c.name == s.Command {
			header = append([]byte(nil), c.header[:]...)
		}
	}
	if header == nil {
		return nil, fmt.Errorf("issuer script: unknown command %q (want one of %s)", s.Command, strings.Join(ScriptCommands(), ", "))
	}
	var data []byte
	switch s.Command {
	case "pin-change":
		if a.iccSMC == nil {
			return nil, errors.New("issuer script: the profile has no script confidentiality key")
		}
		block, err := a.m.scripts.pinBlock(s.PIN, a.iccAC)
		if err != nil {
			return nil, fmt.Errorf("issuer script: %w", err)
		}
		key, err := a.m.scripts.scriptKey(a.iccSMC, a.atc, a.arqc)
		if err != nil {
			return nil, fmt.Errorf("issuer script: %w", err)
		}
		if data, err = a.m.scripts.encipher(key, block); err != nil {
			return nil, fmt.Errorf("issuer script: %w", err)
		}
	case "put-data":
		tag, err := hex.DecodeString(s.Tag)
		if err != nil || len(tag) < 1 || len(tag) > 2 {
			return nil, errors.New("issuer script: put-data's tag is not one or two bytes of hex")
		}
		copy(header[4-len(tag):], tag)
		data = s.Value
	}
	if len(data)+scriptLc > 0xFF {
		return nil, errors.New("issuer script: the command's data is too long")
	}
	lc := byte(len(data) + scriptLc)
	key, err := a.m.scripts.scriptKey(a.iccSMI, a.atc, a.arqc)
	if err != nil {
		return nil, fmt.Errorf("issuer script: %w", err)
	}
	m, err := scriptMAC(key, scriptMACData(header, lc, a.atc, a.arqc, data))
	if err != nil {
		return nil, fmt.Errorf("issuer script: %w", err)
	}
	if s.WrongMAC {
		m[macLen-1] ^= 0x01
	}
	cmd := append(append(append(header, lc), data...), m...)
	var id [4]byte
	binary.BigEndian.PutUint32(id[:], s.ID)
	return Tags{bertlv.NewComposite(fmt.Sprintf("%02X", tmpl),
		bertlv.NewTag("9F18", id[:]),
		bertlv.NewTag("86", cmd),
	)}.Encode()
}
