package dialect

import (
	"fmt"

	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/prefix"
	"github.com/moov-io/iso8583/specs"
)

// The library's BCD encoder and BCD length prefixers rebuild a lookup table on
// every call, which costs about three quarters of a cup unpack. These encode the
// same wire format with plain nibble arithmetic. The library also has no encoder
// for track data, where '=' travels as the nibble D.
//
// They are registered under their own names, so the spec files in fixtures/ say
// which one a field uses.
func init() {
	specs.EncodingsExtToInt["LBCDFast"] = bcdDigits{leftAligned: true}
	specs.EncodingsExtToInt["BCDFast"] = bcdDigits{leftAligned: false}
	specs.EncodingsExtToInt["LBCDTrack2"] = bcdDigits{leftAligned: true, track: true}
	specs.PrefixesExtToInt["BCDFast.LL"] = bcdLength{digits: 2}
	specs.PrefixesExtToInt["BCDFast.LLL"] = bcdLength{digits: 3}
}

var (
	_ encoding.Encoder = bcdDigits{}
	_ prefix.Prefixer  = bcdLength{}
)

// bcdDigits packs two digits a byte. An odd count is padded with a 0 nibble on
// the right (left-aligned, the cup default) or on the left. With track set, '='
// (or 'D') travels as the nibble D.
type bcdDigits struct {
	leftAligned bool
	track       bool
}

func (e bcdDigits) nibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case e.track && (c == '=' || c == 'D' || c == 'd'):
		return 0xD, true
	}
	return 0, false
}

func (e bcdDigits) Encode(src []byte) ([]byte, error) {
	dst := make([]byte, (len(src)+1)/2)
	shift := 0 // nibble index where src[0] lands
	if len(src)%2 == 1 && !e.leftAligned {
		shift = 1
	}
	for i, c := range src {
		n, ok := e.nibble(c)
		if !ok {
			return nil, fmt.Errorf("BCD encoding: character at position %d is not a digit", i)
		}
		j := i + shift
		if j%2 == 0 {
			dst[j/2] = n << 4
		} else {
			dst[j/2] |= n
		}
	}
	return dst, nil
}

func (e bcdDigits) Decode(src []byte, length int) ([]byte, int, error) {
	if length < 0 {
		return nil, 0, fmt.Errorf("BCD decoding: negative length %d", length)
	}
	read := (length + 1) / 2
	if len(src) < read {
		return nil, 0, fmt.Errorf("BCD decoding: need %d bytes, have %d", read, len(src))
	}
	skip := 0
	if length%2 == 1 && !e.leftAligned {
		skip = 1
	}
	dst := make([]byte, length)
	for i := range dst {
		j := i + skip
		b := src[j/2]
		n := b >> 4
		if j%2 == 1 {
			n = b & 0x0F
		}
		switch {
		case n <= 9:
			dst[i] = '0' + n
		case e.track && n == 0xD:
			dst[i] = '='
		default:
			// Not a digit: decoded as its hex letter, so that what follows
			// stays in step; Dialect.Decode turns it into a format error.
			dst[i] = 'A' + n - 0xA
		}
	}
	return dst, read, nil
}

// bcdLength is an LL or LLL length prefix in BCD: one byte for LL, two for LLL.
type bcdLength struct{ digits int }

func (p bcdLength) EncodeLength(maxLen, dataLen int) ([]byte, error) {
	if dataLen > maxLen {
		return nil, fmt.Errorf("field length %d is larger than maximum %d", dataLen, maxLen)
	}
	if p.digits == 2 {
		if dataLen > 99 {
			return nil, fmt.Errorf("field length %d does not fit 2 digits", dataLen)
		}
		return []byte{byte(dataLen/10<<4 | dataLen%10)}, nil
	}
	if dataLen > 999 {
		return nil, fmt.Errorf("field length %d does not fit 3 digits", dataLen)
	}
	return []byte{byte(dataLen / 100), byte(dataLen/10%10<<4 | dataLen%10)}, nil
}

func (p bcdLength) DecodeLength(maxLen int, data []byte) (int, int, error) {
	read := (p.digits + 1) / 2
	if len(data) < read {
		return 0, 0, fmt.Errorf("length prefix: need %d bytes, have %d", read, len(data))
	}
	// Right-aligned: an odd digit count has its pad nibble first.
	n := 0
	for i := read*2 - p.digits; i < read*2; i++ {
		nib := data[i/2] >> 4
		if i%2 == 1 {
			nib = data[i/2] & 0x0F
		}
		if nib > 9 {
			return 0, 0, fmt.Errorf("length prefix %X is not a number", data[:read])
		}
		n = n*10 + int(nib)
	}
	if n > maxLen {
		return 0, 0, fmt.Errorf("data length %d is larger than maximum %d", n, maxLen)
	}
	return n, read, nil
}

func (p bcdLength) Inspect() string {
	if p.digits == 2 {
		return "BCDFast.LL"
	}
	return "BCDFast.LLL"
}
