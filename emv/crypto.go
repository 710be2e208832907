package emv

import (
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// The cryptography of EMV Book 2 annex A1, on double-length 3DES keys. Each
// function was checked against pyemv (kd.py, ac.py, mac.py, sm.py) through the
// vectors in testdata/emv.json.

// tdes is 3DES under a double-length key (K1 K2 K1).
func tdes(key []byte) (cipher.Block, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("key is %d bytes, want 16", len(key))
	}
	return des.NewTripleDESCipher(append(append(make([]byte, 0, 24), key...), key[:8]...))
}

// crypt runs one of the block operations below over whole 8-byte blocks
// under a double-length key.
func crypt(key, data []byte, run func(c cipher.Block, dst, src []byte)) ([]byte, error) {
	c, err := tdes(key)
	if err != nil {
		return nil, err
	}
	if len(data)%8 != 0 || len(data) == 0 {
		return nil, errors.New("data is not whole blocks")
	}
	out := make([]byte, len(data))
	run(c, out, data)
	return out, nil
}

// encryptECB enciphers whole 8-byte blocks under a double-length key.
func encryptECB(key, data []byte) ([]byte, error) {
	return crypt(key, data, func(c cipher.Block, dst, src []byte) {
		for i := 0; i < len(src); i += 8 {
			c.Encrypt(dst[i:i+8], src[i:i+8])
		}
	})
}

// decryptECB deciphers whole 8-byte blocks under a double-length key.
func decryptECB(key, data []byte) ([]byte, error) {
	return crypt(key, data, func(c cipher.Block, dst, src []byte) {
		for i := 0; i < len(src); i += 8 {
			c.Decrypt(dst[i:i+8], src[i:i+8])
		}
	})
}

// encryptCBC enciphers whole blocks in CBC mode with a zero IV.
func encryptCBC(key, data []byte) ([]byte, error) {
	return crypt(key, data, func(c cipher.Block, dst, src []byte) {
		cipher.NewCBCEncrypter(c, make([]byte, 8)).CryptBlocks(dst, src)
	})
}

// decryptCBC is encryptCBC's inverse.
func decryptCBC(key, data []byte) ([]byte, error) {
	return crypt(key, data, func(c cipher.Block, dst, src []byte) {
		cipher.NewCBCDecrypter(c, make([]byte, 8)).CryptBlocks(dst, src)
	})
}

// Padding is one of ISO/IEC 9797-1's padding methods.
type padding int

const (
	// pad1 adds zeros up to a whole block (none when the data is whole
	// blocks already, one block of zeros when it is empty).
	pad1 padding = 1
	// pad2 adds 0x80, then zeros up to a whole block.
	pad2 padding = 2
)

func (p padding) apply(data []byte) []byte {
	out := append([]byte(nil), data...)
	if p == pad2 {
		out = append(out, 0x80)
	}
	for len(out)%8 != 0 || len(out) == 0 {
		out = append(out, 0)
	}
	return out
}

// mac is ISO/IEC 9797-1 MAC algorithm 3 (the "retail MAC"): single DES CBC
// under K1 over every block, then the last result deciphered under K2 and
// enciphered under K1 again.
func mac(key, data []byte, p padding) ([]byte, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("key is %d bytes, want 16", len(key))
	}
	k1, err := des.NewCipher(key[:8])
	if err != nil {
		return nil, err
	}
	k2, err := des.NewCipher(key[8:])
	if err != nil {
		return nil, err
	}
	data = p.apply(data)
	var h [8]byte
	for i := 0; i < len(data); i += 8 {
		for j := range h {
			h[j] ^= data[i+j]
		}
		k1.Encrypt(h[:], h[:])
	}
	k2.Decrypt(h[:], h[:])
	k1.Encrypt(h[:], h[:])
	return h[:], nil
}

// adjustParity sets each byte's low bit so that the byte has odd parity, as
// DES keys have.
func adjustParity(k []byte) []byte {
	for i, b := range k {
		ones := 0
		for v := b >> 1; v != 0; v >>= 1 {
			ones += int(v & 1)
		}
		k[i] = b&0xFE | byte(1-ones%2)
	}
	return k
}

