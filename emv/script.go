package emv

import (
	"bytes"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
)

// scheme is how a method keys and enciphers issuer scripts (EMV Book 2 9.2,
// 9.3 and annex A1; pyemv sm.py and cvn.py).
type scheme int

const (
	// emvScripts: the script keys are common session keys from the ICC SMI
	// and SMC master keys with R = ARQC (the vector's sk_smi); enciphered
	// data is padded by method 2 and enciphered in CBC mode; the PIN block
	// is ISO 9564-1 format 2.
	emvScripts scheme = iota
	// mastercardScripts: as emvScripts, but data that is whole blocks is
	// not padded (pyemv EncryptionType.MASTERCARD).
	mastercardScripts
	// visaScripts: the script keys are Visa's, the master key xor the ATC
	// (pyemv derive_visa_sm_sk); enciphered data is its length byte, the
	// data, padded by method 2, in ECB mode; the PIN block is Visa's (VIS),
	// the PIN xor the right half of the ICC AC master key's first half.
	visaScripts
)

// scriptLc is what the vector puts in a script command's Lc beyond its data:
// the vector's APPLICATION BLOCK carries an 8-byte MAC but says Lc = 04. The
// package reproduces the vector (and a card here reads the MAC as the
// command's last 8 bytes, whatever Lc says); a real card checking Lc would
// want 08.
const scriptLc = 4

// macLen is the script commands' MAC length.
const macLen = 8

// scriptKey is the session key for the scripts' integrity (mk is the ICC SMI
// master key) or confidentiality (the ICC SMC master key).
func (s scheme) scriptKey(mk, atc, arqc []byte) ([]byte, error) {
	if s == visaScripts {
		return visaScriptKey(mk, atc)
	}
	return commonSessionKey(mk, arqc)
}

func (s scheme) encipher(key, data []byte) ([]byte, error) {
	switch s {
	case visaScripts:
		return encryptECB(key, pad2.apply(append([]byte{byte(len(data))}, data...)))
	case mastercardScripts:
		if len(data)%8 == 0 && len(data) > 0 {
			return encryptCBC(key, data)
		}
	}
	return encryptCBC(key, pad2.apply(data))
}

func (s scheme) decipher(key, data []byte) ([]byte, error) {
	if s == visaScripts {
		p, err := decryptECB(key, data)
		if err != nil {
			return nil, err
		}
		if len(p) == 0 || int(p[0]) > len(p)-1 {
			return nil, errors.New("enciphered data has a bad length")
		}
		return p[1 : 1+int(p[0])], nil
	}
	p, err := decryptCBC(key, data)
	if err != nil {
		return nil, err
	}
	if s == mastercardScripts && len(p) == 8 {
		// One whole block was not padded; the only data enciphered
		// here is the 8-byte PIN block.
		return p, nil
	}
	i := bytes.LastIndexByte(p, 0x80)
	if i < 0 || len(bytes.Trim(p[i+1:], "\x00")) != 0 {
		return nil, errors.New("enciphered data is not padded")
	}
	return p[:i], nil
}

// pinBlock is the new PIN as the scheme carries it.
func (s scheme) pinBlock(pin string, iccAC []byte) ([]byte, error) {
	if !digits(pin) || len(pin) < 4 || len(pin) > 12 {
		return nil, errors.New("the new PIN is not 4 to 12 digits")
	}
	b, _ := hex.DecodeString(pin + strings.Repeat("F", 14-len(pin)))
	if s != visaScripts {
		return append([]byte{0x20 | byte(len(pin))}, b...), nil
	}
	block := append([]byte{byte(len(pin))}, b...)
	for i := 4; i < 8; i++ {
		block[i] ^= iccAC[i]
	}
	return block, nil
}

// readPIN is pinBlock's inverse.
func (s scheme) readPIN(block, iccAC []byte) (string, error) {
	if len(block) != 8 {
		return "", errors.New("the PIN block is not 8 bytes")
	}
	b := append([]byte(nil), block...)
	n := int(b[0])
	if s == visaScripts {
		for i := 4; i < 8; i++ {
			b[i] ^= iccAC[i]
		}
	} else {
		if b[0]&0xF0 != 0x20 {
			return "", errors.New("the PIN block is not ISO format 2")
		}
		n = int(b[0] & 0x0F)
	}
	d := strings.ToUpper(hex.EncodeToString(b[1:]))
	if n < 4 || n > 12 || !digits(d[:n]) || strings.Trim(d[n:], "F") != "" {
		return "", errors.New("the PIN block does not decode")
	}
	return d[:n], nil
}

// The script commands, by name (EMV Book 3 6.5: APPLICATION BLOCK,
// APPLICATION UNBLOCK, PIN CHANGE/UNBLOCK, and PUT DATA with secure
// messaging).
var scriptCommands = []struct {
	name   string
	header [4]byte
}{
	{"application-block", [4]byte{0x84, 0x1E, 0x00, 0x00}},
	{"application-unblock", [4]byte{0x84, 0x18, 0x00, 0x00}},
	// P2 = 02: change the PIN without the current one, the new PIN
	// block enciphered under the SMC session key (Book 3 6.5.10: P2 00
	// unblocks, 01 changes with the current PIN, 02 changes without it).
	{"pin-change", [4]byte{0x84, 0x24, 0x00, 0x02}},
	// P2 = 00: reset the PIN try counter, no data.
	{"pin-unblock", [4]byte{0x84, 0x24, 0x00, 0x00}},
	// P1 P2 = the data object's tag; the value travels in the clear with
	// the command's MAC (integrity, not confidentiality: the objects an
	// issuer updates this way, limits and counters, are not secret).
	{"put-data", [4]byte{0x04, 0xDA, 0x00, 0x00}},
}

// ScriptCommands are the commands Script can send, by name.
func ScriptCommands() []string {
	names := make([]string, len(scriptCommands))
	for i, c := range scriptCommands {
		names[i] = c.name
	}
	return names
}

// commandName names a command by its header ("" when unknown).
func commandName(h []byte) string {
	for _, c := range scriptCommands {
		if h[0] == c.header[0] && h[1] == c.header[1] && (h[1] == 0xDA || h[2] == c.header[2] && h[3] == c.header[3]) {
			return c.name
		}
	}
	return ""
}

// scriptMACData is what a script command's MAC covers: the header with Lc,
// the ATC, the ARQC, then the command's data (EMV Book 2 9.2.3, format 2
// with the transaction data, as the vector's mac_input shows).
func scriptMACData(header []byte, lc byte, atc, arqc, data []byte) []byte {
	b := append(append([]byte(nil), header...), lc)
	b = append(append(b, atc...), arqc...)
	return append(b, data...)
}

// scriptMAC is the MAC of a script command (MAC algorithm 3, padding method 2).
func scriptMAC(key, data []byte) ([]byte, error) {
	return mac(key, data, pad2)
}

// verifyScriptMAC reports whether mac is the command's MAC.
func verifyScriptMAC(key, data, want []byte) bool {
	got, err := scriptMAC(key, data)
	return err == nil && len(want) == macLen && subtle.ConstantTimeCompare(got, want) == 1
}
