package emv

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// Method names how a card computes its cryptograms: the session key, the data
// and padding of the ARQC, the ARPC method and the script keys.
type Method string

// The methods acqsim's cards and host know.
const (
	CommonCore      Method = "emv-csk"
	VisaCVN10       Method = "visa-cvn10"
	VisaCVN18       Method = "visa-cvn18"
	MastercardCVN16 Method = "mc-cvn16"
)

// Keys are an issuer's master keys (double-length 3DES): AC for the
// cryptograms, SMI and SMC for the scripts' integrity and confidentiality.
type Keys struct{ AC, SMI, SMC []byte }

// method is what a Method does. Every case of testdata/emv.json fixes its
// method's choices byte for byte; where a choice has no vector (the Visa
// script keys, PIN encipherment) it follows pyemv's cvn.py, the implementation
// that made the vectors.
type method struct {
	// sessionKey is the AC session key from the ICC master key.
	sessionKey func(mk, atc, un []byte) ([]byte, error)
	// padding is the ARQC's ISO/IEC 9797-1 padding method.
	padding padding
	// cvr is the part of the IAD the ARQC covers after the ten tags: a
	// slice [from:to], or the whole IAD when to is 0.
	cvrFrom, cvrTo int
	// arpc is the ARPC method, 1 or 2; arpcMaster says method 1 enciphers
	// under the ICC master key rather than the AC session key.
	arpc       int
	arpcMaster bool
	// scripts is how the issuer's scripts are keyed and enciphered.
	scripts scheme
	// iad is the card's issuer application data at the first GENERATE
	// AC (the vectors' 9F10), and acType the index of the CVR byte whose
	// top two bits say which AC the second GENERATE AC returned (00 AAC,
	// 01 TC, 10 none yet).
	iad    string
	acType int
}

// The methods, each as its vector case fixed it (how it was found is in the
// comment).
var methods = map[Method]method{
	// EMV common core (CCD; the UnionPay cases 1 and 2): the common
	// session key from ATC || 00..00, padding method 2 (80 00..), the ten
	// tags + the CVR in IAD bytes [3:7] (the vectors' arqc_data), ARPC
	// method 1 under the session key. IAD 07 01 01 CVR(03A00000) 01 0A01
	// 0000000000.
	CommonCore: {
		sessionKey: atcSessionKey,
		padding:    pad2,
		cvrFrom:    3,
		cvrTo:      7,
		arpc:       1,
		scripts:    emvScripts,
		iad:        "07010103A00000010A010000000000",
		acType:     4,
	},
	// Visa CVN 10: no session key (the UDK, the ICC master key, signs;
	// the vector's session_key_ac equals its icc_mk_ac), padding method 1
	// (zeros), the ten tags + the CVR in IAD bytes [3:7] (IAD 06 01 0A
	// CVR), ARPC method 1 under the UDK.
	VisaCVN10: {
		sessionKey: func(mk, _, _ []byte) ([]byte, error) { return mk, nil },
		padding:    pad1,
		cvrFrom:    3,
		cvrTo:      7,
		arpc:       1,
		scripts:    visaScripts,
		iad:        "06010A03A00000",
		acType:     4,
	},
	// Visa CVN 18: the common session key from the ATC, padding method 2,
	// the ten tags + the whole IAD (31 bytes, its own length byte 1F
	// first), ARPC method 2 (4-byte ARPC || CSU) under the session key.
	VisaCVN18: {
		sessionKey: atcSessionKey,
		padding:    pad2,
		arpc:       2,
		scripts:    visaScripts,
		iad:        "1F431203A0B800000000000000000000000000000000000000000000000000",
		acType:     4,
	},
	// Mastercard CVN 16 (M/Chip 4): the Mastercard session key, the common
	// derivation with R = ATC || 00 00 || UN; padding method 2; the ten
	// tags + the 6-byte CVR in IAD bytes [2:8] (IAD 01 10 CVR(A50000000000)
	// DAC counters); ARPC method 1 under the ICC master key, not the
	// session key: the vector's ARPCs verify only under the master key
	// (its session_key_ac is null), as pyemv's MasterCardCVN16 does.
	MastercardCVN16: {
		sessionKey: func(mk, atc, un []byte) ([]byte, error) {
			if len(atc) != 2 || len(un) != 4 {
				return nil, errors.New("the ATC or the unpredictable number is malformed")
			}
			return commonSessionKey(mk, append(append(append([]byte(nil), atc...), 0, 0), un...))
		},
		padding:    pad2,
		cvrFrom:    2,
		cvrTo:      8,
		arpc:       1,
		arpcMaster: true,
		scripts:    mastercardScripts,
		iad:        "0110A5000000000000000000000000000000",
		acType:     2,
	},
}

func atcSessionKey(mk, atc, _ []byte) ([]byte, error) {
	if len(atc) != 2 {
		return nil, errors.New("the ATC is not 2 bytes")
	}
	return commonSessionKey(mk, append(append([]byte(nil), atc...), 0, 0, 0, 0, 0, 0))
}

// known reports whether m is a method this package implements.
func (m Method) known() bool {
	_, ok := methods[m]
	return ok
}

// cryptogramTags are the tags every method's cryptogram covers, in order
// (EMV Book 2 8.1.1's minimum set).
var cryptogramTags = []struct {
	tag    string
	length int
}{
	{"9F02", 6}, {"9F03", 6}, {"9F1A", 2}, {"95", 5}, {"5F2A", 2},
	{"9A", 3}, {"9C", 1}, {"9F37", 4}, {"82", 2}, {"9F36", 2},
}

// cryptogramData is the data a cryptogram covers: the ten tags, then the
// method's part of the IAD. The error names the tag that is missing or the
// wrong length, never a value.
func (m method) cryptogramData(t Tags) ([]byte, error) {
	var data []byte
	for _, c := range cryptogramTags {
		v, ok := t.Value(c.tag)
		if !ok {
			return nil, fmt.Errorf("%s missing", c.tag)
		}
		if len(v) != c.length {
			return nil, fmt.Errorf("%s is %d bytes, want %d", c.tag, len(v), c.length)
		}
		data = append(data, v...)
	}
	iad, ok := t.Value("9F10")
	if !ok {
		return nil, errors.New("9F10 missing")
	}
	if m.cvrTo == 0 {
		return append(data, iad...), nil
	}
	if len(iad) < m.cvrTo {
		return nil, fmt.Errorf("9F10 is %d bytes, too short for the CVR", len(iad))
	}
	return append(data, iad[m.cvrFrom:m.cvrTo]...), nil
}

// cardIAD is the method's IAD for a new cryptogram.
func (m method) cardIAD() []byte {
	b, _ := hex.DecodeString(m.iad)
	return b
}
