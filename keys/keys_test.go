package keys

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestCheckValueKnownAnswer(t *testing.T) {
	// FIPS 81 / widely published: DES key 0123456789ABCDEF encrypting 8 zero
	// bytes gives D5D44FF720683D0D.
	k, _ := hex.DecodeString("0123456789ABCDEF")
	cv, err := CheckValue(k)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(cv); got != "d5d44ff7" {
		t.Fatalf("check value %s, want d5d44ff7", got)
	}
	// A double-length key with equal halves is single DES.
	cv2, _ := CheckValue(append(k, k...))
	if !bytes.Equal(cv, cv2) {
		t.Fatalf("K1K1 check value %X differs from single DES %X", cv2, cv)
	}
}

func TestEncryptDecrypt(t *testing.T) {
	master, _ := Parse("0123456789ABCDEFFEDCBA9876543210")
	plain := []byte("16 bytes of key!")
	enc, err := Encrypt(master, plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(enc, plain) {
		t.Fatal("encryption changed nothing")
	}
	dec, _ := Decrypt(master, enc)
	if !bytes.Equal(dec, plain) {
		t.Fatalf("decrypt(encrypt(x)) = %q", dec)
	}
}

func TestMAC(t *testing.T) {
	key, _ := Parse("0123456789ABCDEF")
	data := []byte("0200 a message of some length, not a multiple of 8")
	mac, err := MAC(key, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(mac) != 8 {
		t.Fatalf("MAC is %d bytes, want 8", len(mac))
	}
	for _, c := range mac {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			t.Fatalf("MAC %q is not upper-case hex", mac)
		}
	}
	// Worked independently with openssl (des-ecb): XOR of the blocks
	// 6D2A074707001A0A, E("6D2A0747") = F26CD12B14732362, XOR "07001A0A",
	// encrypted again = 391BEF39153E99E8.
	if string(mac) != "391BEF39" {
		t.Fatalf("MAC %s, want 391BEF39", mac)
	}
	changed := append([]byte{}, data...)
	changed[3] ^= 1
	if other, _ := MAC(key, changed); bytes.Equal(other, mac) {
		t.Fatal("a changed message has the same MAC")
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"", "zz", "0123", "0123456789ABCDEF01"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}
