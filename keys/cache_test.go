package keys

import (
	"bytes"
	"testing"
)

// The cached key schedule gives the MAC a fresh one gives, for single and
// double length keys, and a full cache starts over rather than grow.
func TestMACCipherCache(t *testing.T) {
	c := cipherCache{max: 2}
	data := []byte("0200 some message to sign")
	for _, hexKey := range []string{"0123456789ABCDEF", "0123456789ABCDEFFEDCBA9876543210", "1111111111111111", "0123456789ABCDEF"} {
		key, err := Parse(hexKey)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := Cipher(key)
		if err != nil {
			t.Fatal(err)
		}
		cached, err := c.get(key)
		if err != nil {
			t.Fatal(err)
		}
		var a, b [8]byte
		fresh.Encrypt(a[:], data[:8])
		cached.Encrypt(b[:], data[:8])
		if a != b {
			t.Errorf("key %s: the cached schedule encrypts to %X, a fresh one to %X", hexKey, b, a)
		}
		if len(c.m) > c.max {
			t.Errorf("the cache holds %d keys, max %d", len(c.m), c.max)
		}
	}
	if _, err := c.get([]byte{1, 2, 3}); err == nil {
		t.Error("a 3-byte key was accepted")
	}
	m1, _ := MAC(bytes.Repeat([]byte{0x11}, 16), data)
	m2, _ := MAC(bytes.Repeat([]byte{0x11}, 16), data)
	if !bytes.Equal(m1, m2) || len(m1) != 8 {
		t.Errorf("MAC twice with one key: %X, %X", m1, m2)
	}
}

func BenchmarkMAC(b *testing.B) {
	key := bytes.Repeat([]byte{0x23}, 16)
	data := bytes.Repeat([]byte("0200 message"), 10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MAC(key, data); err != nil {
			b.Fatal(err)
		}
	}
}
