package dialect

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acqsim/acqsim/txn"
)

// freshResponse is how a response was first built: a new message, the
// echoed request fields copied in. Response builds it in place instead, in
// the request message; both must put the same bytes on the wire.
func freshResponse(d *Dialect, req *iso8583.Message, r *txn.Request, dec *txn.Decision, now time.Time) ([]byte, error) {
	resp := iso8583.NewMessage(d.Spec)
	resp.MTI(ResponseMTI(r.MTI))
	for id := 2; id <= 128; id++ {
		if v := get(req, id); v != "" && d.carriesBack(id, r) {
			if err := resp.Field(id, v); err != nil {
				return nil, err
			}
		}
	}
	set := func(id int, v string) {
		if v != "" {
			_ = resp.Field(id, v)
		}
	}
	set(12, now.Format("150405"))
	set(13, now.Format("0102"))
	if !dec.Settlement.IsZero() {
		set(15, dec.Settlement.Format("0102"))
	}
	set(37, dec.RRN)
	if dec.RC == txn.Approved {
		set(38, dec.AuthCode)
	}
	set(39, dec.RC)
	if err := d.wire.write(resp, r, dec); err != nil {
		return nil, err
	}
	return resp.Pack()
}

// Every request vector, answered with every kind of decision: the response
// built in place has exactly the bytes of one built from scratch, so no
// request field the response must not carry (track 2, PIN block, the MAC,
// the terminal's own RRN) is left behind.
func TestResponseInPlace(t *testing.T) {
	now := time.Date(2026, 6, 11, 10, 15, 0, 0, time.UTC)
	decisions := map[string]txn.Decision{
		"approved":       {RC: txn.Approved, RRN: "000000000042", AuthCode: "654321", Settlement: now.AddDate(0, 0, 1)},
		"declined":       {RC: "51", RRN: "000000000043"},
		"no rrn":         {RC: txn.FormatError},
		"batch":          {RC: txn.Approved, Batch: "000777"},
		"keys, balance":  {RC: txn.Approved, Keys: bytes.Repeat([]byte{0xAB}, 24), Balance: 123456},
		"out of balance": {RC: txn.OutOfBalance, Domestic: txn.NotBalanced, Foreign: txn.Balanced},
	}
	for _, name := range Names() {
		vf := loadVectors(t, name)
		d, err := Load(vf.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		framer := d.Framer(Binary2, 0)
		for _, v := range vf.Vectors {
			if v.Direction != "request" {
				continue
			}
			wire, _ := hex.DecodeString(v.Hex)
			frame, err := framer.ReadFrame(bufio.NewReader(bytes.NewReader(wire)), nil)
			if err != nil {
				t.Fatal(err)
			}
			body := frame[d.PreambleOf(frame):]
			for what, dec := range decisions {
				decode := func() (*iso8583.Message, *txn.Request) {
					m, err := d.Decode(body)
					if err != nil {
						t.Fatal(err)
					}
					r, err := d.Request(m)
					if err != nil {
						t.Fatal(err)
					}
					return m, r
				}
				m, r := decode()
				want, err := freshResponse(d, m, r, &dec, now)
				if err != nil {
					t.Fatalf("%s/%s, %s: from scratch: %v", name, v.Name, what, err)
				}
				m, r = decode()
				resp, err := d.Response(m, r, &dec, now)
				if err != nil {
					t.Fatalf("%s/%s, %s: %v", name, v.Name, what, err)
				}
				got, err := resp.Pack()
				if err != nil {
					t.Fatalf("%s/%s, %s: packing: %v", name, v.Name, what, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s/%s, %s: in place\n%X\nfrom scratch\n%X", name, v.Name, what, got, want)
				}
			}
		}
	}
}
