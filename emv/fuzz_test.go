package emv

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// ParseTags never panics, and what it parses encodes to bytes that parse to
// the same tags.
func FuzzParseTags(f *testing.F) {
	for _, c := range loadVectors(f) {
		b, _ := hex.DecodeString(c.F55Request)
		f.Add(b)
		for _, r := range c.Responses {
			b, _ := hex.DecodeString(r.F55Response)
			f.Add(b)
		}
		if c.Script != nil {
			b, _ := hex.DecodeString(c.Script.Tag72)
			f.Add(b)
		}
	}
	f.Add([]byte{0x9F, 0x26, 0x89, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0x72, 0x84, 0x7F, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		tags, err := ParseTags(b)
		if err != nil {
			return
		}
		_ = tags.String()
		enc, err := tags.Encode()
		if err != nil {
			return
		}
		again, err := ParseTags(enc)
		if err != nil {
			t.Fatalf("re-encoded tags do not parse: %v", err)
		}
		enc2, _ := again.Encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable")
		}
	})
}

// The lengths bertlv would trip on are errors, not panics.
func TestParseTagsMalformed(t *testing.T) {
	for _, h := range []string{
		"9F",                       // incomplete tag
		"9F26",                     // no length
		"9F2689FFFFFFFFFFFFFFFFFF", // a 9-byte length
		"9F2608AABB",               // shorter than it says
		"7205860399",               // a template whose child overruns
		"9F2683",                   // an incomplete long length
	} {
		if _, err := ParseTagsHex(h); err == nil {
			t.Errorf("%s parsed", h)
		}
	}
	tags, err := ParseTagsHex("5A0862123456789012349F360200015F200B4341524420484F4C444552")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tags.String(), "5A=621234******1234 9F36=0001 5F20=**********************"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	if tags.Hex("9f36") != "0001" || tags.Hex("9F26") != "" {
		t.Errorf("Hex: %q %q", tags.Hex("9f36"), tags.Hex("9F26"))
	}
	nested, _ := ParseTagsHex("72169F180400000001860D841E00000420F5C38180E23567")
	if nested.Hex("9F18") != "00000001" {
		t.Errorf("Value does not look inside templates")
	}
}
