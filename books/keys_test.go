package books_test

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/acqsim/acqsim/books"
	"github.com/acqsim/acqsim/keys"
	"github.com/acqsim/acqsim/txn"
)

// Known answers: each key encrypting 8 zero bytes. The DES one is the
// published check value of the classic test key; all four were computed
// independently with `openssl enc -des-ecb / -des-ede-ecb / -des-ede3-ecb`
// and with Python's cryptography package.
var knownAnswers = []struct {
	name string
	key  string
	zero string // E(key, 00..00)
}{
	{"single DES", "0123456789ABCDEF", "D5D44FF720683D0D"},
	{"double-length 3DES", "0123456789ABCDEFFEDCBA9876543210", "08D7B4FB629D0885"},
	{"triple-length 3DES", "0123456789ABCDEFFEDCBA987654321089ABCDEF01234567", "3FD539E3ABEB8B5B"},
	// K1 = K2 = K3 degenerates to single DES.
	{"3DES with equal parts", strings.Repeat("0123456789ABCDEF", 3), "D5D44FF720683D0D"},
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func TestCheckValueKnownAnswers(t *testing.T) {
	for _, ka := range knownAnswers {
		t.Run(ka.name, func(t *testing.T) {
			key, err := keys.Parse(ka.key)
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			cv, err := keys.CheckValue(key)
			if err != nil {
				t.Fatalf("CheckValue: %v", err)
			}
			if want := mustHex(t, ka.zero)[:4]; !bytes.Equal(cv, want) {
				t.Errorf("CheckValue = %X, want %X", cv, want)
			}
		})
	}
}

// DecryptKey inverts the same known answers: decrypting E(key, 0) gives zeros.
func TestDecryptKeyKnownAnswers(t *testing.T) {
	for _, ka := range knownAnswers {
		t.Run(ka.name, func(t *testing.T) {
			key := mustHex(t, ka.key)
			enc := mustHex(t, ka.zero)
			got, err := keys.Decrypt(key, append(append([]byte{}, enc...), enc...))
			if err != nil {
				t.Fatalf("DecryptKey: %v", err)
			}
			if want := make([]byte, 16); !bytes.Equal(got, want) {
				t.Errorf("DecryptKey(%s, %s twice) = %X, want zeros", ka.key, ka.zero, got)
			}
		})
	}
}

func TestCheckValueBadKey(t *testing.T) {
	for _, n := range []int{0, 7, 9, 15, 32} {
		if cv, err := keys.CheckValue(make([]byte, n)); err == nil {
			t.Errorf("CheckValue(%d-byte key) = %X, nil; want an error", n, cv)
		}
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		in      string
		wantLen int // 0: want an error
	}{
		{"0123456789ABCDEF", 8},
		{"0123456789abcdef", 8},
		{keys.TestMasterKey, 16},
		{"0123456789ABCDEFFEDCBA987654321089ABCDEF01234567", 24},
		{"", 0},
		{"0123456789ABCDE", 0},    // odd number of digits
		{"0123456789ABCDEG", 0},   // not hex
		{"0123456789ABCD", 0},     // 7 bytes
		{"0123456789ABCDEF00", 0}, // 9 bytes
		{strings.Repeat("00", 32), 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			k, err := keys.Parse(tt.in)
			if tt.wantLen == 0 {
				if err == nil {
					t.Fatalf("ParseKey(%q) = %X, nil; want an error", tt.in, k)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", tt.in, err)
			}
			if want := mustHex(t, tt.in); len(k) != tt.wantLen || !bytes.Equal(k, want) {
				t.Errorf("ParseKey(%q) = %X, want %X", tt.in, k, want)
			}
		})
	}
}

func TestNewRejectsBadMasterKey(t *testing.T) {
	for _, n := range []int{1, 7, 10, 32} {
		if _, err := books.New(books.Config{MasterKey: make([]byte, n)}); err == nil {
			t.Errorf("New with a %d-byte master key: want an error", n)
		}
	}
}

// referenceCipher is DES or 3DES built here from crypto/des, not by the
// package under test: K1 K2 K1 for a double-length key.
func referenceCipher(t *testing.T, key []byte) cipher.Block {
	t.Helper()
	var (
		b   cipher.Block
		err error
	)
	switch len(key) {
	case 8:
		b, err = des.NewCipher(key)
	case 16:
		b, err = des.NewTripleDESCipher(append(append([]byte{}, key...), key[:8]...))
	default:
		b, err = des.NewTripleDESCipher(key)
	}
	if err != nil {
		t.Fatalf("reference cipher: %v", err)
	}
	return b
}

var signOnTime = time.Date(2026, 6, 11, 9, 0, 0, 0, time.UTC)

func signOn(code string) *txn.Request {
	return &txn.Request{
		Type: txn.SignOn, MTI: "0800", KeyVariant: code,
		MID: "898310048990001", TID: "10000001",
	}
}

func TestSignOnWorkingKeys(t *testing.T) {
	masters := []struct {
		name string
		key  []byte // nil: the default
	}{
		{"default master key", nil},
		{"single-length master key", mustHex(t, "0123456789ABCDEF")},
		{"triple-length master key", mustHex(t, "0123456789ABCDEFFEDCBA987654321089ABCDEF01234567")},
	}
	codes := []struct {
		code   string
		f62Len int
		keyLen int
		keys   int
	}{
		{"001", 24, 8, 2},
		{"003", 40, 16, 2},
		{"004", 60, 16, 3},
	}
	for _, m := range masters {
		master := m.key
		if master == nil {
			master = mustHex(t, keys.TestMasterKey)
		}
		ref := referenceCipher(t, master)
		for _, c := range codes {
			t.Run(m.name+"/"+c.code, func(t *testing.T) {
				h, err := books.New(books.Config{MasterKey: m.key, Seed: 1})
				if err != nil {
					t.Fatal(err)
				}
				d := h.Decide(signOn(c.code), signOnTime)
				if d.RC != txn.Approved {
					t.Fatalf("RC = %q (%s), want 00", d.RC, d.Note)
				}
				if len(d.Keys) != c.f62Len {
					t.Fatalf("F62 is %d bytes, want %d", len(d.Keys), c.f62Len)
				}
				var clear [][]byte
				for i := 0; i < c.keys; i++ {
					seg := d.Keys[i*(c.keyLen+4) : (i+1)*(c.keyLen+4)]
					enc, cv := seg[:c.keyLen], seg[c.keyLen:]
					key, err := keys.Decrypt(master, enc)
					if err != nil {
						t.Fatalf("key %d: DecryptKey: %v", i, err)
					}
					if len(key) != c.keyLen {
						t.Fatalf("key %d decrypts to %d bytes, want %d", i, len(key), c.keyLen)
					}
					got, err := keys.CheckValue(key)
					if err != nil {
						t.Fatalf("key %d: CheckValue: %v", i, err)
					}
					if !bytes.Equal(got, cv) {
						t.Errorf("key %d: check value of the decrypted key is %X, F62 carries %X", i, got, cv)
					}
					// The key is encrypted under the master key with standard
					// (3)DES ECB, as a terminal would decrypt it.
					for j := 0; j < len(key); j += 8 {
						want := make([]byte, 8)
						ref.Encrypt(want, key[j:j+8])
						if !bytes.Equal(enc[j:j+8], want) {
							t.Errorf("key %d block %d: F62 carries %X, (3)DES of the clear key is %X", i, j/8, enc[j:j+8], want)
						}
					}
					if bytes.Equal(key, enc) {
						t.Errorf("key %d is sent in clear", i)
					}
					clear = append(clear, key)
				}
				for i := range clear {
					for j := i + 1; j < len(clear); j++ {
						if bytes.Equal(clear[i], clear[j]) {
							t.Errorf("working keys %d and %d are the same: %X", i, j, clear[i])
						}
					}
				}
			})
		}
	}
}

func TestSignOnWithoutKeys(t *testing.T) {
	for _, code := range []string{"", "002", "005", "301", "01"} {
		t.Run(code, func(t *testing.T) {
			h, err := books.New(books.Config{})
			if err != nil {
				t.Fatal(err)
			}
			d := h.Decide(signOn(code), signOnTime)
			if d.RC != txn.Approved {
				t.Errorf("RC = %q (%s), want 00", d.RC, d.Note)
			}
			if len(d.Keys) != 0 {
				t.Errorf("sign-on with 60.3 %q gave %d bytes of keys, want none", code, len(d.Keys))
			}
		})
	}
}

func TestSignOnKeysFollowTheSeed(t *testing.T) {
	keysOf := func(seed uint64, signOns int) [][]byte {
		t.Helper()
		h, err := books.New(books.Config{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for i := 0; i < signOns; i++ {
			d := h.Decide(signOn("004"), signOnTime)
			if len(d.Keys) != 60 {
				t.Fatalf("sign-on %d: %d bytes of keys, want 60", i, len(d.Keys))
			}
			out = append(out, d.Keys)
		}
		return out
	}
	a, b, c := keysOf(7, 2), keysOf(7, 2), keysOf(8, 2)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Errorf("sign-on %d: seed 7 gave %X, then %X", i, a[i], b[i])
		}
		if bytes.Equal(a[i], c[i]) {
			t.Errorf("sign-on %d: seeds 7 and 8 gave the same keys %X", i, a[i])
		}
	}
	if bytes.Equal(a[0], a[1]) {
		t.Errorf("two sign-ons gave the same keys %X", a[0])
	}
}

func TestSignOnBatch(t *testing.T) {
	tests := []struct {
		name    string
		batches []string // 60.2 of successive sign-ons
		want    []string
	}{
		{"none given", []string{""}, []string{"000001"}},
		{"zero", []string{"000000"}, []string{"000001"}},
		{"the terminal's", []string{"000123"}, []string{"000123"}},
		{"not six digits", []string{"123"}, []string{"000001"}},
		{"kept on the next sign-on", []string{"000123", "000456"}, []string{"000123", "000123"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := books.New(books.Config{})
			if err != nil {
				t.Fatal(err)
			}
			for i, b := range tt.batches {
				r := signOn("001")
				r.Batch = b
				if d := h.Decide(r, signOnTime); d.Batch != tt.want[i] {
					t.Errorf("sign-on %d with 60.2 %q: batch %q, want %q", i, b, d.Batch, tt.want[i])
				}
			}
		})
	}
}
