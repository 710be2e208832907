// Package keys holds the DES arithmetic terminals and hosts share: keys
// encrypted under a master key, check values, and the UnionPay ECB MAC.
package keys

import (
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"fmt"
	"sync"
)

// Parse reads a DES key in hex: 8 bytes (single DES), 16 or 24 bytes (3DES).
func Parse(s string) ([]byte, error) {
	k, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("key is not hex")
	}
	switch len(k) {
	case 8, 16, 24:
		return k, nil
	}
	return nil, fmt.Errorf("key is %d bytes, want 8, 16 or 24", len(k))
}

// Cipher returns DES for an 8-byte key and 3DES otherwise (K1 K2 K1 for a
// double-length key).
func Cipher(key []byte) (cipher.Block, error) {
	switch len(key) {
	case 8:
		return des.NewCipher(key)
	case 16:
		return des.NewTripleDESCipher(append(append([]byte{}, key...), key[:8]...))
	case 24:
		return des.NewTripleDESCipher(key)
	}
	return nil, fmt.Errorf("key is %d bytes, want 8, 16 or 24", len(key))
}

// Encrypt encrypts whole 8-byte blocks of src in ECB mode.
func Encrypt(key, src []byte) ([]byte, error) {
	b, err := Cipher(key)
	if err != nil {
		return nil, err
	}
	dst := make([]byte, len(src))
	for i := 0; i+8 <= len(src); i += 8 {
		b.Encrypt(dst[i:i+8], src[i:i+8])
	}
	return dst, nil
}

// Decrypt decrypts whole 8-byte blocks of src in ECB mode.
func Decrypt(key, src []byte) ([]byte, error) {
	b, err := Cipher(key)
	if err != nil {
		return nil, err
	}
	dst := make([]byte, len(src))
	for i := 0; i+8 <= len(src); i += 8 {
		b.Decrypt(dst[i:i+8], src[i:i+8])
	}
	return dst, nil
}

// CheckValue is the first 4 bytes of the key encrypting 8 zero bytes: how a
// terminal tells that it decrypted a working key correctly.
func CheckValue(key []byte) ([]byte, error) {
	cv, err := Encrypt(key, make([]byte, 8))
	if err != nil {
		return nil, err
	}
	return cv[:4], nil
}

// MAC computes the UnionPay "ECB" MAC of data (a message from its MTI to the
// last field before F64): XOR every 8-byte block (the last one zero-padded),
// expand the result to 16 hex characters, encrypt the first 8 with the MAC
// key, XOR with the last 8, encrypt again, and keep the first 8 hex characters
// of the result. Those 8 ASCII characters are F64.
func MAC(key, data []byte) ([]byte, error) {
	b, err := macCiphers.get(key)
	if err != nil {
		return nil, err
	}
	var x [8]byte
	for i, c := range data {
		x[i%8] ^= c
	}
	var h [16]byte
	hex.Encode(h[:], x[:])
	upper(h[:])
	var e [8]byte
	b.Encrypt(e[:], h[:8])
	for i := range e {
		e[i] ^= h[8+i]
	}
	b.Encrypt(e[:], e[:])
	hex.Encode(h[:], e[:])
	upper(h[:])
	return append([]byte(nil), h[:8]...), nil
}

func upper(b []byte) {
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
}

// TestMasterKey is the terminal master key hosts and terminals use when none
// is configured: a well-known test key, never a production one.
const TestMasterKey = "0123456789ABCDEFFEDCBA9876543210"

// WorkingKeyLength is the length in bytes of each working key a cup sign-on
// hands out, per network management code (60.3): 001 single-length PIN and MAC
// keys (24 bytes of F62 with their check values), 003 double-length (40), 004
// double-length with a track key (60). The bool says whether a track key comes too.
var WorkingKeyLength = map[string]struct {
	Bytes int
	Track bool
}{
	"001": {8, false},
	"003": {16, false},
	"004": {16, true},
}

// SplitWorkingKeys decrypts F62 of a sign-on response under the master key and
// checks each key against its check value, as a terminal does. It returns
// the PIN, MAC and (when present) track keys.
func SplitWorkingKeys(master, f62 []byte, code string) (pin, mac, track []byte, err error) {
	layout, ok := WorkingKeyLength[code]
	if !ok {
		return nil, nil, nil, fmt.Errorf("unknown key variant %q", code)
	}
	n := 2
	if layout.Track {
		n = 3
	}
	step := layout.Bytes + 4
	if len(f62) != n*step {
		return nil, nil, nil, fmt.Errorf("working keys are %d bytes, want %d", len(f62), n*step)
	}
	var out [3][]byte
	for i := 0; i < n; i++ {
		part := f62[i*step : (i+1)*step]
		k, err := Decrypt(master, part[:layout.Bytes])
		if err != nil {
			return nil, nil, nil, err
		}
		cv, err := CheckValue(k)
		if err != nil {
			return nil, nil, nil, err
		}
		if string(cv) != string(part[layout.Bytes:]) {
			return nil, nil, nil, fmt.Errorf("working key %d: check value %X does not match %X", i+1, cv, part[layout.Bytes:])
		}
		out[i] = k
	}
	return out[0], out[1], out[2], nil
}

// macCiphers keeps the key schedule of the MAC keys in use: building one
// costs more than the MAC itself (3DES: ~4 µs), and a terminal MACs every
// financial message with the key it got at sign-on.
var macCiphers = cipherCache{max: 16384}

type cipherCache struct {
	mu  sync.RWMutex
	m   map[string]cipher.Block
	max int // forgets them all beyond this many keys: new sign-ons rebuild theirs
}

func (c *cipherCache) get(key []byte) (cipher.Block, error) {
	c.mu.RLock()
	b, ok := c.m[string(key)]
	c.mu.RUnlock()
	if ok {
		return b, nil
	}
	b, err := Cipher(key)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = map[string]cipher.Block{}
	}
	c.m[string(key)] = b
	c.mu.Unlock()
	return b, nil
}