// ICCMasterKey derives a card's master key from an issuer master key by EMV
// Book 2 A1.4.1, option A: Y is the rightmost 16 digits of PAN || PSN (zeros
// on the left when shorter), the key is 3DES(IMK)[Y] || 3DES(IMK)[Y xor FF..FF]
// with its parity adjusted. (Option B, which hashes a PAN longer than 16
// digits, gives the same key for PANs of 16 digits or fewer.) The error never
// names the PAN.
func ICCMasterKey(imk []byte, pan, psn string) ([]byte, error) {
	if psn == "" {
		psn = "00"
	}
	if !digits(pan) || len(pan) < 12 || len(pan) > 19 {
		return nil, errors.New("the PAN is not 12 to 19 digits")
	}
	if !digits(psn) || len(psn) != 2 {
		return nil, errors.New("the PAN sequence number is not 2 digits")
	}
	y := pan + psn
	if len(y) > 16 {
		y = y[len(y)-16:]
	}
	y = strings.Repeat("0", 16-len(y)) + y
	a, _ := hex.DecodeString(y)
	data := make([]byte, 16)
	copy(data, a)
	for i := range 8 {
		data[8+i] = a[i] ^ 0xFF
	}
	k, err := encryptECB(imk, data)
	if err != nil {
		return nil, fmt.Errorf("issuer master key: %w", err)
	}
	return adjustParity(k), nil
}

// commonSessionKey is EMV Book 2 A1.3.1, the common session key derivation:
// the left half is 3DES(MK)[R with byte 2 = F0], the right half 3DES(MK)[R with
// byte 2 = 0F], parity adjusted. R is ATC || 00..00 for AC keys, the ARQC for
// the script keys, ATC || 00 00 || UN for Mastercard's AC key.
func commonSessionKey(mk, r []byte) ([]byte, error) {
	if len(r) != 8 {
		return nil, errors.New("the diversification value is not 8 bytes")
	}
	data := make([]byte, 16)
	copy(data, r)
	copy(data[8:], r)
	data[2], data[10] = 0xF0, 0x0F
	k, err := encryptECB(mk, data)
	if err != nil {
		return nil, err
	}
	return adjustParity(k), nil
}

// visaScriptKey is Visa's secure messaging session key (pyemv
// derive_visa_sm_sk): the left half of the master key xor 00..00 || ATC, the
// right half xor 00..00 || ATC xor FFFF, parity adjusted.
func visaScriptKey(mk, atc []byte) ([]byte, error) {
	if len(mk) != 16 || len(atc) != 2 {
		return nil, errors.New("visa script key: bad key or ATC")
	}
	k := append([]byte(nil), mk...)
	k[6] ^= atc[0]
	k[7] ^= atc[1]
	k[14] ^= atc[0] ^ 0xFF
	k[15] ^= atc[1] ^ 0xFF
	return adjustParity(k), nil
}

// arpc1 is ARPC method 1 (Book 2 8.2.1): 3DES(SK)[ARQC xor (ARC || 00..00)].
func arpc1(key, arqc, arc []byte) ([]byte, error) {
	if len(arqc) != 8 || len(arc) != 2 {
		return nil, errors.New("arpc method 1: bad ARQC or ARC")
	}
	x := append([]byte(nil), arqc...)
	x[0] ^= arc[0]
	x[1] ^= arc[1]
	return encryptECB(key, x)
}

// arpc2 is ARPC method 2 (Book 2 8.2.2): the first 4 bytes of MAC algorithm 3
// with padding method 2 over ARQC || CSU || proprietary authentication data.
func arpc2(key, arqc, csu, prop []byte) ([]byte, error) {
	if len(arqc) != 8 || len(csu) != 4 || len(prop) > 8 {
		return nil, errors.New("arpc method 2: bad ARQC, CSU or proprietary data")
	}
	m, err := mac(key, append(append(append([]byte(nil), arqc...), csu...), prop...), pad2)
	if err != nil {
		return nil, err
	}
	return m[:4], nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
