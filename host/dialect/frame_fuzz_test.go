package dialect

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/acqsim/acqsim/txn"
)

// goldenFrames returns every golden vector as a frame body (what follows the
// length header) with the index of its dialect in Names.
func goldenFrames(f *testing.F) (bodies [][]byte, dialects []int) {
	f.Helper()
	for i, name := range Names() {
		for _, v := range loadVectors(f, name).Vectors {
			wire, err := hex.DecodeString(v.Hex)
			if err != nil {
				f.Fatal(err)
			}
			bodies = append(bodies, wire[2:])
			dialects = append(dialects, i)
		}
	}
	return bodies, dialects
}

// FuzzReadFrame: whatever arrives, ReadFrame does not panic and returns no
// frame above the limit or too short for its preamble, and what it returns
// frames back to the same bytes.
func FuzzReadFrame(f *testing.F) {
	bodies, dialects := goldenFrames(f)
	for i, body := range bodies {
		for h, lh := range LengthHeaders {
			wire, err := Framer{Header: lh}.AppendFrame(nil, nil, body)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(wire, uint8(h), dialects[i] == 1, uint16(0))
			// two frames back to back, and one cut short
			f.Add(append(wire, wire...), uint8(h), dialects[i] == 1, uint16(len(body)))
			f.Add(wire[:len(wire)-1], uint8(h), dialects[i] == 1, uint16(len(body)-1))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, header uint8, cup bool, maxFrame uint16) {
		fr := Framer{Header: LengthHeaders[int(header)%len(LengthHeaders)], MaxFrame: int(maxFrame)}
		if cup {
			fr.Preamble = 11
		}
		limit := fr.MaxFrame
		if limit <= 0 {
			limit = DefaultMaxFrame
		}
		r := bufio.NewReader(bytes.NewReader(data))
		var buf []byte
		for {
			frame, err := fr.ReadFrame(r, buf)
			if err != nil {
				return
			}
			if len(frame) > limit {
				t.Fatalf("%d-byte frame, limit %d", len(frame), limit)
			}
			if len(frame) < fr.Preamble {
				t.Fatalf("%d-byte frame cannot hold the %d-byte preamble", len(frame), fr.Preamble)
			}
			wire, err := fr.AppendFrame(nil, frame[:fr.Preamble], frame[fr.Preamble:])
			if err != nil {
				t.Fatalf("reframing a frame that was read: %v", err)
			}
			again, err := fr.ReadFrame(bufio.NewReader(bytes.NewReader(wire)), nil)
			if err != nil || !bytes.Equal(again, frame) {
				t.Fatalf("reframed %X reads back as %X, %v", frame, again, err)
			}
			buf = frame
		}
	})
}

// FuzzDecode: whatever message arrives, decoding it and, as the host does for
// anything with an MTI, reading the request and building the answer, does not
// panic.
func FuzzDecode(f *testing.F) {
	var ds []*Dialect
	for _, name := range Names() {
		d, err := Load(name)
		if err != nil {
			f.Fatal(err)
		}
		ds = append(ds, d)
	}
	bodies, dialects := goldenFrames(f)
	for i, body := range bodies {
		f.Add(body[ds[dialects[i]].PreambleOf(body):], uint8(dialects[i]))
	}
	now := time.Date(2026, 6, 11, 10, 15, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		d := ds[int(which)%len(ds)]
		m, err := d.Decode(body)
		if errors.Is(err, ErrNoMTI) {
			if m != nil {
				t.Fatal("ErrNoMTI with a message")
			}
			return
		}
		var fe *FieldError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("Decode returned %T %v, want ErrNoMTI or a *FieldError", err, err)
		}
		if m == nil {
			t.Fatalf("no message with %v", err)
		}
		r, rerr := d.Request(m)
		if r == nil {
			t.Fatalf("Request returned no request, error %v", rerr)
		}
		if !isMTI(r.MTI) {
			t.Fatalf("request with MTI %q", r.MTI)
		}
		dec := txn.Decision{RC: txn.Approved, RRN: "000000000001", AuthCode: "123456", Batch: "000002"}
		if err != nil || rerr != nil {
			dec = txn.Decision{RC: txn.FormatError}
		}
		resp, err := d.Response(m, r, &dec, now)
		if err == nil {
			resp.Pack() // may fail, must not panic
		}
	})
}
