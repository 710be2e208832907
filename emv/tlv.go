package emv

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/moov-io/bertlv"
)

// Tags are BER-TLV data objects in the order they came, as field 55 carries
// them. A constructed tag (71, 72, 77...) holds its children in TLVs.
type Tags []bertlv.TLV

// maxDepth bounds how deeply constructed tags may nest; field 55 never nests
// more than two levels, and the bound keeps a hostile field from recursing.
const maxDepth = 8

// ParseTags reads BER-TLV bytes. The error says where the data stopped making
// sense and which tag it was reading, never a value: field 55 may carry card
// data.
func ParseTags(b []byte) (Tags, error) {
	// bertlv trusts lengths it reads (a long form of many bytes overflows and
	// slices out of range), so the bytes are checked here first, the same way
	// bertlv walks them.
	if err := checkTLV(b, 0, 0); err != nil {
		return nil, err
	}
	tlvs, err := bertlv.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("reading field 55: %w", err)
	}
	return Tags(tlvs), nil
}

// ParseTagsHex reads BER-TLV given as hex.
func ParseTagsHex(s string) (Tags, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("field 55 is not hex")
	}
	return ParseTags(b)
}

// checkTLV walks b as bertlv.Decode does and says what it would trip on.
func checkTLV(b []byte, base, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("field 55 at byte %d: templates nested more than %d deep", base, maxDepth)
	}
	for i := 0; i < len(b); {
		start := i
		if b[i] == 0x00 {
			// Padding between data objects, which bertlv skips.
			i++
			continue
		}
		n := 1
		if b[i]&0x1F == 0x1F {
			for n < len(b)-i && b[i+n]&0x80 != 0 {
				n++
			}
			if n == len(b)-i {
				return fmt.Errorf("field 55 at byte %d: tag is incomplete", base+start)
			}
			n++
			if n > 4 {
				return fmt.Errorf("field 55 at byte %d: tag is longer than 4 bytes", base+start)
			}
		}
		tag := strings.ToUpper(hex.EncodeToString(b[i : i+n]))
		constructed := b[i]&0x20 != 0
		i += n
		if i >= len(b) {
			return fmt.Errorf("field 55 at byte %d: tag %s has no length", base+start, tag)
		}
		length := int(b[i])
		i++
		if length > 0x80 {
			m := length & 0x7F
			if m > 3 {
				return fmt.Errorf("field 55 at byte %d: tag %s has a %d-byte length", base+start, tag, m)
			}
			if len(b)-i < m {
				return fmt.Errorf("field 55 at byte %d: tag %s's length is incomplete", base+start, tag)
			}
			length = 0
			for _, x := range b[i : i+m] {
				length = length<<8 | int(x)
			}
			i += m
		} else if length == 0x80 {
			length = 0 // bertlv reads the indefinite form as an empty value
		}
		if len(b)-i < length {
			return fmt.Errorf("field 55 at byte %d: tag %s says %d bytes, %d remain", base+start, tag, length, len(b)-i)
		}
		if constructed {
			if err := checkTLV(b[i:i+length], base+i, depth+1); err != nil {
				return err
			}
		}
		i += length
	}
	return nil
}

// Value is the first occurrence of tag, looking inside templates too.
func (t Tags) Value(tag string) ([]byte, bool) {
	tlv, ok := find(t, strings.ToUpper(tag))
	if !ok {
		return nil, false
	}
	return tlv.Value, true
}

func find(t []bertlv.TLV, tag string) (bertlv.TLV, bool) {
	for _, tlv := range t {
		if tlv.Tag == tag {
			return tlv, true
		}
		if len(tlv.TLVs) > 0 {
			if found, ok := find(tlv.TLVs, tag); ok {
				return found, true
			}
		}
	}
	return bertlv.TLV{}, false
}

// Hex is a tag's value in upper-case hex, "" when it is absent.
func (t Tags) Hex(tag string) string {
	v, ok := t.Value(tag)
	if !ok {
		return ""
	}
	return strings.ToUpper(hex.EncodeToString(v))
}

// Encode is the tags as BER-TLV bytes.
func (t Tags) Encode() ([]byte, error) {
	b, err := bertlv.Encode(t)
	if err != nil {
		return nil, fmt.Errorf("encoding field 55: %w", err)
	}
	return b, nil
}

// Set replaces the first top-level tag's value, or appends the tag.
func (t Tags) Set(tag string, v []byte) Tags {
	tag = strings.ToUpper(tag)
	for i := range t {
		if t[i].Tag == tag {
			t[i].Value, t[i].TLVs = v, nil
			return t
		}
	}
	return append(t, bertlv.NewTag(tag, v))
}

// String is the tags as a log may show them: tag=value, card data masked,
// templates in brackets.
func (t Tags) String() string {
	var sb strings.Builder
	write(&sb, t)
	return sb.String()
}

func write(sb *strings.Builder, t []bertlv.TLV) {
	for i, tlv := range t {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(tlv.Tag)
		if len(tlv.TLVs) > 0 {
			sb.WriteByte('[')
			write(sb, tlv.TLVs)
			sb.WriteByte(']')
			continue
		}
		sb.WriteByte('=')
		sb.WriteString(Masked(tlv.Tag, tlv.Value))
	}
}

// CardData reports the tags that carry card data and are masked wherever card
// data is: 5A, 57, 5F20, 9F1F, 9F20, 56 (and 9F6B, track 2 for Mastercard
// contactless).
func CardData(tag string) bool {
	switch strings.ToUpper(tag) {
	case "5A", "57", "5F20", "9F1F", "9F20", "56", "9F6B":
		return true
	}
	return false
}

// Masked is a tag's value as logs may show it: hex, card data masked (5A: first
// 6 and last 4 digits kept; the others all '*').
func Masked(tag string, v []byte) string {
	h := strings.ToUpper(hex.EncodeToString(v))
	if !CardData(tag) {
		return h
	}
	if strings.ToUpper(tag) == "5A" {
		pan := strings.TrimRight(h, "F")
		if len(pan) >= 10 && digits(pan) {
			return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
		}
	}
	return strings.Repeat("*", len(h))
}
