package dialect

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/acqsim/acqsim/txn"
)

// The stages of the data path a message takes through a dialect, one
// benchmark each: frame read, decode, request, response, encode, frame write.
// Run with -benchmem: allocations per stage are what the host pays per
// exchange.

func saleVector(b testing.TB, name string) (*Dialect, []byte) {
	b.Helper()
	vf := loadVectors(b, name)
	d, err := Load(vf.Dialect)
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range vf.Vectors {
		if v.Name == "sale-request" {
			wire, _ := hex.DecodeString(v.Hex)
			return d, wire
		}
	}
	b.Fatal("no sale-request vector")
	return nil, nil
}

func BenchmarkReadFrame(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			d, wire := saleVector(b, name)
			f := d.Framer(Binary2, 0)
			stream := bytes.Repeat(wire, 1000)
			r := bufio.NewReader(bytes.NewReader(stream))
			var buf []byte
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%1000 == 0 {
					r.Reset(bytes.NewReader(stream))
				}
				frame, err := f.ReadFrame(r, buf)
				if err != nil {
					b.Fatal(err)
				}
				buf = frame
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			d, wire := saleVector(b, name)
			body := wire[2+d.PreambleOf(wire[2:]):]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRequest(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			d, wire := saleVector(b, name)
			m, err := d.Decode(wire[2+d.PreambleOf(wire[2:]):])
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Request(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode builds and packs the approval of a sale.
func BenchmarkEncode(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			d, wire := saleVector(b, name)
			m, err := d.Decode(wire[2+d.PreambleOf(wire[2:]):])
			if err != nil {
				b.Fatal(err)
			}
			r, err := d.Request(m)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Date(2026, 6, 11, 10, 15, 0, 0, time.UTC)
			dec := txn.Decision{RC: txn.Approved, RRN: "000000000001", AuthCode: "123456", Settlement: now.AddDate(0, 0, 1)}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := d.Response(m, r, &dec, now)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := resp.Pack(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteFrame(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			d, wire := saleVector(b, name)
			f := d.Framer(Binary2, 0)
			preamble, body := wire[2:2+d.PreambleOf(wire[2:])], wire[2+d.PreambleOf(wire[2:]):]
			out := make([]byte, 0, 512)
			var pre [16]byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				out, err = f.AppendFrame(out[:0], d.ReplyPreamble(pre[:0], preamble, 0), body)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
