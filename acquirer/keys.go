package acquirer

import (
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
)

// DefaultMasterKey is the terminal master key used when none is configured: a
// well-known test key, never a production one.
const DefaultMasterKey = "0123456789ABCDEFFEDCBA9876543210"

// ParseKey reads a DES key in hex: 8 bytes (single DES), 16 or 24 bytes (3DES).
func ParseKey(s string) ([]byte, error) {
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

// blockCipher returns DES for an 8-byte key and 3DES (K1 K2 K1 for a
// double-length key) otherwise.
func blockCipher(key []byte) (cipher.Block, error) {
	switch len(key) {
	case 8:
		return des.NewCipher(key)
	case 16:
		return des.NewTripleDESCipher(append(append([]byte{}, key...), key[:8]...))
	default:
		return des.NewTripleDESCipher(key)
	}
}

// ecbEncrypt encrypts whole 8-byte blocks with key.
func ecbEncrypt(key, src []byte) ([]byte, error) {
	b, err := blockCipher(key)
	if err != nil {
		return nil, err
	}
	dst := make([]byte, len(src))
	for i := 0; i+8 <= len(src); i += 8 {
		b.Encrypt(dst[i:i+8], src[i:i+8])
	}
	return dst, nil
}

// CheckValue is the first 4 bytes of the key encrypting 8 zero bytes: how a
// terminal tells that it decrypted a working key correctly.
func CheckValue(key []byte) ([]byte, error) {
	cv, err := ecbEncrypt(key, make([]byte, 8))
	if err != nil {
		return nil, err
	}
	return cv[:4], nil
}

// WorkingKeys are the keys a cup sign-on hands out, in clear.
type WorkingKeys struct {
	PIN, MAC, Track []byte
}

// keyLayout says, per cup sign-on network management code (60.3), how long
// each working key is and whether a track key is sent: 001 single-length PIN
// and MAC keys (24 bytes of F62), 003 double-length (40), 004 double-length
// with a track key (60).
var keyLayout = map[string]struct {
	length int
	track  bool
}{
	"001": {8, false},
	"003": {16, false},
	"004": {16, true},
}

// newWorkingKeys draws fresh keys for a sign-on of the given 60.3 code, and
// returns them with F62: each key encrypted under the master key, followed by
// its check value.
func newWorkingKeys(rng *rand.Rand, master []byte, code string) (WorkingKeys, []byte, error) {
	layout, ok := keyLayout[code]
	if !ok {
		return WorkingKeys{}, nil, nil
	}
	draw := func() []byte {
		k := make([]byte, layout.length)
		for i := range k {
			k[i] = byte(rng.UintN(256))
		}
		return k
	}
	keys := WorkingKeys{PIN: draw(), MAC: draw()}
	if layout.track {
		keys.Track = draw()
	}
	var f62 []byte
	for _, k := range [][]byte{keys.PIN, keys.MAC, keys.Track} {
		if k == nil {
			continue
		}
		enc, err := ecbEncrypt(master, k)
		if err != nil {
			return WorkingKeys{}, nil, fmt.Errorf("encrypting a working key: %w", err)
		}
		cv, err := CheckValue(k)
		if err != nil {
			return WorkingKeys{}, nil, err
		}
		f62 = append(append(f62, enc...), cv...)
	}
	return keys, f62, nil
}

// DecryptKey decrypts a working key sent under the master key; a terminal does
// this on sign-on.
func DecryptKey(master, enc []byte) ([]byte, error) {
	b, err := blockCipher(master)
	if err != nil {
		return nil, err
	}
	dst := make([]byte, len(enc))
	for i := 0; i+8 <= len(enc); i += 8 {
		b.Decrypt(dst[i:i+8], enc[i:i+8])
	}
	return dst, nil
}
